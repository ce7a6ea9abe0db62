// evaluate() and its forward passes in process, on a stand-in network whose outputs and spiking layers are
// the values its input carries (so every count, rate and prediction is known here from the samples alone),
// and on a real network with a poisson encoder (per-sample Rngs: the result does not depend on batching).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../../core/backend.js';
import { Layer, NeuronLayer, type RunCtx } from '../../core/network/layers.js';
import { Network, networkConfig, type NetworkConfig } from '../../core/network/network.js';
import { Rng } from '../../core/rng.js';
import { referenceBackend } from '../../reference/ops-backend.js';
import { EvalInterrupted, evaluate, inferWithSpikeCounts, inferWithSpikes, sampleRng, type EvalOptions } from '../../training/evaluate.js';
import type { SampleSource } from '../../training/sample-source.js';
import { staticSource } from '../../training/static-source.js';

const T = 3;
const CLASSES = 3;
/** The first spiking layer's output per step: [C, H, W]. */
const MAP_SHAPE = [1, 2, 2] as const;
const PER1 = 4;
const PER2 = 2;
const F = T * (CLASSES + PER1 + PER2 + 1);

/** A sample: its label, the network output [T][classes] and the spikes of two layers [T][...]. */
interface Sample {
  label: number;
  out: number[][];
  s1: number[][];
  s2: number[][];
}

/** Spikes of the first layer (index i of the sample, step t, position j). */
const spike1 = (i: number, t: number, j: number) => ((i + t + j) % 3 === 0 ? 1 : 0);
const spike2 = (i: number, t: number, j: number) => (i * j + t) % 2;

/** Output spike trains with `counts[c]` spikes of class c over T steps (M = 1). */
function sample(i: number, label: number, counts: number[]): Sample {
  return {
    label,
    out: Array.from({ length: T }, (_, t) => counts.map((k) => (t < k ? 1 : 0))),
    s1: Array.from({ length: T }, (_, t) => Array.from({ length: PER1 }, (_, j) => spike1(i, t, j))),
    s2: Array.from({ length: T }, (_, t) => Array.from({ length: PER2 }, (_, j) => spike2(i, t, j))),
  };
}

// label, spike counts per class: predicted (rule 'first'), tied
const TABLE: [number, number[]][] = [
  [0, [3, 1, 0]], // 0, correct
  [1, [0, 2, 1]], // 1, correct
  [2, [2, 2, 1]], // 0 (tie of 0 and 1), wrong
  [0, [0, 0, 3]], // 2, wrong
  [1, [1, 3, 3]], // 1 (tie of 1 and 2), correct
  [2, [0, 1, 2]], // 2, correct
  [1, [0, 0, 0]], // 0 (tie of all), wrong
];
const samples = () => TABLE.map(([label, counts], i) => sample(i, label, counts));

/** A source whose batch is, per sample, its output, its two layers' spikes and a pooling layer's values. */
function source(data: Sample[], classNames: string[] = ['zero', 'one']) {
  const calls: { indices: number[]; T: number; augment: unknown; host: Float32Array }[] = [];
  const src: SampleSource = {
    dataset: 'mnist',
    split: 'test',
    n: data.length,
    labels: Uint8Array.from(data, (s) => s.label),
    classes: classNames,
    shape: [1, 1, F],
    static: true,
    dir: '',
    batch: async (indices, steps, augment) => {
      const host = new Float32Array(indices.length * F);
      Array.from(indices).forEach((i, b) => {
        const s = data[i]!;
        host.set([...s.out.flat(), ...s.s1.flat(), ...s.s2.flat(), ...Array.from({ length: T }, () => 0.75)], b * F);
      });
      calls.push({ indices: Array.from(indices), T: steps, augment, host });
      return host;
    },
  };
  return { src, calls };
}

/** A layer that is not spiking (a pooling layer), observed too. */
class PoolStandIn extends Layer {
  forward(): Tensor {
    throw new Error('not run');
  }
  backward(): Tensor | null {
    return null;
  }
}

