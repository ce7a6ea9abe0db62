// One engine for the CLI and the page (training/engine.ts): the page's run (web/session.ts, on data held in
// memory, as its worker drives it) and `plif train`'s (training/loop.ts, with its run directory) give the same
// metrics and the same checkpoint tensors, bit for bit, on the CPU backend; a run the page stops mid-epoch
// continues to the same end. In Node: no browser needed (test/browser/page.test.ts checks the page itself).
import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { decodeSafetensors } from '../../core/checkpoint.js';
import { idxFiles } from '../../data/names.js';
import { trainConfig } from '../../training/config.js';
import { freshState, recordsAfter, type EpochMetrics } from '../../training/engine.js';
import { STREAM } from '../../training/recipe.js';
import { runTraining } from '../../training/loop.js';
import { runPaths } from '../../training/rundir.js';
import { staticSource } from '../../training/static-source.js';
import { idxDataset } from '../../web/data.js';
import { checkpointBytes, disposeRun, newRun, train, type Sources } from '../../web/session.js';
import { writeTinyFashionMnist } from './fixtures.js';

const timing = (m: EpochMetrics) => {
  const { seconds: _s, samples_per_s: _r, ...rest } = m;
  return rest;
};

/** The page's sources: the IDX files as bytes in memory, decoded by the page's own reader. */
async function pageSources(dir: string): Promise<Sources> {
  const files = new Map<string, Uint8Array>();
  for (const split of ['train', 'test'] as const) for (const f of Object.values(idxFiles(split))) files.set(f, readFileSync(join(dir, f.replace(/\.gz$/, ''))));
  return { train: staticSource(await idxDataset('fashion-mnist', 'train', files, dir)), test: staticSource(await idxDataset('fashion-mnist', 'test', files, dir)) };
}

describe('one training engine for plif train and the page', () => {
  const dataDir = writeTinyFashionMnist(64, 24);
  const settings = { preset: 'fmnist-small', dataDir, batch: 8, epochs: 2, seed: 5, lr: 0.05, limitTest: 24, val: 0.15 };

  it("the page's run equals plif train's: every metric and every checkpoint tensor, bit for bit", async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'plif-engine-')), 'run');
    const cli = await runTraining({ config: trainConfig(settings), backend: cpuBackend(), backendInfo: {}, outDir: out, resume: false, version: 'test' });
    expect(cli.status).toBe('done');
    const steps: number[] = [];
    const run = newRun(cpuBackend(), trainConfig(settings));
    const outcome = await train(run, await pageSources(dataDir), { events: { step: (r) => steps.push(r.loss) } });
    expect(outcome.status).toBe('done');
    expect(run.metrics.map(timing)).toEqual(cli.metrics.map(timing));
    const trainSamples = (JSON.parse(readFileSync(runPaths(out).config, 'utf8')) as { dataset: { train: number } }).dataset.train;
    expect(steps).toHaveLength(2 * Math.floor(trainSamples / 8)); // two epochs of drop-last batches of 8
    const page = decodeSafetensors(await checkpointBytes(run, 'test')).tensors;
    const file = decodeSafetensors(readFileSync(runPaths(out).last)).tensors;
    expect([...page.keys()].sort()).toEqual([...file.keys()].sort());
    const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
    for (const [name, t] of file) expect(bytes(page.get(name)!.data).equals(bytes(t.data)), name).toBe(true);
    disposeRun(run);
  });

  it('a run the page stops mid-epoch holds where to resume, and continues to the uninterrupted end', async () => {
    const whole = newRun(cpuBackend(), trainConfig(settings));
    const src = await pageSources(dataDir);
    await train(whole, src, {});
    const parted = newRun(cpuBackend(), trainConfig(settings));
    let steps = 0;
    let perEpoch = 0;
    const stopped = await train(parted, src, { events: { step: (r) => ((perEpoch = r.batches), steps++) }, shouldStop: () => steps === 9 });
    expect(stopped.status).toBe('stopped');
    expect(perEpoch).toBeLessThan(9); // so the stop comes in epoch 1
    expect(parted.state).toMatchObject({ epoch: 1, batch: 9 - perEpoch }); // the next batch to train
    expect(parted.metrics).toHaveLength(1);
    expect(parted.state.dropoutRng).not.toBeNull();
    expect(await train(parted, src, {})).toEqual({ status: 'done' });
    expect(parted.metrics.map(timing)).toEqual(whole.metrics.map(timing));
    disposeRun(whole);
    disposeRun(parted);
  });

  it('names its RNG streams and its fresh state once', () => {
    expect(STREAM).toEqual({ init: 0, shuffle: 1, dropout: 2, augment: 3, evalSeed: 4 });
    expect(freshState()).toEqual({ epoch: 0, batch: 0, lossSum: 0, correct: 0, seen: 0, dropoutRng: null, augmentRng: null, seconds: 0, best: null });
    expect([1, 2, 3, 4, 5, 6].filter((b) => recordsAfter(b, 6))).toEqual([1, 2, 3, 4, 5, 6]);
    expect([...Array(25).keys()].map((i) => i + 1).filter((b) => recordsAfter(b, 25))).toEqual([3, 5, 8, 10, 13, 15, 18, 20, 23, 25]);
  });
});
