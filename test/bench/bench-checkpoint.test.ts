// plif bench --checkpoint as a user runs it: the built CLI in a child process, from a checkpoint that plif
// train (also a child process) wrote.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTinyFashionMnist } from '../training/fixtures.js';
import { ensureBuilt, plifRun } from '../reliability/helpers.js';

const hasTorch = spawnSync(process.env.PLIF_PYTHON ?? '/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

let data: string;
let checkpoint: string;
/** The checkpoint's network: fmnist-small with 4 channels and FC32, trained on 64 images. */
const structure = '{c4k3s1-BN-PLIF-MPk2s2}*2-DP0.2-FC32-PLIF-DP0.2-FC100-PLIF-APk10s10';
beforeAll(async () => {
  ensureBuilt();
  data = writeTinyFashionMnist(64, 16);
  const out = join(mkdtempSync(join(tmpdir(), 'plif-bench-ck-')), 'run');
  const r = await plifRun(['train', '--preset', 'fmnist-small', '--structure', structure, '--data-dir', data, '--limit-test', '16', '--out', out]);
  if (r.code !== 0) throw new Error(`the checkpoint's run failed:\n${r.out}${r.err}`);
  checkpoint = join(out, 'last.safetensors');
}, 120_000);

const bench = (...more: string[]) => plifRun(['bench', '--checkpoint', checkpoint, '--batch', '4', '--steps', '2', '--no-tfjs', ...more]);
const lastJson = (out: string) => JSON.parse(out.trim().split('\n').at(-1)!);

describe('plif bench --checkpoint', () => {
  it("times the checkpoint's network from its state and reports each spiking layer's firing rate", async () => {
    const r = await bench('--data', 'real', '--data-dir', data, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const j = lastJson(r.out);
    expect(j.structure).toBe(structure);
    expect(j.preset).toBe('fmnist-small');
    expect(j.checkpoint).toBe(checkpoint);
    expect(j.adam_step).toBe(4); // 64 images, batch 16: one epoch is 4 updates
    expect(j.steps).toBe(2);
    expect(j.firing_rates.map((f: { layer: string }) => f.layer)).toEqual(['2 PLIF', '6 PLIF', '10 PLIF', '13 PLIF']);
    for (const f of j.firing_rates) expect(f.rate >= 0 && f.rate <= 1, `${f.layer}: ${f.rate}`).toBe(true);
    expect(j.firing_rates.some((f: { rate: number }) => f.rate > 0)).toBe(true);
    expect(j.backends[0].firing_rates).toEqual(j.firing_rates);
  });

  it('starts from the trained weights: the firing rates differ from a fresh network of the same structure', async () => {
    const fromCk = lastJson((await bench('--data', 'real', '--data-dir', data, '--json')).out);
    const fresh = await plifRun(['bench', '--preset', 'fmnist-small', '--structure', structure, '--data', 'real', '--data-dir', data, '--batch', '4', '--steps', '2', '--no-tfjs', '--json']);
    expect(fresh.code).toBe(0);
    const init = lastJson(fresh.out);
    expect(init.structure).toBe(structure);
    // the same batch and the same seed for dropout: only the weights, BN statistics and Adam state differ
    expect(fromCk.firing_rates.map((f: { rate: number }) => f.rate)).not.toEqual(init.firing_rates.map((f: { rate: number }) => f.rate));
  });

  it('prints where it started and the firing rates', async () => {
    const r = await bench();
    expect(r.code).toBe(0);
    expect(r.out).toContain(`from checkpoint ${checkpoint} (after 4 Adam updates)`);
    expect(r.out).toMatch(/firing rates: 2 PLIF \d\.\d{3}, 6 PLIF \d\.\d{3}, 10 PLIF \d\.\d{3}, 13 PLIF \d\.\d{3}/);
  });

  it('leaves out the TensorFlow.js row, which cannot start from a checkpoint', async () => {
    const r = await plifRun(['bench', '--checkpoint', checkpoint, '--batch', '4', '--steps', '1', '--json']);
    expect(r.code).toBe(0);
    expect(lastJson(r.out).tfjs).toEqual({ skipped: 'not with --checkpoint' });
  });

  it('refuses flags that the checkpoint fixes, and names a file that is not a checkpoint', async () => {
    const r = await bench('--channels', '8', '--T', '2');
    expect(r.code).toBe(2);
    expect(r.err).toContain(`--checkpoint ${checkpoint} fixes the network: drop --channels, --T`);
    const bad = join(mkdtempSync(join(tmpdir(), 'plif-bench-ck-')), 'not-a-checkpoint.safetensors');
    writeFileSync(bad, 'hello');
    const b = await plifRun(['bench', '--checkpoint', bad, '--steps', '1', '--no-tfjs']);
    expect(b.code).toBe(1);
    expect(b.err).toContain(bad);
    const missing = await plifRun(['bench', '--checkpoint', join(data, 'nope.safetensors'), '--steps', '1', '--no-tfjs']);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('nope.safetensors: no such file');
  });

  it.skipIf(!hasTorch)('--peer torch starts from the same state: its firing rates match ours on the same batch', async () => {
    const r = await bench('--data', 'real', '--data-dir', data, '--peer', 'torch', '--json');
    expect(r.code).toBe(0);
    const j = lastJson(r.out);
    expect(j.torch.firing_rates).toHaveLength(4);
    // the peer reports the mean over its timed steps, ours one step after; dropout masks differ
    j.torch.firing_rates.forEach((rate: number, i: number) => expect(Math.abs(rate - j.firing_rates[i].rate), j.firing_rates[i].layer).toBeLessThan(0.1));
  });
});
