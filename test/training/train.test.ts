import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { inferBatch } from '../../core/network/train.js';
import { main } from '../../cli/dispatch.js';
import { loadCheckpointFile, loadTrainingCheckpoint } from '../../training/checkpoint.js';
import { trainConfig } from '../../training/config.js';
import type { EpochMetrics } from '../../training/engine.js';
import { runTraining } from '../../training/loop.js';
import { runPaths } from '../../training/rundir.js';
import { withoutTimes, writeTinyFashionMnist, writeTinyNMnist } from './fixtures.js';

let dataDir: string;
beforeAll(() => {
  dataDir = writeTinyFashionMnist(96, 40);
});

const tmp = () => mkdtempSync(join(tmpdir(), 'plif-run-'));
/** What must match between runs: everything but the clock. */

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  return { out, err, restore: () => (o.mockRestore(), e.mockRestore()) };
}
afterEach(() => vi.restoreAllMocks());

const small = { preset: 'fmnist-small', T: 2, batch: 16, epochs: 2, limitTest: 40, evalBatch: 20 } as const;

describe('training runs', () => {
  it('a resumed run ends with exactly the metrics and weights of an uninterrupted one', async () => {
    const config = trainConfig({ ...small, dataDir, seed: 3 });
    const a = tmp();
    const full = await runTraining({ config, backend: cpuBackend(), backendInfo: { name: 'cpu' }, outDir: a, resume: false, version: 'test' });
    expect(full.status).toBe('done');

    // interrupt in the middle of epoch 1 (batch 3 of 6), then resume
    const b = tmp();
    let batches = 0;
    const first = await runTraining({ config, backend: cpuBackend(), backendInfo: { name: 'cpu' }, outDir: b, resume: false, version: 'test', shouldStop: () => batches++ === 9 });
    expect(first.status).toBe('interrupted');
    expect(first.metrics).toHaveLength(1);
    const rest = await runTraining({ config, backend: cpuBackend(), backendInfo: { name: 'cpu' }, outDir: b, resume: true, version: 'test' });
    expect(rest.status).toBe('done');
    expect(withoutTimes(rest.metrics)).toEqual(withoutTimes(full.metrics));

    const lines = readFileSync(runPaths(b).metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as EpochMetrics);
    expect(withoutTimes(lines)).toEqual(withoutTimes(full.metrics));
    const ca = await loadTrainingCheckpoint(cpuBackend(), runPaths(a).last);
    const cb = await loadTrainingCheckpoint(cpuBackend(), runPaths(b).last);
    const pa = ca.net.params().map((p) => Array.from(ca.net.backend.download(p.value)));
    const pb = cb.net.params().map((p) => Array.from(cb.net.backend.download(p.value)));
    expect(pb).toEqual(pa);
    expect(cb.adam.step).toBe(ca.adam.step);
  });

  it('records every epoch: loss, accuracies, tau per PLIF layer, firing rate per spiking layer', async () => {
    const out = tmp();
    const r = await runTraining({ config: trainConfig({ ...small, dataDir, val: 0.15, epochs: 1 }), backend: cpuBackend(), backendInfo: { name: 'cpu' }, outDir: out, resume: false, version: 'test' });
    expect(r.status).toBe('done');
    const m = r.metrics[0]!;
    expect(Object.keys(m).sort()).toEqual(['epoch', 'firing_rate', 'lr', 'samples_per_s', 'seconds', 'tau', 'test_acc', 'test_ties', 'train_acc', 'train_loss', 'val_acc'].sort());
    expect(m.tau).toHaveLength(4); // fmnist-small has four PLIF layers
    expect(m.firing_rate).toHaveLength(4);
    for (const f of m.firing_rate) expect(f.rate >= 0 && f.rate <= 1, `layer ${f.layer}: a rate is a fraction of spikes, got ${f.rate}`).toBe(true);
    expect(m.firing_rate.some((f) => f.rate > 0)).toBe(true);
    expect(m.lr).toBe(1e-3);
    const cfg = JSON.parse(readFileSync(runPaths(out).config, 'utf8'));
    expect(cfg.config.val).toBe(0.15);
    expect(cfg.dataset.val).toBeGreaterThan(0);
    expect(cfg.backend.name).toBe('cpu');
    expect(existsSync(runPaths(out).best)).toBe(true);
    expect(existsSync(runPaths(out).firingMaps)).toBe(true);
  });

  it('a NaN loss stops the run at that step and keeps the last good checkpoint', async () => {
    const out = tmp();
    const cpu = cpuBackend();
    let calls = 0;
    // the 8th loss of the run (epoch 1, batch 2) is NaN: the output read back after the 8th loss gradient is NaN
    let poison = false;
    const poisoned = new Proxy(cpu, {
      get(target, key, recv) {
        const v = Reflect.get(target, key, recv);
        if (key === 'mseLossGrad')
          return (...args: Parameters<typeof cpu.mseLossGrad>) => {
            poison = ++calls === 8;
            return cpu.mseLossGrad(...args);
          };
        if (key === 'read')
          return async (ts: Parameters<typeof cpu.read>[0]) => {
            const values = await cpu.read(ts);
            if (poison) values[0] = values[0]!.map(() => Number.NaN);
            poison = false;
            return values;
          };
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const r = await runTraining({ config: trainConfig({ ...small, dataDir }), backend: poisoned, backendInfo: {}, outDir: out, resume: false, version: 'test' });
    expect(r).toMatchObject({ status: 'diverged', epoch: 1, batch: 1 });
    expect(r.metrics).toHaveLength(1);
    const ck = await loadTrainingCheckpoint(cpuBackend(), runPaths(out).last);
    expect(ck.state).toMatchObject({ epoch: 1, batch: 0 }); // the end of epoch 0, not a poisoned state
    ck.net.params().forEach((p) => expect(Array.from(ck.net.backend.download(p.value)).every(Number.isFinite)).toBe(true));
  });

  it('trains on event frames (N-MNIST layout, [T, B, 2, 34, 34]) with a smaller paper network', async () => {
    const out = tmp();
    const dir = writeTinyNMnist(4, 2);
    const config = trainConfig({ preset: 'nmnist', dataDir: dir, T: 3, channels: 8, epochs: 1, batch: 8, evalBatch: 10 });
    const r = await runTraining({ config, backend: cpuBackend(), backendInfo: {}, outDir: out, resume: false, version: 'test' });
    expect(r.status).toBe('done');
    const acc = r.metrics[0]!.test_acc; // a fraction of the 20 test samples
    expect(acc * 20).toBeCloseTo(Math.round(acc * 20), 9);
    expect(acc >= 0 && acc <= 1).toBe(true);
    const cfg = JSON.parse(readFileSync(runPaths(out).config, 'utf8'));
    expect(cfg.network.structure).toBe('{c8k3s1-BN-PLIF-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10');
    expect(cfg.network.static).toBe(false);
    expect(cfg.dataset).toMatchObject({ train: 40, test: 20 });
  });

  it('a checkpoint round trip gives the same parameters, tau and outputs', async () => {
    const out = tmp();
    await runTraining({ config: trainConfig({ ...small, dataDir, epochs: 1 }), backend: cpuBackend(), backendInfo: {}, outDir: out, resume: false, version: 'test' });
    const a = await loadCheckpointFile(cpuBackend(), runPaths(out).last);
    const b = await loadCheckpointFile(cpuBackend(), runPaths(out).last);
    expect(a.metadata.tau).toEqual(b.net.taus().map((t) => ({ layer: t.index, tau: t.tau })));
    const x = new Float32Array(3 * 28 * 28).map((_, i) => Math.sin(i));
    expect(Array.from(await inferBatch(b.net, x, 3))).toEqual(Array.from(await inferBatch(a.net, x, 3)));
    // BN running statistics are restored, not re-initialised
    const stats = a.net.buffers().map((q) => Array.from(a.net.backend.download(q.value)));
    expect(stats.some((s) => s.some((v) => v !== 0 && v !== 1))).toBe(true);
  });

  it('a truncated or foreign checkpoint fails with a message naming the file', async () => {
    const out = tmp();
    await runTraining({ config: trainConfig({ ...small, dataDir, epochs: 1 }), backend: cpuBackend(), backendInfo: {}, outDir: out, resume: false, version: 'test' });
    const bytes = readFileSync(runPaths(out).last);
    const cut = join(out, 'cut.safetensors');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 100));
    await expect(loadCheckpointFile(cpuBackend(), cut)).rejects.toThrow(/cut\.safetensors: .*truncated/);
    const foreign = join(out, 'foreign.safetensors');
    writeFileSync(foreign, 'hello, this is not a checkpoint at all');
    await expect(loadCheckpointFile(cpuBackend(), foreign)).rejects.toThrow(/foreign\.safetensors: .*not a safetensors file/);
    await expect(loadCheckpointFile(cpuBackend(), join(out, 'absent.safetensors'))).rejects.toThrow(/absent\.safetensors: no such file/);
  });
});

describe('plif train / eval / plot commands', () => {
  it('--json prints one JSON object per epoch on stdout and nothing else', async () => {
    const out = join(tmp(), 'run');
    const c = capture();
    const code = await main(['train', '--preset', 'fmnist-small', '--data-dir', dataDir, '--T', '2', '--epochs', '2', '--limit-test', '20', '--out', out, '--json']);
    c.restore();
    expect(code).toBe(0);
    const lines = c.out.join('').trim().split('\n');
    expect(lines).toHaveLength(2);
    const objs = lines.map((l) => JSON.parse(l));
    expect(objs.map((o) => o.epoch)).toEqual([0, 1]);
    for (const o of objs) expect(o).toMatchObject({ train_loss: expect.any(Number), test_acc: expect.any(Number), tau: expect.any(Array), firing_rate: expect.any(Array) });
    expect(c.err.join('')).toMatch(/epoch 1/);

    const e = capture();
    const evalCode = await main(['eval', '--checkpoint', join(out, 'best.safetensors'), '--data-dir', dataDir, '--json']);
    e.restore();
    expect(evalCode).toBe(0);
    const ev = JSON.parse(e.out.join(''));
    expect(ev.dataset).toBe('fashion-mnist');
    expect(ev.samples).toBe(40);
    expect(ev.per_class).toHaveLength(10);
    expect(ev.per_class.reduce((s: number, k: { total: number }) => s + k.total, 0)).toBe(40);

    const p = capture();
    const plotCode = await main(['plot', out]);
    p.restore();
    expect(plotCode).toBe(0);
    for (const name of ['accuracy', 'tau', 'firing-maps']) {
      const svg = readFileSync(join(out, 'plots', `${name}.svg`), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      const png = readFileSync(join(out, 'plots', `${name}.png`));
      expect(Array.from(png.subarray(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
    }
    expect(readFileSync(join(out, 'plots', 'accuracy.svg'), 'utf8')).toMatch(/<polyline/);
  });

  it.each([
    [['train', '--preset', 'nope'], /unknown preset 'nope'/],
    [['train'], /--preset is required/],
    [['train', '--preset', 'fmnist-small', '--batch', '0'], /--batch must be an integer >= 1, got '0'/],
    [['train', '--preset', 'fmnist-small', '--lr', 'fast'], /--lr must be a number > 0, got 'fast'/],
    [['train', '--preset', 'fmnist-small', '--val', '1.5'], /--val must be a fraction in \[0, 1\), got '1.5'/],
    [['train', '--preset', 'fmnist-small', '--tau0', '1'], /--tau0 must be a number > 1/],
    [['train', '--preset', 'fmnist-small', '--neuron', 'izh'], /--neuron must be one of plif, lif, if/],
    [['train', '--preset', 'fmnist-small', '--backend', 'quantum'], /unknown backend 'quantum'/],
    [['train', '--preset', 'fmnist-small', '--frobnicate'], /Unknown option '--frobnicate'/],
    [['train', '--resume', '/nonexistent/run'], /no config.json there/],
    [['eval'], /--checkpoint FILE is required/],
    [['plot'], /give exactly one RUN_DIR/],
  ])('plif %j fails with a usage error', async (argv, message) => {
    const c = capture();
    const code = await main(argv);
    c.restore();
    expect(code).toBe(2);
    expect(c.err.join('')).toMatch(message);
  });

  it('missing data names the dataset, the places searched and the files expected', async () => {
    const empty = tmp();
    const c = capture();
    const run = main(['train', '--preset', 'fmnist-small', '--data-dir', empty, '--out', join(empty, 'run')]);
    await expect(run).rejects.toThrow(/dataset 'fashion-mnist' not found[\s\S]*--data-dir[\s\S]*train-images-idx3-ubyte/);
    c.restore();
  });
});
