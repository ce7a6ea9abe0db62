// The epoch loop of training/engine.ts driven directly, as training/loop.ts and the page drive it: the sample
// indices of a run, what each hook receives (steps, curve points, evaluation passes, the best flag), that every
// hook is optional, where a stop lands with and without evalStops, and that a failing test set is an error.
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { buildNetwork } from '../../core/network/network.js';
import { createAdam, disposeAdam } from '../../core/network/train.js';
import { trainConfig, type TrainConfig } from '../../training/config.js';
import { freshState, runIndices, trainEpochs, type EngineHooks, type EngineRun, type EpochMetrics, type StepInfo, type TrainRecord } from '../../training/engine.js';
import { STREAM, streamRng, trainNetworkConfig } from '../../training/recipe.js';
import type { SampleSource } from '../../training/sample-source.js';
import { openSource } from '../../training/source.js';
import { writeTinyFashionMnist } from './fixtures.js';

let src: { train: SampleSource; test: SampleSource };
beforeAll(async () => {
  const dataDir = writeTinyFashionMnist(64, 20);
  src = { train: await openSource('fashion-mnist', 'train', { dataDir }), test: await openSource('fashion-mnist', 'test', { dataDir }) };
});

/** 64 training samples: batch 16 gives 4 batches an epoch, batch 4 gives 16. */
const config = (o: Partial<TrainConfig> = {}): TrainConfig => trainConfig({ preset: 'fmnist-small', channels: 4, T: 2, batch: 16, epochs: 1, limitTest: 20, evalBatch: 20, lr: 0.01, ...o });

