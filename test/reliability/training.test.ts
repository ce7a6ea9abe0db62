// The training loop (in process) against the failures of issue 10: divergence, interruptions while
// evaluating, run directories left by failures, stale temporary files, hostile checkpoints.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import type { Backend } from '../../core/backend.js';
import { loadTrainingCheckpoint } from '../../training/checkpoint.js';
import { trainConfig } from '../../training/config.js';
import { runTraining, type RunOptions } from '../../training/loop.js';
import { runPaths } from '../../training/rundir.js';
import { writeTinyFashionMnist } from '../training/fixtures.js';

let dataDir: string;
beforeAll(() => {
  dataDir = writeTinyFashionMnist(64, 20);
});

const tmp = () => mkdtempSync(join(tmpdir(), 'plif-rel-'));
/** 64 samples of batch 16: 4 batches per epoch, 2 epochs; a CPU-sized network. */
const config = (more: Partial<Parameters<typeof trainConfig>[0]> = {}) =>
  trainConfig({ preset: 'fmnist-small', channels: 4, T: 2, batch: 16, epochs: 2, limitTest: 20, evalBatch: 20, dataDir, ...more });
const run = (o: Partial<RunOptions> & { outDir: string }) =>
  runTraining({ config: config(), backend: cpuBackend(), backendInfo: {}, resume: false, version: 'test', ...o });

/** The CPU backend with some methods replaced; each replacement gets the original. */
function wrap(over: { [K in keyof Backend]?: (orig: Backend[K], self: Backend) => Backend[K] }): Backend {
  const cpu = cpuBackend();
  const self: Backend = new Proxy(cpu, {
    get: (t, k, r) => (Object.hasOwn(over, k) ? (replaced as Record<string | symbol, unknown>)[k] : (Reflect.get(t, k, r) as unknown)),
  });
  const replaced = Object.fromEntries(
    Object.entries(over).map(([k, f]) => [k, (f as (o: unknown, s: Backend) => unknown)((cpu[k as keyof Backend] as (...a: unknown[]) => unknown).bind(cpu), self)]),
  );
  return self;
}

const finiteParams = async (path: string) => {
  const ck = await loadTrainingCheckpoint(path, cpuBackend());
  return ck.net.params().every((p) => Array.from(ck.net.backend.download(p.value)).every(Number.isFinite));
};

describe('divergence', () => {
  it('a non-finite gradient stops the run before the update, naming epoch, batch and parameter; the last good checkpoint is kept', async () => {
    let calls = 0;
    const backend = wrap({
      mseLoss: (orig, self) => (...args) => {
        const r = orig(...args);
        if (++calls !== 6) return r; // epoch 1, batch 1
        self.dispose(r.grad);
        return { ...r, grad: self.upload(new Float32Array(r.grad.size).fill(Number.NaN), r.grad.shape) };
      },
    });
    const out = tmp();
    const r = await run({ outDir: out, backend });
    expect(r).toMatchObject({ status: 'diverged', epoch: 1, batch: 1, what: expect.stringMatching(/^the gradient of parameter \d+\.\w+$/) });
    expect(r.status === 'diverged' && Number.isNaN(r.value)).toBe(true);
    const ck = await loadTrainingCheckpoint(runPaths(out).last, cpuBackend());
    expect(ck.state).toMatchObject({ epoch: 1, batch: 0 });
    expect(await finiteParams(runPaths(out).last)).toBe(true);
  });

  it('a parameter that becomes non-finite or runs away stops the run (the MSE of spike rates itself stays finite)', async () => {
    const out = tmp();
    const r = await run({ outDir: out, config: config({ lr: 1e9 }) });
    expect(r).toMatchObject({ status: 'diverged', epoch: 0, batch: 0, what: expect.stringMatching(/^parameter \d+\.\w+$/) });
    expect(r.status === 'diverged' && Math.abs(r.value)).toBeGreaterThan(1e6);

    // poisoned in the second step of epoch 1: the parameter itself becomes NaN
    let steps = 0;
    const backend = wrap({
      mseLoss: (orig) => (...args) => (steps++, orig(...args)),
      adam: (orig) => (p, g, m, v, o) => orig(p, g, m, v, steps === 6 ? { ...o, lr: Number.NaN } : o),
    });
    const out2 = tmp();
    const r2 = await run({ outDir: out2, backend });
    expect(r2).toMatchObject({ status: 'diverged', epoch: 1, batch: 1, what: expect.stringMatching(/^parameter \d+\.\w+$/) });
    expect(r2.status === 'diverged' && Number.isNaN(r2.value)).toBe(true);
    expect((await loadTrainingCheckpoint(runPaths(out2).last, cpuBackend())).state).toMatchObject({ epoch: 1, batch: 0 });
    expect(await finiteParams(runPaths(out2).last)).toBe(true);
  });
});
