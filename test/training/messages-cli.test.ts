// The messages of plif train, eval and serve as a user meets them (the built CLI in a child process, on a
// pseudo-terminal where a terminal matters): Ctrl-C's message on a line of its own beside the progress bar,
// eval's labelled progress with an ETA, epochs named one way, a warning when the output layer is silent,
// --val's true default, and plif serve without data saying it is running.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { trainConfig } from '../../training/config.js';
import { hasScript, plifOnTerminal, renderTerminal } from '../cli-child.js';
import { ensureBuilt, plif, ROOT } from '../reliability/helpers.js';
import { writeTinyFashionMnist } from './fixtures.js';

const tiny = ['--preset', 'fmnist-small', '--channels', '4', '--T', '2'];
let dataDir: string;
const tmp = (name: string) => join(mkdtempSync(join(tmpdir(), 'plif-msg-')), name);

beforeAll(() => {
  ensureBuilt();
  dataDir = writeTinyFashionMnist(1200, 40);
}, 120_000);

describe('plif train: Ctrl-C beside the progress bar', () => {
  it.skipIf(!hasScript)('ends the bar\'s line before its message, so neither overwrites the other', async () => {
    const out = tmp('run');
    const c = plifOnTerminal(['train', ...tiny, '--data-dir', dataDir, '--batch', '2', '--limit-test', '8', '--out', out]);
    await c.waitFor(/batches \| [\d.]+ samples\/s/, 90_000);
    c.proc.stdin!.write('\x03'); // Ctrl-C typed at the terminal
    const r = await c.exited;
    expect(r.code, r.out).toBe(130);
    const screen = renderTerminal(r.out);
    const shown = screen.join('\n');
    // each message whole, on its own line
    expect(screen, shown).toContain('interrupt: writing a checkpoint after this batch (Ctrl-C again to quit at once)');
    const ckpt = screen.find((l) => l.startsWith('checkpoint (interrupt): '));
    expect(ckpt, shown).toBe(`checkpoint (interrupt): ${join(out, 'last.safetensors')}`);
    expect(screen, shown).toContain(`interrupted: checkpoint written to ${join(out, 'last.safetensors')}; continue with plif train --resume ${out}`);
    // the bar's last state stays on its own line above them, naming the epoch one way
    const bar = screen.findIndex((l) => /^epoch 0 \(the 1st of 1\) \|.*\| \d+\/600 batches/.test(l));
    expect(bar, shown).toBeGreaterThanOrEqual(0);
    expect(bar).toBeLessThan(screen.indexOf('interrupt: writing a checkpoint after this batch (Ctrl-C again to quit at once)'));
  }, 120_000);
});

describe('plif eval on a terminal', () => {
  it.skipIf(!hasScript)('labels its progress with what it evaluates and an ETA, and erases it at the end', async () => {
    const run = tmp('run');
    const t = await plif(['train', ...tiny, '--data-dir', dataDir, '--limit-train', '32', '--limit-test', '8', '--batch', '8', '--out', run]).exited;
    expect(t.code, t.err).toBe(0);
    const r = await plifOnTerminal(['eval', '--checkpoint', join(run, 'last.safetensors'), '--data-dir', dataDir, '--eval-batch', '8']).exited;
    expect(r.code, r.out).toBe(0);
    // the progress as it was drawn: label, samples done of all, rate and ETA
    expect(r.out).toMatch(/evaluating on fashion-mnist test: 0\/40 samples \(0%\) \| - samples\/s \| ETA \?/);
    expect(r.out).toMatch(/evaluating on fashion-mnist test: 16\/40 samples \(40%\) \| [\d.]+ samples\/s \| ETA \d+s/);
    expect(r.out).toMatch(/evaluating on fashion-mnist test: 40\/40 samples \(100%\) \| [\d.]+ samples\/s \| ETA 0s/);
    expect(r.out).not.toMatch(/(^|\r)\d+\/40(\r|$)/); // no bare counter
    // what stays on the screen: the report, without the progress line
    const screen = renderTerminal(r.out);
    expect(screen.some((l) => l.includes('evaluating on')), screen.join('\n')).toBe(false);
    expect(screen[0]).toMatch(/on fashion-mnist test \(40 samples\): accuracy [\d.]+% \(\d+\/40\)$/);
  }, 120_000);

  it('writes no progress when stderr is not a terminal', async () => {
    const run = tmp('run');
    expect((await plif(['train', ...tiny, '--data-dir', dataDir, '--limit-train', '16', '--limit-test', '8', '--batch', '8', '--out', run]).exited).code).toBe(0);
    const r = await plif(['eval', '--checkpoint', join(run, 'last.safetensors'), '--data-dir', dataDir, '--eval-batch', '8']).exited;
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
  }, 120_000);
});