/**
 * A network standing in for a real one: its output [T, n, classes] and the outputs of its layers (spiking
 * layers 1 and 3, a pooling layer 2 between them) are cut out of the input, time-major.
 */
function standIn(b: Backend, opts: { M?: number | null; poolTies?: 'first' | 'random'; encoder?: NetworkConfig['encoder']; spiking?: boolean } = {}) {
  const { M = 1, spiking = true } = opts;
  const l1 = new NeuronLayer(1, 'PLIF', MAP_SHAPE, {} as never, null);
  const pool = new PoolStandIn(2, 'MPk2s2', [1], [1]);
  const l3 = new NeuronLayer(3, 'LIF', [PER2], {} as never, null);
  const ctxs: RunCtx[] = [];
  let acts: Tensor[] = [];
  const state = { releases: 0, ns: [] as number[], ctxs };
  const net = {
    backend: b,
    config: { T, classes: CLASSES, poolTies: opts.poolTies ?? 'first', encoder: opts.encoder ?? 'direct' },
    spikesPerClass: () => M,
    inputShape: (n: number) => [n, F],
    forward(x: Tensor, ctx: RunCtx): Tensor {
      ctxs.push(ctx);
      const n = x.shape[0]!;
      state.ns.push(n);
      const host = b.download(x);
      // part of each sample: values [offset, offset + T * size), time-major [T, n, size]
      const part = (offset: number, size: number, shape: number[]) => {
        const d = new Float32Array(T * n * size);
        for (let t = 0; t < T; t++) for (let k = 0; k < n; k++) for (let j = 0; j < size; j++) d[(t * n + k) * size + j] = host[k * F + offset + t * size + j]!;
        const made = b.upload(d, [T, n, ...shape]);
        acts.push(made);
        return made;
      };
      const out = part(0, CLASSES, [CLASSES]);
      const h1 = part(T * CLASSES, PER1, [...MAP_SHAPE]);
      const h3 = part(T * (CLASSES + PER1), PER2, [PER2]);
      const h2 = part(T * (CLASSES + PER1 + PER2), 1, [1]);
      if (spiking) {
        ctx.observe?.(l1, h1);
        ctx.observe?.(pool, h2);
        ctx.observe?.(l3, h3);
      }
      return out;
    },
    release() {
      state.releases++;
      for (const t of acts) b.dispose(t);
      acts = [];
    },
  };
  return { net: net as unknown as Network, state, l1, l3 };
}

/** Mean of a layer's spikes over the samples, steps and positions. */
const rate = (ids: number[], f: (i: number, t: number, j: number) => number, per: number) => {
  let s = 0;
  for (const i of ids) for (let t = 0; t < T; t++) for (let j = 0; j < per; j++) s += f(i, t, j);
  return s / (ids.length * T * per);
};

const all = (n: number) => Uint32Array.from({ length: n }, (_, i) => i);
const round3 = (v: number) => Math.round(v * 1000) / 1000;

let b: Backend;
let live: number;

beforeEach(() => {
  b = referenceBackend();
  live = b.liveTensors();
});

afterEach(() => {
  expect(b.liveTensors()).toBe(live); // every tensor made is freed
});

