// The CPU backend's worker pool: bitwise-identical results for any thread count, errors from workers
// reported (not hangs), and a pool that never keeps the process alive.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Arena } from '../../backends/cpu/arena.js';
import { cpuBackend } from '../../backends/cpu/index.js';
import { KernelPool } from '../../backends/cpu/pool.js';
import { failKernels } from './fail-kernels.mjs';
import { Network, networkConfig } from '../../core/network/index.js';
import { createAdam, trainStep } from '../../core/network/train.js';
import { Rng } from '../../core/rng.js';
import { trainConfig } from '../../training/config.js';
import type { EpochMetrics } from '../../training/engine.js';
import { runTraining } from '../../training/loop.js';
import { runPaths } from '../../training/rundir.js';
import { syntheticBatch } from '../../bench/step-timing.js';
import { withoutTimes, writeTinyFashionMnist } from '../training/fixtures.js';
import { bits } from './bits.js';

/** Three training steps of a network with every layer kind; returns the loss of each step and every parameter afterwards. */
async function run(threads: number, structure: string, T: number, batch: number, simd = true, poolTies: 'first' | 'random' = 'first') {
  const b = cpuBackend({ threads, simd });
  try {
    const cfg = networkConfig(structure, [1, 28, 28], 10, { T, poolTies });
    const rng = Rng.seeded(7);
    const net = new Network(b, cfg, rng.split());
    const opt = createAdam(net);
    const data = syntheticBatch(cfg, batch, rng.split());
    const stepRng = rng.split();
    const before = b.download(net.params()[0]!.value);
    const losses: number[] = [];
    for (let i = 0; i < 3; i++) losses.push((await trainStep(net, opt, data, stepRng)).loss);
    expect(bits(b.download(net.params()[0]!.value))).not.toEqual(bits(before)); // the steps did train
    const params = net.params().map((p) => b.download(p.value));
    const buffers = net.buffers().map((q) => b.download(q.value));
    return { losses, params, buffers };
  } finally {
    b.destroy();
  }
}

describe('cpu backend threads', () => {
  it('training steps are bitwise identical with 1, 2 and 3 threads (conv, BN, PLIF, max/avg pool, dropout, FC, voting)', async () => {
    // Sizes large enough that every op splits (elementwise ops split above 32768 values).
    const structure = 'c24k3s1-BN-PLIF-MPk2s2-c24k3s1-BN-PLIF-APk2s2-DP-FC200-PLIF-DP-FC100-PLIF-APk10s10';
    for (const simd of [false, true]) {
    const one = await run(1, structure, 4, 12, simd);
    for (const threads of [2, 3]) {
      const many = await run(threads, structure, 4, 12, simd);
      expect(many.losses).toEqual(one.losses);
      one.params.forEach((p, i) => expect(bits(many.params[i]!), `param ${i}, ${threads} threads`).toEqual(bits(p)));
      one.buffers.forEach((p, i) => expect(bits(many.buffers[i]!), `buffer ${i}, ${threads} threads`).toEqual(bits(p)));
    }
    }
  });

  it('random max-pool ties (drawn on the host from the step Rng) are bitwise identical with 1, 2 and 3 threads', async () => {
    const structure = 'c24k3s1-BN-PLIF-MPk2s2-c24k3s1-BN-PLIF-MPk2s2-FC100-PLIF-APk10s10';
    const one = await run(1, structure, 4, 12, true, 'random');
    for (const threads of [2, 3]) {
      const many = await run(threads, structure, 4, 12, true, 'random');
      expect(many.losses).toEqual(one.losses);
      one.params.forEach((p, i) => expect(bits(many.params[i]!), `param ${i}, ${threads} threads`).toEqual(bits(p)));
    }
    const first = await run(2, structure, 4, 12, true, 'first');
    expect(bits(first.params[0]!)).not.toEqual(bits(one.params[0]!)); // the rule changes which input gets the gradient
  });

  it('a seeded plif train run gives the same metrics and checkpoint bytes with --threads 1 and 2', async () => {
    const dataDir = writeTinyFashionMnist(64, 32);
    const out: { metrics: EpochMetrics[]; ckpt: Buffer }[] = [];
    for (const threads of [1, 2]) {
      const dir = mkdtempSync(join(tmpdir(), 'plif-threads-'));
      const backend = cpuBackend({ threads });
      const config = trainConfig({ preset: 'fmnist-small', T: 2, batch: 16, epochs: 2, limitTest: 32, evalBatch: 16, dataDir, seed: 5 });
      const r = await runTraining({ config, backend, backendInfo: { name: 'cpu' }, outDir: dir, resume: false, version: 'test' });
      backend.destroy();
      expect(r.status).toBe('done');
      out.push({ metrics: r.metrics, ckpt: readFileSync(runPaths(dir).last) });
    }
    expect(withoutTimes(out[1]!.metrics)).toEqual(withoutTimes(out[0]!.metrics));
    // The checkpoint header records the run's settings only (not the thread count): the bytes match.
    expect(out[1]!.ckpt.equals(out[0]!.ckpt)).toBe(true);
  });

  it('a kernel that throws in a worker fails the op with the worker error, and the pool keeps working', () => {
    const arena = new Arena();
    const pool = new KernelPool(arena, 2, null, null, failKernels);
    const a = arena.alloc(8)!;
    expect(() => pool.run('fail', [arena.alloc(1)!.fill(0)], [1, 2], 2)).toThrow(/kernel 'fail' failed in worker thread 1: .*kernel failure requested by a test/);
    const x = arena.alloc(100000)!.fill(1);
    const y = arena.alloc(100000)!;
    pool.run('sumT', [x, y], [2, 50000], 50000, null, { grain: 1 });
    expect(y[0]).toBe(2);
    expect(y[49999]).toBe(2);
    pool.destroy();
  });

  it('a worker that exits fails the op with a clear error instead of hanging', () => {
    const arena = new Arena();
    const pool = new KernelPool(arena, 2, null, null, failKernels);
    const a = arena.alloc(8)!;
    expect(() => pool.run('fail', [arena.alloc(1)!.fill(0)], [2, 2], 2)).toThrow(/worker thread 1 exited while running kernel 'fail'/);
    expect(() => pool.run('fail', [a], [0], 2)).toThrow(/thread pool is unusable/);
    pool.destroy();
  });

  it('a process with a pool exits by itself when its work is done', () => {
    const script = `import { cpuBackend } from ${JSON.stringify(join(process.cwd(), 'dist/backends/cpu/index.js'))};
const b = cpuBackend({ threads: 2 });
const x = b.upload(new Float32Array(200000).fill(1), [2, 100000]);
console.log(b.download(b.sumT(x))[5]);`;
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('2');
    expect(r.status).toBe(0);
    expect(Date.now() - t0).toBeLessThan(20000);
  });
});