/** A fresh run as training/loop.ts builds one, and a way to free it. */
function newRun(c: TrainConfig, sources = src) {
  const backend = cpuBackend({ threads: 1 });
  const net = buildNetwork(backend, trainNetworkConfig(c), streamRng(c.seed, 0, STREAM.init));
  const adam = createAdam(net, { lr: c.lr });
  const run: EngineRun = { config: c, net, adam, state: freshState(), metrics: [] };
  const idx = runIndices(c, sources.train, sources.test);
  const go = (hooks?: EngineHooks) => trainEpochs(run, sources, idx, hooks);
  const dispose = () => (disposeAdam(backend, adam), net.dispose());
  return { run, idx, go, dispose };
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('runIndices', () => {
  const train = { n: 30, labels: Uint8Array.from(range(30), (i) => i % 10) };

  it('without validation: every training sample, in order; the first test samples up to the limit', () => {
    const idx = runIndices(config({ batch: 4, limitTest: 12 }), train, { n: 25 });
    expect(Array.from(idx.train)).toEqual(range(30));
    expect(idx.val.length).toBe(0);
    expect(Array.from(idx.test)).toEqual(range(12));
    expect(Array.from(runIndices(config({ batch: 4, limitTest: 40 }), train, { n: 25 }).test)).toEqual(range(25));
    expect(Array.from(runIndices(config({ batch: 4, limitTest: null }), train, { n: 25 }).test)).toEqual(range(25));
  });
});

describe('trainEpochs: every hook is optional', () => {
  it('runs to the end with no hooks at all, and with an empty set (validation included)', async () => {
    for (const hooks of [undefined, {}]) {
      const r = newRun(config({ val: 0.25 }));
      expect(r.idx.val.length).toBeGreaterThan(0);
      expect(await r.go(hooks)).toEqual({ status: 'done' });
      expect(r.run.metrics.map((m) => m.epoch)).toEqual([0]);
      expect(r.run.state).toMatchObject({ epoch: 1, batch: 0 });
      r.dispose();
    }
  });
});

describe('trainEpochs: what the hooks receive', () => {
  it('steps, their training seconds, and 10 curve points an epoch holding the running averages of the steps', async () => {
    const r = newRun(config({ batch: 4, epochs: 2 }));
    const steps: (StepInfo & { wall: number })[] = [];
    const curve: TrainRecord[] = [];
    const starts: number[][] = [];
    let pauses = 0;
    const t0 = performance.now();
    const out = await r.go({
      pause: async () => void pauses++,
      epochStart: (e, n, lr) => starts.push([e, n, lr]),
      step: (s) => steps.push({ ...s, wall: (performance.now() - t0) / 1000 }),
      curvePoint: (p) => void curve.push(p),
    });
    expect(out).toEqual({ status: 'done' });
    expect(starts).toEqual([[0, 16, r.run.metrics[0]!.lr], [1, 16, r.run.metrics[1]!.lr]]);
    expect(pauses).toBe(32);
    expect(steps.map((s) => [s.epoch, s.batch, s.batches, s.samples])).toEqual([0, 1].flatMap((e) => range(16).map((b) => [e, b + 1, 16, 4])));
    for (const [i, s] of steps.entries()) {
      // seconds of training in this epoch so far: positive, growing, within the wall-clock time since the start
      expect(s.seconds).toBeGreaterThan(0);
      expect(s.seconds).toBeLessThanOrEqual(s.wall);
      if (s.batch > 1) expect(s.seconds).toBeGreaterThanOrEqual(steps[i - 1]!.seconds);
    }
    // an epoch's training seconds are at least its last step's
    for (const e of [0, 1]) expect(r.run.metrics[e]!.seconds).toBeGreaterThanOrEqual(steps[16 * e + 15]!.seconds);

    expect(curve.map((p) => [p.epoch, p.batch])).toEqual([0, 1].flatMap((e) => [2, 4, 5, 7, 8, 10, 12, 13, 15, 16].map((b) => [e, b])));
    for (const p of curve) {
      const so = steps.filter((s) => s.epoch === p.epoch && s.batch <= p.batch);
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (const s of so) {
        lossSum += s.step.loss * s.samples;
        correct += s.step.correct;
        seen += s.samples;
      }
      expect(p).toEqual({ epoch: p.epoch, batch: p.batch, batches: 16, samples: seen, train_loss: lossSum / seen, train_acc: correct / seen, tau: so.at(-1)!.step.tau });
    }
    // the epoch's metrics are its last curve point's averages
    for (const e of [0, 1]) {
      const last = curve.filter((p) => p.epoch === e).at(-1)!;
      expect([r.run.metrics[e]!.train_loss, r.run.metrics[e]!.train_acc]).toEqual([last.train_loss, last.train_acc]);
    }
    r.dispose();
  });

  it('evaluation passes: the test set alone, or the validation set first', async () => {
    const plain = newRun(config());
    const calls: [string, number][] = [];
    await plain.go({ evalStart: (what, n) => calls.push([what, n]) });
    expect(calls).toEqual([['test', 20]]);
    plain.dispose();

    const validated = newRun(config({ val: 0.25 }));
    const nVal = validated.idx.val.length;
    expect(nVal).toBeGreaterThan(0);
    expect(nVal + validated.idx.train.length).toBe(64);
    const withVal: [string, number][] = [];
    await validated.go({ evalStart: (what, n) => withVal.push([what, n]) });
    expect(withVal).toEqual([['val', nVal], ['test', 20]]);
    validated.dispose();
  });

  it('the best flag: only an epoch that scores higher than the best so far (lr 0: a tie keeps epoch 0)', async () => {
    const r = newRun({ ...config({ epochs: 2 }), lr: 0 });
    const flags: boolean[] = [];
    const metrics: EpochMetrics[] = [];
    await r.go({ epochEnd: (m, _test, best) => void (metrics.push(m), flags.push(best)) });
    expect(metrics.map((m) => m.epoch)).toEqual([0, 1]);
    expect(metrics[1]!.test_acc).toBe(metrics[0]!.test_acc);
    expect(flags).toEqual([true, false]);
    expect(r.run.state.best).toEqual({ epoch: 0, score: metrics[0]!.test_acc });
    r.dispose();
  });
});

describe('trainEpochs: stops', () => {
  /** Stops once the last step of epoch 0 is done (4 batches of 16). */
  async function stopAfterEpoch0Training(evalStops: boolean) {
    const r = newRun(config({ epochs: 2 }));
    let steps = 0;
    const ends: number[] = [];
    const out = await r.go({ step: () => void steps++, shouldStop: () => steps >= 4, ...(evalStops ? { evalStops } : {}), epochEnd: (m) => void ends.push(m.epoch) });
    r.dispose();
    return { out, ends, run: r.run };
  }

  it('without evalStops the evaluation runs on and the epoch ends; the stop comes before the next batch', async () => {
    const { out, ends, run } = await stopAfterEpoch0Training(false);
    expect(out).toEqual({ status: 'stopped' });
    expect(ends).toEqual([0]);
    expect(run.metrics).toHaveLength(1);
    expect(run.state).toMatchObject({ epoch: 1, batch: 0 });
  });

  it('with evalStops the evaluation stops too: the epoch does not end, and the state resumes at its evaluation', async () => {
    const { out, ends, run } = await stopAfterEpoch0Training(true);
    expect(out).toEqual({ status: 'stopped' });
    expect(ends).toEqual([]);
    expect(run.metrics).toEqual([]);
    expect(run.state).toMatchObject({ epoch: 0, batch: 4, seen: 64 });
    expect(run.state.seconds).toBeGreaterThan(0);
    expect(run.state.dropoutRng).toHaveLength(4);
  });

  it('an error of the test set during evaluation is thrown, not taken for a stop', async () => {
    const t = src.test;
    const failing: SampleSource = { dataset: t.dataset, split: t.split, n: t.n, labels: t.labels, classes: t.classes, shape: t.shape, static: t.static, dir: t.dir, batch: () => Promise.reject(new Error('the test set became unreadable')) };
    const r = newRun(config(), { train: src.train, test: failing });
    let ended = false;
    await expect(r.go({ shouldStop: () => false, evalStops: true, epochEnd: () => void (ended = true) })).rejects.toThrow('the test set became unreadable');
    expect(ended).toBe(false);
    r.dispose();
  });
});
