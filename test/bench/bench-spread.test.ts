// plif bench as a user runs it (the built CLI in a child process): enough steps by default, the spread of
// per-step times (min, median, max) for every row (backends, TensorFlow.js, the PyTorch peer), a note when
// a row timed few steps, and a --profile table whose total says what it measures beside the unprofiled step.
// Timings here are noisy: the tests check the structure of the report, not speeds.
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { peerInstalled } from '../../cli/commands/bench.js';
import { ensureBuilt, plif } from '../reliability/helpers.js';

const net = ['--structure', 'c4k3s1-BN-PLIF-MPk2s2-DP-FC100-PLIF-APk10s10', '--T', '2', '--batch', '4', '--threads', '1'];
const torchPython = [process.env.PLIF_PYTHON, '/usr/bin/python3', 'python3'].find((p) => p && spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
const hasTfjs = peerInstalled('@tensorflow/tfjs');

interface Spread {
  min: number;
  median: number;
  max: number;
}
interface Row {
  backend: string;
  steps: number;
  ms_per_step: number;
  step_ms: Spread;
  profile?: { ms_per_step: number; steps: number; unprofiled: { ms_per_step: number; steps: number } };
}

function ordered(s: Spread, mean?: number) {
  expect(s.min).toBeGreaterThan(0);
  expect(s.min).toBeLessThanOrEqual(s.median);
  expect(s.median).toBeLessThanOrEqual(s.max);
  if (mean !== undefined) {
    // the mean of the steps lies within their range (a little slack: the mean is of the whole loop's time)
    expect(mean).toBeGreaterThanOrEqual(s.min * 0.99);
    expect(mean).toBeLessThanOrEqual(s.max * 1.01 + 0.05);
  }
}

/** The spread lines of the human output, as numbers, in order. */
function spreadLines(out: string): (Spread & { steps: number })[] {
  return [...out.matchAll(/^ {18}per step: min ([\d.]+), median ([\d.]+), max ([\d.]+) ms over (\d+) steps?$/gm)].map((m) => ({ min: Number(m[1]), median: Number(m[2]), max: Number(m[3]), steps: Number(m[4]) }));
}

async function bench(args: string[], env: Record<string, string> = {}) {
  const r = await plif(['bench', ...net, ...args], { env }).exited;
  expect(r.code, r.err).toBe(0);
  return r;
}

beforeAll(() => ensureBuilt(), 120_000);

describe('plif bench: steps and their spread', () => {
  it('by default times at least 10 steps and 5 s of them, and reports min, median and max', async () => {
    // batch 32: steps slow enough that 5 s come before the cap of 1000 steps
    const r = await plif(['bench', ...net.map((a, i) => (net[i - 1] === '--batch' ? '32' : a)), '--no-tfjs', '--json']).exited;
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as Row & { backends: Row[]; note?: string };
    const row = j.backends[0]!;
    expect(row.steps).toBeGreaterThanOrEqual(10);
    // 5 s of timed steps, unless the cap of 1000 steps came first
    if (row.steps < 1000) expect(row.steps * row.ms_per_step).toBeGreaterThanOrEqual(4990);
    ordered(row.step_ms, row.ms_per_step);
    expect(j.step_ms).toEqual(row.step_ms);
    expect(j.steps).toBe(row.steps);
    expect(j.note).toBeUndefined();
    expect(r.err).toBe('');
  }, 60_000);

  it('--steps N times exactly N, prints each row\'s spread, and notes that few steps are rough', async () => {
    const r = await bench(['--steps', '3', '--backend', 'cpu,cpu:ts', '--no-tfjs']);
    const lines = spreadLines(r.out);
    expect(lines, r.out).toHaveLength(2);
    for (const l of lines) {
      expect(l.steps).toBe(3);
      ordered(l);
    }
    // each spread line sits right under its row
    const out = r.out.split('\n');
    for (const name of ['cpu', 'cpu:ts']) {
      const i = out.findIndex((l) => l.startsWith(`${name.padEnd(16)}: `));
      expect(out[i], r.out).toMatch(/samples\/s \([\d.]+ ms\/step mean, /);
      expect(out[i + 1]).toMatch(/^ {18}per step: min /);
    }
    expect(r.out).toMatch(/^ratio cpu:ts \/ cpu: [\d.]+x wall-clock, [\d.]+x of the median steps$/m);
    expect(r.err).toMatch(/^note: few steps timed \(cpu 3 steps, cpu:ts 3 steps\): those figures and the ratios are rough/m);

    const j = JSON.parse((await bench(['--steps', '3', '--no-tfjs', '--json'])).out) as Row & { backends: Row[]; note: string };
    expect(j.backends[0]!.steps).toBe(3);
    ordered(j.backends[0]!.step_ms, j.backends[0]!.ms_per_step);
    expect(j.note).toMatch(/few steps timed \(cpu 3 steps\)/);
  }, 60_000);

  it('--min-seconds goes on past --steps', async () => {
    const j = JSON.parse((await bench(['--steps', '2', '--min-seconds', '1', '--no-tfjs', '--json'])).out) as { backends: Row[] };
    const row = j.backends[0]!;
    if (row.steps < 1000) expect(row.steps * row.ms_per_step).toBeGreaterThanOrEqual(990);
    expect(row.steps).toBeGreaterThan(2);
    ordered(row.step_ms, row.ms_per_step);
  }, 60_000);

  it('--profile: the total row says it is the profiled step, beside the unprofiled median of the timed steps', async () => {
    const r = await bench(['--steps', '4', '--no-tfjs', '--profile']);
    const [spread] = spreadLines(r.out);
    expect(r.out).toMatch(/^profile of cpu \(4 steps after 1 warm-up, every op timed\):$/m);
    const total = /^total +profiled +\(mean of 4 steps, every op timed\) +([\d.]+) +100\.0$/m.exec(r.out);
    const step = /^step +timed +\(median of 4, not profiled\) +([\d.]+) +([\d.]+)$/m.exec(r.out);
    expect(total, r.out).not.toBeNull();
    expect(step, r.out).not.toBeNull();
    // the unprofiled row is the median the spread line gives
    expect(Math.abs(Number(step![1]) - spread!.median)).toBeLessThanOrEqual(0.06);
    // its % is of the unrounded times: from the printed ones it agrees within what their rounding allows
    // (half the last printed digit of each), and at most 3 %
    const half = (text: string) => 0.5 * 10 ** -(text.split('.')[1]?.length ?? 0);
    const [s, t, hs, ht] = [Number(step![1]), Number(total![1]), half(step![1]!), half(total![1]!)];
    const roundingBound = 100 * (hs / (t - ht) + (s * ht) / (t * (t - ht))) + 0.05;
    expect(roundingBound).toBeLessThan(3);
    expect(Math.abs((100 * s) / t - Number(step![2]))).toBeLessThanOrEqual(roundingBound + 1e-9);
    expect(r.out).toMatch(/^the profiled total is \d+% (above|below) the unprofiled median: timing every op costs time of its own/m);

    const j = JSON.parse((await bench(['--steps', '4', '--no-tfjs', '--profile', '--json'])).out) as { backends: Row[] };
    const row = j.backends[0]!;
    expect(row.profile!.unprofiled).toEqual({ ms_per_step: row.step_ms.median, steps: 4 });
    expect(row.profile!.steps).toBe(4);
  }, 90_000);

  it.skipIf(!hasTfjs)('the TensorFlow.js row reports its spread too', async () => {
    const r = await bench(['--steps', '2', '--tfjs-steps', '2']);
    const out = r.out.split('\n');
    const i = out.findIndex((l) => l.startsWith('tfjs (cpu)      : '));
    expect(i, r.out).toBeGreaterThan(0);
    const [cpu, tf] = spreadLines(r.out);
    expect(out[i + 1]).toMatch(/^ {18}per step: min /);
    expect(tf!.steps).toBe(2);
    ordered(cpu!);
    ordered(tf!);
  }, 120_000);

  it.skipIf(!torchPython)('the PyTorch peer reports its spread, and the ratio of the medians beside the ratio of the means', async () => {
    const env = { PLIF_PYTHON: torchPython! };
    const j = JSON.parse((await bench(['--steps', '3', '--no-tfjs', '--peer', 'torch', '--json'], env)).out) as Row & {
      torch: { steps: number; step_ms: Spread; ms_per_step: number; samples_per_s: number };
      ratio_vs_torch: number;
      ratio_vs_torch_median: number;
      samples_per_s: number;
      note: string;
    };
    expect(j.torch.steps).toBe(3);
    ordered(j.torch.step_ms, j.torch.ms_per_step);
    expect(j.ratio_vs_torch).toBeCloseTo(j.samples_per_s / j.torch.samples_per_s, 10);
    expect(j.ratio_vs_torch_median).toBeCloseTo(j.torch.step_ms.median / j.step_ms.median, 10);
    expect(j.note).toMatch(/cpu 3 steps, torch 3 steps/);

    const r = await bench(['--steps', '3', '--no-tfjs', '--peer', 'torch'], env);
    const out = r.out.split('\n');
    const i = out.findIndex((l) => /^torch \S+ +: [\d.]+ samples\/s/.test(l));
    expect(i, r.out).toBeGreaterThan(0);
    expect(out[i + 1]).toMatch(/^ {18}per step: min [\d.]+, median [\d.]+, max [\d.]+ ms over 3 steps$/);
    expect(r.out).toMatch(/^ratio cpu \/ torch: [\d.]+x wall-clock, [\d.]+x of the median steps, [\d.]+x CPU time$/m);
  }, 120_000);
});