describe('evaluate: accuracy, per class, confusion and ties', () => {
  it('counts the predictions of the spike counts (ties to the first class), batch by batch with a last partial batch', async () => {
    const { src, calls } = source(samples());
    const { net, state } = standIn(b);
    const progress: [number, number][] = [];
    const ev = await evaluate(net, src, all(7), 3, { progress: (d, t) => progress.push([d, t]) });
    expect(ev).toEqual({
      accuracy: 4 / 7,
      correct: 4,
      total: 7,
      perClass: [
        { class: 'zero', correct: 1, total: 2, accuracy: 0.5 },
        { class: 'one', correct: 2, total: 3, accuracy: 2 / 3 },
        { class: '2', correct: 1, total: 2, accuracy: 0.5 }, // no name given for class 2
      ],
      firingRates: [],
      firingMaps: null,
      tieRule: 'first',
      ties: 3,
      confusion: [
        [1, 0, 1],
        [1, 2, 0],
        [1, 0, 1],
      ],
    });
    expect('samples' in ev).toBe(false);
    expect(progress).toEqual([
      [3, 7],
      [6, 7],
      [7, 7],
    ]);
    expect(state.ns).toEqual([3, 3, 1]);
    expect(state.releases).toBe(3);
    expect(calls.map((c) => [c.indices, c.T, c.augment])).toEqual([
      [[0, 1, 2], T, null],
      [[3, 4, 5], T, null],
      [[6], T, null],
    ]);
    // eval mode: no training, no run Rng, the batch's host copy, no per-sample Rngs, no observer
    state.ctxs.forEach((ctx, k) => {
      expect(ctx.training).toBe(false);
      expect(ctx.rng).toBeNull();
      expect(ctx.hostInput).toBe(calls[k]!.host);
      expect('sampleRngs' in ctx).toBe(false);
      expect('observe' in ctx).toBe(false);
    });
  });

  it('a batch larger than the set: one batch; the samples kept in evaluation order with their counts', async () => {
    const { src } = source(samples());
    const { net, state } = standIn(b);
    const ev = await evaluate(net, src, Uint32Array.of(6, 2, 4, 0), 10, { keepSamples: true });
    expect(state.ns).toEqual([4]);
    expect(ev.samples).toEqual([
      { index: 6, label: 1, predicted: 0, counts: [0, 0, 0], tied: true },
      { index: 2, label: 2, predicted: 0, counts: [2, 2, 1], tied: true },
      { index: 4, label: 1, predicted: 1, counts: [1, 3, 3], tied: true },
      { index: 0, label: 0, predicted: 0, counts: [3, 1, 0], tied: false },
    ]);
    expect(ev.correct).toBe(2);
    expect(ev.total).toBe(4);
    expect(ev.accuracy).toBe(0.5);
    expect(ev.ties).toBe(3);
    expect(ev.perClass.map((p) => [p.total, p.correct, p.accuracy])).toEqual([
      [1, 1, 1],
      [2, 1, 0.5],
      [1, 0, 0],
    ]);
  });

  it('nothing to evaluate: zeros, not NaN', async () => {
    const { src } = source(samples());
    const { net, state } = standIn(b);
    const progress: number[] = [];
    const ev = await evaluate(net, src, new Uint32Array(0), 4, { firingRates: true, progress: (d) => progress.push(d) });
    expect(state.ns).toEqual([]);
    expect(progress).toEqual([]);
    expect(ev.accuracy).toBe(0);
    expect(ev.total).toBe(0);
    expect(ev.perClass.map((p) => p.accuracy)).toEqual([0, 0, 0]);
    expect(ev.confusion).toEqual([
      [0, 0, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(ev.firingRates).toEqual([]);
    expect(ev.firingMaps).toBeNull();
  });

  it('refuses a batch size that is not a positive integer', async () => {
    const { src } = source(samples());
    const { net } = standIn(b);
    await expect(evaluate(net, src, all(7), 0)).rejects.toThrow(new RangeError('batchSize must be a positive integer, got 0'));
  });

  it('M neurons per class: the counts are the outputs times M summed over T', async () => {
    const s = sample(0, 1, [0, 0, 0]);
    s.out = [
      [0.5, 1, 0],
      [0.5, 0, 0.5],
      [1, 0.5, 0],
    ]; // counts with M = 2: [4, 3, 1]
    const { src } = source([s]);
    const ev = await evaluate(standIn(b, { M: 2 }).net, src, all(1), 1, { keepSamples: true });
    expect(ev.samples).toEqual([{ index: 0, label: 1, predicted: 0, counts: [4, 3, 1], tied: false }]);
    expect(ev.confusion[1]).toEqual([1, 0, 0]);
  });

  it('an output that is not spikes (M null): the sums of the outputs over T', async () => {
    const s = sample(0, 2, [0, 0, 0]);
    s.out = [
      [0.25, 0.5, 0.125],
      [0.25, -0.25, 0.5],
      [0, 0, 0],
    ];
    const { src } = source([s]);
    const ev = await evaluate(standIn(b, { M: null }).net, src, all(1), 1, { keepSamples: true });
    expect(ev.samples).toEqual([{ index: 0, label: 2, predicted: 2, counts: [0.5, 0.25, 0.625], tied: false }]);
    expect(ev.accuracy).toBe(1);
  });
});

describe('evaluate: per-sample Rngs', () => {
  it("random ties: each tied sample picks among its maxima with the Rng of (seed, its index), whatever the batch", async () => {
    const data = samples();
    const want = (seed: number) =>
      TABLE.map(([, counts], i) => {
        const top = Math.max(...counts);
        const maxima = counts.flatMap((c, k) => (c === top ? [k] : []));
        return maxima.length > 1 ? maxima[sampleRng(seed, i).int(maxima.length)]! : maxima[0]!;
      });
    for (const [seed, opts] of [
      [5, { ties: 'random', seed: 5 }],
      [0, { ties: 'random' }],
    ] as [number, EvalOptions][]) {
      for (const batch of [1, 3, 7]) {
        const { net, state } = standIn(b);
        const ev = await evaluate(net, source(data).src, all(7), batch, { ...opts, keepSamples: true });
        expect(ev.tieRule).toBe('random');
        expect(ev.ties).toBe(3);
        expect(ev.samples!.map((s) => s.predicted)).toEqual(want(seed));
        expect(state.ctxs.every((c) => c.sampleRngs!.length === c.hostInput!.length / F)).toBe(true);
      }
    }
    // the seeds make a difference somewhere among 3 tied samples
    const picks = [0, 1, 2, 3, 4, 5, 6, 7].map((seed) => want(seed).join());
    expect(new Set(picks).size).toBeGreaterThan(1);
  });

  it.each([
    ['random pool ties', { poolTies: 'random' as const }],
    ['a poisson encoder', { encoder: 'poisson' as const }],
  ])('%s: the forward gets the Rng of (seed, index) of each sample', async (_what, netOpts) => {
    const { net, state } = standIn(b, netOpts);
    const ev = await evaluate(net, source(samples()).src, Uint32Array.of(5, 1, 3), 2, { seed: 11 });
    expect(ev.tieRule).toBe('first');
    const firstDraws = state.ctxs.map((c) => c.sampleRngs!.map((r) => r.uniform()));
    expect(firstDraws).toEqual([[sampleRng(11, 5).uniform(), sampleRng(11, 1).uniform()], [sampleRng(11, 3).uniform()]]);
  });

  it('sampleRng: a function of (seed, index) alone, different for other indices and seeds', () => {
    const draws = (seed: number, index: number) => Array.from({ length: 3 }, ((r) => () => r.uniform())(sampleRng(seed, index)));
    expect(draws(3, 7)).toEqual(draws(3, 7));
    expect(draws(3, 7)).not.toEqual(draws(3, 8));
    expect(draws(3, 7)).not.toEqual(draws(4, 7));
  });

  it('a real network with a poisson encoder: the same predictions and counts for any batch size', async () => {
    const cfg = networkConfig('FC6-PLIF-APk2s2', [1, 2, 2], 3, { T: 6, encoder: 'poisson', vThreshold: 0.2, tau0: 1.5 });
    const net = new Network(b, cfg, Rng.seeded(2));
    try {
      const images = Uint8Array.from({ length: 5 * 4 }, (_, k) => 128 + ((k * 53) & 127));
      const ds = { name: 'mnist' as const, split: 'test' as const, images, labels: Uint8Array.of(0, 1, 2, 0, 1), n: 5, shape: [1, 2, 2] as [number, number, number], classes: ['a', 'b', 'c'], dir: '', files: [] };
      const src = staticSource(ds, true);
      const one = await evaluate(net, src, all(5), 1, { keepSamples: true, firingRates: true, seed: 3 });
      const five = await evaluate(net, src, all(5), 5, { keepSamples: true, firingRates: true, seed: 3 });
      expect(five.samples).toEqual(one.samples);
      expect(five.firingRates).toEqual(one.firingRates);
      expect(one.firingRates.map((r) => r.layer)).toEqual([1]); // the PLIF layer
      expect(new Set(one.samples!.flatMap((s) => s.counts)).size).toBeGreaterThan(2); // the outputs spike, unevenly
    } finally {
      net.dispose();
    }
  });
});

describe('evaluate: firing rates and maps', () => {
  const mapOf = (i: number) => Array.from({ length: PER1 }, (_, j) => round3([0, 1, 2].reduce((a, t) => a + spike1(i, t, j), 0) / T));

  it('the spiking layers only, over every batch; the maps of the first samples, across batches', async () => {
    const { src } = source(samples());
    const { net, state } = standIn(b);
    const ev = await evaluate(net, src, all(7), 3, { firingRates: true, maps: 5 });
    expect(ev.firingRates).toEqual([
      { layer: 1, rate: rate([0, 1, 2, 3, 4, 5, 6], spike1, PER1) },
      { layer: 3, rate: rate([0, 1, 2, 3, 4, 5, 6], spike2, PER2) },
    ]);
    expect(ev.firingMaps).toEqual({
      layer: 1,
      token: 'PLIF',
      shape: [1, 2, 2],
      samples: [0, 1, 2, 3, 4].map((i) => ({ index: i, label: TABLE[i]![0], rates: mapOf(i) })),
    });
    expect(mapOf(0)).toEqual([0.333, 0.333, 0.333, 0.333]); // rounded to 3 decimals
    expect(ev.accuracy).toBe(4 / 7); // the readout as without firing rates
    expect(state.ctxs.every((c) => typeof c.observe === 'function')).toBe(true);
  });

  it('four maps by default, in evaluation order; no more maps than samples', async () => {
    const { src } = source(samples());
    const ev = await evaluate(standIn(b).net, src, Uint32Array.of(6, 5, 4, 3, 2, 1), 4, { firingRates: true });
    expect(ev.firingMaps!.samples.map((s) => [s.index, s.label])).toEqual([
      [6, 1],
      [5, 2],
      [4, 1],
      [3, 0],
    ]);
    expect(ev.firingMaps!.samples[0]!.rates).toEqual(mapOf(6));
    const few = await evaluate(standIn(b).net, src, Uint32Array.of(2, 3), 1, { firingRates: true, maps: 9 });
    expect(few.firingMaps!.samples.map((s) => s.index)).toEqual([2, 3]);
    expect(few.firingRates[0]!.rate).toBe(rate([2, 3], spike1, PER1));
  });

  it('maps: 0 keeps no maps; maps without firing rates are not measured', async () => {
    const { src } = source(samples());
    const none = await evaluate(standIn(b).net, src, all(3), 2, { firingRates: true, maps: 0 });
    expect(none.firingMaps).toBeNull();
    expect(none.firingRates.map((r) => r.layer)).toEqual([1, 3]);
    const off = await evaluate(standIn(b).net, src, all(3), 2, { maps: 2 });
    expect(off.firingMaps).toBeNull();
    expect(off.firingRates).toEqual([]);
  });

  it('a network without spiking layers: no rates, no maps', async () => {
    const { src } = source(samples());
    const ev = await evaluate(standIn(b, { spiking: false }).net, src, all(2), 2, { firingRates: true });
    expect(ev.firingRates).toEqual([]);
    expect(ev.firingMaps).toBeNull();
  });
});

describe('evaluate: stopping', () => {
  it('shouldStop is polled before every batch; true stops with EvalInterrupted after the batches done', async () => {
    const { src } = source(samples());
    const { net, state } = standIn(b);
    let polls = 0;
    const progress: number[] = [];
    const err = await evaluate(net, src, all(7), 3, { shouldStop: () => ++polls === 2, progress: (d) => progress.push(d) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EvalInterrupted);
    expect((err as Error).name).toBe('EvalInterrupted');
    expect((err as Error).message).toBe('evaluation interrupted');
    expect(polls).toBe(2);
    expect(progress).toEqual([3]);
    expect(state.ns).toEqual([3]);
  });

  it('shouldStop false: polled once per batch, the evaluation complete', async () => {
    let polls = 0;
    const ev = await evaluate(standIn(b).net, source(samples()).src, all(7), 3, { shouldStop: () => (polls++, false) });
    expect(polls).toBe(3);
    expect(ev.total).toBe(7);
  });

  it('a turn of the event loop comes before each poll: a stop requested before the start is seen at once', async () => {
    let stop = false;
    setImmediate(() => {
      stop = true;
    });
    const { net, state } = standIn(b);
    await expect(evaluate(net, source(samples()).src, all(7), 3, { shouldStop: () => stop })).rejects.toThrow(EvalInterrupted);
    expect(state.ns).toEqual([]);
  });
});

describe('inferWithSpikes and inferWithSpikeCounts', () => {
  it('inferWithSpikes: the output and, when asked, every spiking layer read back', async () => {
    const { src } = source(samples());
    const { net, state, l1, l3 } = standIn(b);
    const host = await src.batch(Uint32Array.of(0, 1), T, null);
    const plain = await inferWithSpikes(net, host, 2, null, false);
    expect(plain.spiking).toEqual([]);
    expect('observe' in state.ctxs[0]!).toBe(false);
    expect(Array.from(plain.out.subarray(0, 6))).toEqual([1, 1, 0, 0, 1, 1]); // t = 0: sample 0, sample 1
    const rngs = [Rng.seeded(1), Rng.seeded(2)];
    const full = await inferWithSpikes(net, host, 2, rngs, true);
    expect(state.ctxs[1]!.sampleRngs).toBe(rngs);
    expect(full.out).toEqual(plain.out);
    expect(full.spiking.map((s) => [s.layer, s.shape])).toEqual([
      [l1, [T, 2, 1, 2, 2]],
      [l3, [T, 2, PER2]],
    ]);
    // [T, n, 2] of layer 3: sample k's spike2 at (t, j)
    const want3 = [0, 1, 2].flatMap((t) => [0, 1].flatMap((k) => [0, 1].map((j) => spike2(k, t, j))));
    expect(Array.from(full.spiking[1]!.values)).toEqual(want3);
    expect(state.releases).toBe(2);
  });

  it('inferWithSpikeCounts: spikes and sizes per spiking layer, the first layer only when asked', async () => {
    const { src } = source(samples());
    const { net, l1, l3 } = standIn(b);
    const host = await src.batch(Uint32Array.of(3, 4), T, null);
    const count = (f: (i: number, t: number, j: number) => number, per: number) => rate([3, 4], f, per) * 2 * T * per;
    const kept = await inferWithSpikeCounts(net, host, 2, null, true);
    expect(kept.counts).toEqual([
      { layer: l1, size: 2 * T * PER1, spikes: count(spike1, PER1) },
      { layer: l3, size: 2 * T * PER2, spikes: count(spike2, PER2) },
    ]);
    expect(kept.first!.layer).toBe(l1);
    expect(kept.first!.shape).toEqual([T, 2, 1, 2, 2]);
    const want1 = [0, 1, 2].flatMap((t) => [3, 4].flatMap((i) => [0, 1, 2, 3].map((j) => spike1(i, t, j))));
    expect(Array.from(kept.first!.values)).toEqual(want1);
    const notKept = await inferWithSpikeCounts(net, host, 2, null, false);
    expect(notKept.first).toBeNull();
    expect(notKept.counts).toEqual(kept.counts);
    const none = await inferWithSpikeCounts(standIn(b, { spiking: false }).net, host, 2, null, true);
    expect(none).toEqual({ out: kept.out, counts: [], first: null });
  });
});
