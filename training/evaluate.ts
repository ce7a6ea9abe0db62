// Evaluation passes: accuracy (and per class) with running BN statistics and no dropout, the mean firing
// rate of every spiking layer, and the firing-rate maps of the first spiking layer (Fig. S2).
import type { Tensor } from '../core/backend.js';
import type { FloatArray } from '../core/types.js';
import { readout, type TieRule } from '../core/readout.js';
import { Rng } from '../core/rng.js';
import { NeuronLayer } from '../core/network/layers.js';
import type { Network } from '../core/network/network.js';
import { makeBatches } from '../data/splits.js';
import type { SampleSource } from './sample-source.js';

export interface FiringMaps {
  layer: number;
  token: string;
  /** [C, H, W] of the layer's output per step. */
  shape: number[];
  samples: { index: number; label: number; rates: number[] }[];
}

export interface Evaluation {
  accuracy: number;
  correct: number;
  total: number;
  perClass: { class: string; correct: number; total: number; accuracy: number }[];
  firingRates: { layer: number; rate: number }[];
  firingMaps: FiringMaps | null;
  /** Tie rule of the readout (core/readout.ts). */
  tieRule: TieRule;
  /** Samples whose highest spike count is shared by two or more classes. */
  ties: number;
  /** confusion[label][predicted]: number of samples. */
  confusion: number[][];
  /** Per sample, in evaluation order (only with keepSamples). */
  samples?: SamplePrediction[];
}

export interface SamplePrediction {
  /** Index of the sample in its dataset split. */
  index: number;
  label: number;
  predicted: number;
  /** Per class: integer spike counts over T (voted outputs times M), or summed outputs when not spikes. */
  counts: number[];
  tied: boolean;
}

export interface EvalOptions {
  /** Measure firing rates of the spiking layers and keep the maps of the first `maps` samples. */
  firingRates?: boolean;
  maps?: number;
  /** Called after each batch with the number of samples done. */
  progress?: (done: number, total: number) => void;
  /** Polled between batches (after a turn of the event loop): when it returns true, EvalInterrupted is thrown. */
  shouldStop?: () => boolean;
  /** Readout tie rule (default 'first'). */
  ties?: TieRule;
  /**
   * Seed of the per-sample Rngs (sampleRng) that random readout ties and random pool ties draw from, so
   * a sample's result does not depend on the batch it is in (default 0).
   */
  seed?: number;
  /** Keep every sample's prediction and counts (Evaluation.samples). */
  keepSamples?: boolean;
}

/** The Rng of one sample of an evaluation: a function of (seed, index) alone. */
export function sampleRng(seed: number, index: number): Rng {
  let h = Math.imul((seed >>> 0) ^ 0x27d4eb2d, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (index >>> 0) ^ 0x165667b1, 0x85ebca6b) >>> 0; // a bijection of index for a given seed
  return Rng.seeded((h ^ (h >>> 13)) >>> 0);
}

/** The evaluation pass stopped because shouldStop() returned true (Ctrl-C). */
export class EvalInterrupted extends Error {
  override readonly name = 'EvalInterrupted';
  constructor() {
    super('evaluation interrupted');
  }
}

/** A spiking layer's output [T, n, ...] of an eval-mode forward, read back. */
export interface LayerSpikes {
  layer: NeuronLayer;
  shape: readonly number[];
  values: FloatArray;
}

/** A spiking layer's output of an eval-mode forward, kept alive by a view until it is read back. */
interface Observed {
  layer: NeuronLayer;
  view: Tensor;
}

/**
 * Eval-mode forward of `host`, n samples in the network's input layout (running BN statistics, no dropout;
 * rngs: one per sample, for random pool ties and spike encoders), with a view of every spiking layer's
 * output when `spikes`; `finish` reads back what it needs of them. Frees everything it made.
 */
async function evalForward<R>(net: Network, host: FloatArray, n: number, rngs: readonly Rng[] | null, spikes: boolean, finish: (out: Tensor, observed: readonly Observed[]) => Promise<R>): Promise<R> {
  const b = net.backend;
  const observed: Observed[] = [];
  const observe = (layer: unknown, out: Tensor) => {
    if (layer instanceof NeuronLayer) observed.push({ layer, view: b.reshape(out, out.shape) });
  };
  const x = b.upload(host, net.inputShape(n));
  try {
    const outT = net.forward(x, { training: false, rng: null, hostInput: host, ...(rngs ? { sampleRngs: rngs } : {}), ...(spikes ? { observe } : {}) });
    return await finish(outT, observed);
  } finally {
    for (const o of observed) b.dispose(o.view);
    net.release();
    b.dispose(x);
  }
}

/**
 * Eval-mode forward (evalForward) read back with one host sync: the output [T, n, classes] and, with
 * `spikes`, the output of every spiking layer.
 */
export async function inferWithSpikes(net: Network, host: FloatArray, n: number, rngs: readonly Rng[] | null, spikes: boolean): Promise<{ out: FloatArray; spiking: LayerSpikes[] }> {
  return evalForward(net, host, n, rngs, spikes, async (outT, observed) => {
    const [out, ...values] = await net.backend.read([outT, ...observed.map((o) => o.view)]);
    return { out: out!, spiking: observed.map((o, k) => ({ layer: o.layer, shape: o.view.shape, values: values[k]! })) };
  });
}

/** A spiking layer's spikes over an eval-mode forward, counted on the device. */
export interface LayerSpikeCount {
  layer: NeuronLayer;
  /** Values of the layer's output [T, n, ...]. */
  size: number;
  /** How many of them are spikes. */
  spikes: number;
}

