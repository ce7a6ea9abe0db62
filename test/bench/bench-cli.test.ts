// plif bench --profile, --threads and --peer torch through the command itself.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { capture } from '../capture.js';
import { run as bench } from '../../cli/commands/bench.js';


const tiny = ['--structure', 'c4k3s1-BN-PLIF-MPk2s2-c4k3s1-BN-PLIF-MPk2s2-DP-FC40-PLIF-DP-FC100-PLIF-APk10s10', '--T', '2', '--batch', '4', '--steps', '2', '--no-tfjs'];
const hasTorch = spawnSync(process.env.PLIF_PYTHON ?? '/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;

describe('plif bench --profile', () => {
  it('charges every op to a layer and phase, splits conv and linear gradients, and reports firing rates', async () => {
    const r = await capture(() => bench([...tiny, '--threads', '2', '--profile', '--json']));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(j.backends[0].info).toMatchObject({ name: 'cpu', threads: 2 });
    const p = j.backends[0].profile;
    const ops = p.rows.map((x: { layer: string; phase: string; op: string }) => `${x.layer}|${x.phase}|${x.op}`);
    for (const want of ['0 c4k3s1|forward|conv2d', '3 MPk2s2|forward|maxPool2d', '4 c4k3s1|backward|conv2dBackward: input grad', '4 c4k3s1|backward|conv2dBackward: weight grad', '9 FC40|backward|linearBackward: input grad', '9 FC40|backward|linearBackward: weight grad', '2 PLIF|backward|neuronBackward', 'optimizer|update|adam', 'loss||mseLossGrad', 'network||countBad']) {
      expect(ops).toContain(want);
    }
    // the encoder conv needs no input gradient
    expect(ops).not.toContain('0 c4k3s1|backward|conv2dBackward: input grad');
    const total = p.rows.reduce((s: number, x: { ms_per_step: number }) => s + x.ms_per_step, 0);
    expect(total).toBeCloseTo(p.ms_per_step, 6);
    const pct = p.by_kind.reduce((s: number, x: { percent: number }) => s + x.percent, 0);
    expect(pct).toBeCloseTo(100, 6);
    expect(p.firing_rates.map((f: { layer: string }) => f.layer)).toEqual(['2 PLIF', '6 PLIF', '10 PLIF', '13 PLIF']);
    for (const f of p.firing_rates) expect(f.rate >= 0 && f.rate <= 1, `${f.layer}: a rate is a fraction of spikes, got ${f.rate}`).toBe(true);
    expect(p.firing_rates.some((f: { rate: number }) => f.rate > 0)).toBe(true);
  });

  it('prints the profile table and refuses a bad --peer or --threads', async () => {
    const r = await capture(() => bench([...tiny, '--threads', '1', '--profile']));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/profile of cpu/);
    expect(r.out).toMatch(/by kind:/);
    expect(r.out).toMatch(/firing rates: 2 PLIF \d\.\d{3}/);
    expect((await capture(() => bench([...tiny, '--peer', 'jax']))).err).toContain('--peer must be torch');
    expect((await capture(() => bench([...tiny, '--threads', '0']))).err).toContain('--threads must be an integer >= 1');
  });

  it.skipIf(!hasTorch)('--peer torch runs the PyTorch step on the same shape and prints the ratio', async () => {
    const r = await capture(() => bench([...tiny, '--threads', '1', '--peer', 'torch', '--json']));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out.trim().split('\n').at(-1)!);
    expect(j.torch.samples_per_s).toBeGreaterThan(0);
    expect(j.torch.threads).toBe(1);
    expect(j.torch.firing_rates).toHaveLength(4);
    expect(j.ratio_vs_torch).toBeCloseTo(j.samples_per_s / j.torch.samples_per_s, 10);
  });

  it.skipIf(!hasTorch)('--peer torch --profile prints the peer\'s top ops from torch.profiler', async () => {
    const r = await capture(() => bench([...tiny, '--threads', '1', '--peer', 'torch', '--profile']));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/profile of torch \(torch.profiler, top \d+ ops by self CPU time\)/);
    // the convolutions and the hand-written neuron backward are among the ops timed
    expect(r.out).toMatch(/aten::mkldnn_convolution|aten::convolution/);
    expect(r.out).toMatch(/NeuronBPTTBackward/);
    const j = JSON.parse((await capture(() => bench([...tiny, '--threads', '1', '--peer', 'torch', '--profile', '--json']))).out.trim().split('\n').at(-1)!);
    const p = j.torch.profile;
    expect(p.steps).toBe(2);
    expect(p.ops.length).toBeGreaterThan(3);
    for (const o of p.ops) expect(o.self_ms_per_step).toBeGreaterThan(0);
    const pct = p.ops.reduce((s: number, o: { percent: number }) => s + o.percent, 0);
    expect(pct).toBeGreaterThan(0);
    expect(pct).toBeLessThanOrEqual(100 + 1e-9);
  });
});