describe('plif train: epochs named one way', () => {
  it('numbers epochs from 0 everywhere, as the files do, and gives each its place in the run', async () => {
    const run = tmp('run');
    const r = await plif(['train', ...tiny, '--data-dir', dataDir, '--limit-train', '16', '--limit-test', '8', '--batch', '8', '--epochs', '2', '--out', run]).exited;
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/; 2 epochs, numbered from 0 as in metrics\.jsonl\n/);
    expect(r.out).toContain('epoch 0 (the 1st of 2): 2 batches');
    expect(r.out).toContain('epoch 1 (the 2nd of 2): 2 batches');
    expect(r.out).toMatch(/^epoch 0 \| lr /m);
    expect(r.out).toMatch(/^epoch 1 \| lr /m);
    expect(r.out).toMatch(/^done: .* \(test accuracy [\d.]+% after epoch 1 \(the 2nd of 2\)\)$/m);
    // no 1-based epoch number anywhere: "epoch 2" would be a third epoch
    expect(r.out + r.err).not.toMatch(/epoch 2\b/);
    const epochs = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { epoch: number }).epoch);
    expect(epochs).toEqual([0, 1]);
  }, 120_000);
});

describe('plif train: a silent output layer', () => {
  // --vth 1e6: no neuron reaches the threshold, the output never fires, every test sample is tied
  const silent = [...tiny, '--vth', '1000000', '--limit-train', '16', '--limit-test', '16', '--batch', '8'];

  it('warns that the accuracy is chance level, after the test pass', async () => {
    const r = await plif(['train', ...silent, '--data-dir', dataDir, '--out', tmp('run')]).exited;
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^warning: the output layer \(layer \d+\) did not fire on the test pass \(firing rate 0\), so 16 of 16 test samples are tied: .* chance level/m);
    expect(r.err).toMatch(/The network is silent/);
  }, 120_000);

  it('with --json: a field on the epoch\'s JSON line and the warning on stderr; stdout stays JSON', async () => {
    const r = await plif(['train', ...silent, '--data-dir', dataDir, '--epochs', '2', '--out', tmp('run'), '--json']).exited;
    expect(r.code, r.err).toBe(0);
    const lines = r.out.trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; silent_output?: boolean; warning?: string; test_ties: number });
    expect(lines.map((l) => l.epoch)).toEqual([0, 1]);
    for (const l of lines) {
      expect(l.silent_output).toBe(true);
      expect(l.test_ties).toBe(16);
      expect(l.warning).toMatch(/did not fire/);
    }
    expect(r.err.match(/^warning: the output layer/gm)).toHaveLength(2);
  }, 120_000);

  it('says nothing when the output layer fires', async () => {
    const r = await plif(['train', ...tiny, '--data-dir', dataDir, '--limit-train', '256', '--limit-test', '16', '--batch', '8', '--lr', '0.01', '--out', tmp('run'), '--json']).exited;
    expect(r.code, r.err).toBe(0);
    const m = JSON.parse(r.out.trim()) as { firing_rate: { rate: number }[]; test_ties: number; silent_output?: boolean };
    expect(m.firing_rate.at(-1)!.rate).toBeGreaterThan(0);
    expect(m.test_ties).toBeLessThan(16 * 0.9);
    expect(m.silent_output).toBeUndefined();
    expect(r.err).not.toMatch(/warning/);
  }, 120_000);
});

describe('plif train --val', () => {
  it('--help and the README give the default the run really has', async () => {
    const real = trainConfig({ preset: 'fmnist-small' }).val;
    const help = await plif(['train', '--help']).exited;
    expect(help.code).toBe(0);
    const flag = /^ {2}--val F +(.*(?:\n {20,}.*)*)/m.exec(help.out);
    expect(flag, help.out).not.toBeNull();
    expect(flag![1]).toContain(`(default ${real}: none;`);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    expect(readme).toContain(`\`--val F\` (default ${real}: no validation set;`);
    expect(readme).not.toMatch(/`--val 0\.15` \(the validation protocol/); // once listed as if a default
  });
});

describe('plif serve without data', () => {
  it('says it is running and what gives it the files, on its console and to the page', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'plif-empty-'));
    const c = plif(['serve', '--port', '0', '--data-dir', empty]);
    try {
      await c.waitFor(/Ctrl-C stops\n/, 30_000);
      const [url, status] = c.out.split('\n');
      expect(status).toContain(`no dataset in --data-dir ${empty}: the page will ask for the four .gz files to be dropped onto it`);
      expect(c.out).not.toMatch(/start plif serve/);
      const res = await fetch(new URL('data/fashion-mnist/train-images-idx3-ubyte.gz', url));
      expect(res.status).toBe(404);
      const body = await res.text();
      expect(body).toMatch(/^plif serve is running, but --data-dir .* holds no fashion-mnist IDX files: drop the four \.gz files onto the page, or stop plif serve \(Ctrl-C\) and run it again with --data-dir DIR/);
      expect(body).not.toMatch(/start plif serve/);
    } finally {
      c.proc.kill('SIGINT');
      await c.exited;
    }
  }, 60_000);
});