/**
 * Eval-mode forward (evalForward) with the spikes of every spiking layer counted on the device and read
 * back with the output in one host sync; with `keepFirst`, the first spiking layer's output too (for the
 * firing maps). A spiking layer emits exactly 0 or 1, so its sum is the count of values above 0.5
 * (countBad with limit 0.5): an exact integer on every backend.
 */
export async function inferWithSpikeCounts(net: Network, host: FloatArray, n: number, rngs: readonly Rng[] | null, keepFirst: boolean): Promise<{ out: FloatArray; counts: LayerSpikeCount[]; first: LayerSpikes | null }> {
  const b = net.backend;
  return evalForward(net, host, n, rngs, true, async (outT, observed) => {
    const counted = observed.map((o) => b.countBad([o.view], 0.5));
    try {
      const first = keepFirst && observed.length > 0 ? observed[0]! : null;
      const [out, ...rest] = await b.read([outT, ...counted, ...(first ? [first.view] : [])]);
      return {
        out: out!,
        counts: observed.map((o, k) => ({ layer: o.layer, size: o.view.size, spikes: rest[k]![0]! })),
        first: first ? { layer: first.layer, shape: first.view.shape, values: rest[observed.length]! } : null,
      };
    } finally {
      for (const t of counted) b.dispose(t);
    }
  });
}

export async function evaluate(net: Network, src: SampleSource, indices: Uint32Array, batchSize: number, opts: EvalOptions = {}): Promise<Evaluation> {
  const { T, classes } = net.config;
  const sums = new Map<number, { spikes: number; count: number }>();
  const perClass = Array.from({ length: classes }, () => ({ correct: 0, total: 0 }));
  const nMaps = opts.firingRates ? Math.min(opts.maps ?? 4, indices.length) : 0;
  let maps: FiringMaps | null = null;
  const rule = opts.ties ?? 'first';
  const M = net.spikesPerClass();
  // per-sample Rngs: random ties, and the draws of a poisson encoder (a sample's spikes do not depend on its batch)
  const random = rule === 'random' || net.config.poolTies === 'random' || net.config.encoder === 'poisson';
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  const samples: SamplePrediction[] = [];
  let ties = 0;
  let correct = 0;
  let done = 0;
  for (const idx of makeBatches(indices, batchSize, { dropLast: false })) {
    if (opts.shouldStop) {
      await new Promise((resolve) => setImmediate(resolve)); // lets a Ctrl-C handler run
      if (opts.shouldStop()) throw new EvalInterrupted();
    }
    const n = idx.length;
    const host = await src.batch(idx, T, null);
    const tally = (counts: readonly LayerSpikeCount[], first: LayerSpikes | null) => {
      for (const { layer, size, spikes } of counts) {
        const acc = sums.get(layer.index) ?? { spikes: 0, count: 0 };
        acc.spikes += spikes;
        acc.count += size;
        sums.set(layer.index, acc);
      }
      if (first) fillMaps(first.layer, first.values, first.shape, idx, src, done, nMaps);
    };
    const fillMaps = (layer: NeuronLayer, s: ArrayLike<number>, shape: readonly number[], ids: Uint32Array, source: SampleSource, offset: number, want: number) => {
      const per = shape.slice(2).reduce((p, d) => p * d, 1);
      maps ??= { layer: layer.index, token: layer.token, shape: shape.slice(2), samples: [] };
      for (let k = 0; k < ids.length && offset + k < want; k++) {
        const rates = new Array<number>(per).fill(0);
        for (let t = 0; t < T; t++) for (let j = 0; j < per; j++) rates[j]! += s[(t * ids.length + k) * per + j]! / T;
        maps.samples.push({ index: ids[k]!, label: source.labels[ids[k]!]!, rates: rates.map((r) => Math.round(r * 1000) / 1000) });
      }
    };
    const rngs = random ? Array.from(idx, (i) => sampleRng(opts.seed ?? 0, i)) : null;
    let out: FloatArray;
    if (opts.firingRates) {
      const r = await inferWithSpikeCounts(net, host, n, rngs, done < nMaps);
      tally(r.counts, r.first);
      out = r.out;
    } else out = (await inferWithSpikes(net, host, n, rngs, false)).out;
    const r = readout(out, T, n, classes, M, rule, rngs); // exact counts, Sec. 3.7
    for (let k = 0; k < n; k++) {
      const label = src.labels[idx[k]!]!;
      const p = r.predictions[k]!;
      perClass[label]!.total++;
      confusion[label]![p]!++;
      ties += r.tied[k]!;
      if (p === label) {
        correct++;
        perClass[label]!.correct++;
      }
      if (opts.keepSamples) samples.push({ index: idx[k]!, label, predicted: p, counts: Array.from(r.scores.subarray(k * classes, (k + 1) * classes)), tied: r.tied[k] === 1 });
    }
    done += n;
    opts.progress?.(done, indices.length);
  }
  return {
    accuracy: done ? correct / done : 0,
    correct,
    total: done,
    perClass: perClass.map((p, i) => ({ class: src.classes[i] ?? String(i), ...p, accuracy: p.total ? p.correct / p.total : 0 })),
    firingRates: [...sums].map(([layer, s]) => ({ layer, rate: s.spikes / s.count })),
    firingMaps: maps,
    tieRule: rule,
    ties,
    confusion,
    ...(opts.keepSamples ? { samples } : {}),
  };
}
