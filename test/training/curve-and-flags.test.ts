// The training curve (train-curve.jsonl), the neuron flags of plif train, the data directory in the start
// line, and plif --version.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { main } from '../../cli/dispatch.js';
import { trainConfig } from '../../training/config.js';
import { recordsAfter, type EpochMetrics, type TrainRecord } from '../../training/engine.js';
import { runTraining } from '../../training/loop.js';
import { runPaths } from '../../training/rundir.js';
import { capture } from '../capture.js';
import { writeTinyFashionMnist } from './fixtures.js';

let dataDir: string;
beforeAll(() => {
  dataDir = writeTinyFashionMnist(64, 20);
});
const tmp = () => mkdtempSync(join(tmpdir(), 'plif-curve-'));
const lines = <T>(path: string): T[] => readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

describe('the training curve', () => {
  it('records at every tenth of an epoch and at its end', () => {
    const at = (batches: number) => Array.from({ length: batches }, (_, i) => i + 1).filter((b) => recordsAfter(b, batches));
    expect(at(100)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    expect(at(4)).toEqual([1, 2, 3, 4]);
    expect(at(3750)).toHaveLength(10);
    expect(at(3750).at(-1)).toBe(3750);
  });

  it('holds the running loss, accuracy and tau; a run interrupted mid-epoch and resumed writes the same curve', async () => {
    // 64 samples, batch 16: 4 batches per epoch, a point after each
    const config = trainConfig({ preset: 'fmnist-small', channels: 4, T: 2, batch: 16, epochs: 2, limitTest: 20, evalBatch: 20, dataDir, seed: 5 });
    const a = tmp();
    const full = await runTraining({ config, backend: cpuBackend(), backendInfo: {}, outDir: a, resume: false, version: 'test' });
    expect(full.status).toBe('done');
    const curve = lines<TrainRecord>(runPaths(a).trainCurve);
    expect(curve.map((r) => [r.epoch, r.batch, r.batches, r.samples])).toEqual([
      [0, 1, 4, 16], [0, 2, 4, 32], [0, 3, 4, 48], [0, 4, 4, 64],
      [1, 1, 4, 16], [1, 2, 4, 32], [1, 3, 4, 48], [1, 4, 4, 64],
    ]);
    const metrics = lines<EpochMetrics>(runPaths(a).metrics);
    // the last point of an epoch is the epoch's training loss and accuracy, and its tau
    for (const e of [0, 1]) {
      const last = curve.filter((r) => r.epoch === e).at(-1)!;
      expect(last.train_loss).toBe(metrics[e]!.train_loss);
      expect(last.train_acc).toBe(metrics[e]!.train_acc);
      expect(last.tau).toEqual(metrics[e]!.tau);
    }
    expect(curve[0]!.tau).toHaveLength(4);
    expect(curve[0]!.tau[0]!.tau).not.toBe(curve[3]!.tau[0]!.tau); // tau learns within the epoch

    const b = tmp();
    // Ctrl-C once batch 2 of epoch 1 is done
    const stopAt6 = () => existsSync(runPaths(b).trainCurve) && lines(runPaths(b).trainCurve).length === 6;
    const first = await runTraining({ config, backend: cpuBackend(), backendInfo: {}, outDir: b, resume: false, version: 'test', shouldStop: stopAt6 });
    expect(first.status).toBe('interrupted');
    expect(lines<TrainRecord>(runPaths(b).trainCurve)).toHaveLength(6);
    const rest = await runTraining({ config, backend: cpuBackend(), backendInfo: {}, outDir: b, resume: true, version: 'test' });
    expect(rest.status).toBe('done');
    expect(readFileSync(runPaths(b).trainCurve, 'utf8')).toBe(readFileSync(runPaths(a).trainCurve, 'utf8'));
  });
});

describe('plif train: neuron and structure flags', () => {
  const base = ['train', '--preset', 'fmnist-small', '--T', '2', '--limit-train', '32', '--limit-test', '16', '--threads', '1'];
  it('--structure, --surrogate NAME:ALPHA, --vth, --v-reset soft and --no-detach-reset reach the network; the start line names the data directory', async () => {
    const out = join(tmp(), 'run');
    const structure = 'c4k3s1-BN-PLIF-MPk2s2-c4k3s1-BN-PLIF-MPk2s2-DP-FC30-PLIF-DP-FC100-PLIF-APk10s10';
    const r = await capture(() => main([...base, '--data-dir', dataDir, '--out', out, '--structure', structure, '--surrogate', 'sigmoid:3', '--vth', '0.8', '--v-reset', 'soft', '--no-detach-reset']));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`test samples from ${dataDir};`);
    const saved = JSON.parse(readFileSync(runPaths(out).config, 'utf8'));
    expect(saved.network).toMatchObject({ structure, surrogate: { name: 'sigmoid', alpha: 3 }, vThreshold: 0.8, vReset: null, detachReset: false });
    expect(saved.config).toMatchObject({ structure, surrogate: { name: 'sigmoid', alpha: 3 }, vThreshold: 0.8, vReset: null, detachReset: false });
  });

  it('--surrogate NAME takes the surrogate\'s default alpha; --v-reset takes a number; --detach-reset keeps the paper\'s setting', async () => {
    const out = join(tmp(), 'run');
    const r = await capture(() => main([...base, '--data-dir', dataDir, '--out', out, '--channels', '4', '--surrogate', 'erf', '--v-reset=-0.5', '--detach-reset']));
    expect(r.code, r.err).toBe(0);
    const saved = JSON.parse(readFileSync(runPaths(out).config, 'utf8'));
    expect(saved.network).toMatchObject({ surrogate: { name: 'erf', alpha: 2 }, vThreshold: 1, vReset: -0.5, detachReset: true });
  });

  it.each([
    [['--surrogate', 'tanh'], /--surrogate must be NAME or NAME:ALPHA with NAME one of atan, sigmoid/],
    [['--surrogate', 'atan:0'], /--surrogate must be NAME:ALPHA with ALPHA a number > 0, got '0'/],
    [['--vth', 'high'], /--vth must be a number, got 'high'/],
    [['--v-reset', 'hard'], /--v-reset must be a number or 'soft', got 'hard'/],
    [['--vth', '0.5', '--v-reset', '0.5'], /vThreshold \(0\.5\) must be greater than vReset \(0\.5\)/],
    [['--detach-reset', '--no-detach-reset'], /give --detach-reset or --no-detach-reset, not both/],
    [['--structure', 'c8k3s1-PLIX'], /--structure: unknown layer token 'PLIX'/],
    [['--structure', 'c4k3s1-BN-PLIF-MPk2s2-FC50-PLIF-APk10s10'], /--structure: network output is \[5\] per step, expected \[10\]/],
  ])('plif train %j is a usage error', async (flags, message) => {
    const r = await capture(() => main([...base, '--data-dir', dataDir, '--out', join(tmp(), 'run'), ...flags]));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
  });

  it('a resumed run keeps the neuron settings of its config.json (older runs without them get the defaults)', () => {
    const c = trainConfig({ preset: 'fmnist-small' });
    expect(c).toMatchObject({ structure: null, surrogate: { name: 'atan', alpha: 2 }, vThreshold: 1, vReset: 0, detachReset: true });
  });
});

describe('plif --version', () => {
  it('prints the package version for --version and -V', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-V']) {
      const r = await capture(() => main([flag]));
      expect(r.code).toBe(0);
      expect(r.out).toBe(`${version}\n`);
    }
  });
});
