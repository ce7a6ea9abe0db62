// A training run of the browser page: the CLI's recipe (training/loop.ts) step for step, on data held in
// memory, with no file I/O. The same seed gives the same shuffles, dropout masks and augmentations as
// `plif train` (training/recipe.ts streamRng), the same step (core lossAndGradients + adamUpdate), the same
// evaluation (training/evaluate.ts) and the same checkpoint bytes (training/checkpoint-state.ts), so a run
// here and on the CLI's CPU backend agree bit for bit, and a checkpoint of either continues on the other.
// Nothing here touches the DOM: the page's worker drives it, and the tests run it in Node too.
import type { Backend, Tensor } from '../core/backend.js';
import { predict } from '../core/loss.js';
import { NeuronLayer } from '../core/network/layers.js';
import { buildNetwork, type Network, type NetworkConfig } from '../core/network/network.js';
import { createAdam, disposeAdam, epochLr, type AdamState } from '../core/network/train.js';
import { Rng } from '../core/rng.js';
import { stratifiedSubset, trainingBatches, validationSplit } from '../data/splits.js';
import { trainingCheckpointBytes, type TrainingState } from '../training/checkpoint-state.js';
import type { TrainConfig } from '../training/config.js';
import { evaluate, type Evaluation, type FiringMaps } from '../training/evaluate.js';
import type { EpochMetrics } from '../training/loop.js';
import { checkedTrainStep, finishEpoch, streamRng, trainNetworkConfig } from '../training/recipe.js';
import type { SampleSource } from '../training/source.js';

/** One finished training step. */
export interface StepReport {
  epoch: number;
  /** 1-based batch of the epoch. */
  batch: number;
  batches: number;
  /** Loss of this step's batch (not the running mean). */
  loss: number;
  /** Accuracy of this step's batch. */
  acc: number;
  /** Running means over the epoch so far (what the CLI's progress line shows). */
  meanLoss: number;
  meanAcc: number;
  samplesPerS: number;
  /** Training seconds of the epoch so far (evaluation excluded). */
  seconds: number;
  tau: { layer: number; tau: number }[];
}

/** Spikes of one test sample through every spiking layer: per layer [T][shown] as 0/1 of its firing neurons (the most active). */
export interface SpikeRaster {
  sample: number;
  label: number;
  prediction: number;
  T: number;
  /** neurons: the layer's count; active: how many fired at least once; shown: how many are in `spikes`. */
  layers: { layer: number; token: string; neurons: number; active: number; shown: number; spikes: Uint8Array }[];
}

export interface EpochReport {
  metrics: EpochMetrics;
  firingMaps: FiringMaps | null;
  raster: SpikeRaster;
}

export interface SessionEvents {
  step?(r: StepReport): void;
  evalStart?(what: 'val' | 'test', samples: number): void;
  epoch?(r: EpochReport): void;
}

export type SessionOutcome =
  | { status: 'done' }
  | { status: 'stopped' }
  | { status: 'diverged'; epoch: number; batch: number; loss: number; what: string; value: number };

/** Where a run stands: its network, optimizer, training state and metrics so far. */
export interface RunState {
  config: TrainConfig;
  network: NetworkConfig;
  net: Network;
  adam: AdamState;
  state: TrainingState;
  metrics: EpochMetrics[];
}

export interface Sources {
  train: SampleSource;
  test: SampleSource;
}

/** Sample indices of a run: the validation split of Supplementary 7, then the limits (as training/loop.ts). */
export function runIndices(c: TrainConfig, src: Sources): { train: Uint32Array; val: Uint32Array; test: Uint32Array } {
  let train: Uint32Array<ArrayBufferLike> = Uint32Array.from({ length: src.train.n }, (_, i) => i);
  let val: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  if (c.val > 0) ({ train, val } = validationSplit(src.train.labels, 1 - c.val));
  if (c.limitTrain !== null) train = train.subarray(0, c.limitTrain);
  if (c.limitTrain !== null && val.length > 0) val = stratifiedSubset(val, src.train.labels, Math.max(1, Math.round((c.limitTrain * c.val) / (1 - c.val))));
  const test = Uint32Array.from({ length: Math.min(src.test.n, c.limitTest ?? src.test.n) }, (_, i) => i);
  if (train.length < c.batch) throw new RangeError(`only ${train.length} training samples for batch size ${c.batch} (drop-last leaves no batch)`);
  return { train, val, test };
}

/** A new run: the network initialised from the seed's stream 0, fresh Adam moments (as plif train). */
export function newRun(backend: Backend, config: TrainConfig): RunState {
  const network = trainNetworkConfig(config);
  const net = buildNetwork(backend, network, streamRng(config.seed, 0, 0));
  const adam = createAdam(net, { lr: config.lr });
  const state: TrainingState = { epoch: 0, batch: 0, lossSum: 0, correct: 0, seen: 0, dropoutRng: null, augmentRng: null, seconds: 0, best: null };
  return { config, network, net, adam, state, metrics: [] };
}

export function disposeRun(r: RunState): void {
  disposeAdam(r.net.backend, r.adam);
  r.net.dispose();
}

/** The run's checkpoint: the bytes plif train writes as last.safetensors at this point of the run. */
export function checkpointBytes(r: RunState, version: string): Promise<Uint8Array> {
  return trainingCheckpointBytes(r.net, r.adam, { config: r.config, state: r.state, version });
}

/**
 * Trains `run` until its epochs are done, `shouldStop()` turns true between two batches (the state then holds
 * the epoch's RNG states, like the CLI's interrupt checkpoint), or a step diverges. `pause()` runs between
 * batches (the worker answers its messages there).
 */
export async function train(run: RunState, src: Sources, o: { events?: SessionEvents; shouldStop?: () => boolean; pause?: () => Promise<void>; rasterLimit?: number }): Promise<SessionOutcome> {
  const c = run.config;
  const ev = o.events ?? {};
  const { train: trainIdx, val: valIdx, test: testIdx } = runIndices(c, src);
  const { net, adam } = run;
  for (; run.state.epoch < c.epochs; ) {
    const state = run.state;
    const epoch = state.epoch;
    const lr = epochLr(adam, epoch, c.tMax);
    const batches = trainingBatches(trainIdx, c.batch, streamRng(c.seed, epoch, 1));
    const dropout = state.dropoutRng ? Rng.fromState(state.dropoutRng) : streamRng(c.seed, epoch, 2);
    const augment = state.augmentRng ? Rng.fromState(state.augmentRng) : streamRng(c.seed, epoch, 3);
    let t0 = performance.now();
    for (; state.batch < batches.length; state.batch++) {
      await o.pause?.();
      if (o.shouldStop?.()) {
        state.seconds += (performance.now() - t0) / 1000;
        state.dropoutRng = [...dropout.state()];
        state.augmentRng = [...augment.state()];
        return { status: 'stopped' };
      }
      const idx = batches[state.batch]!;
      const x = await src.train.batch(idx, c.T, augment);
      const labels = Int32Array.from(idx, (i) => src.train.labels[i]!);
      const r = await checkedTrainStep(net, adam, { x, labels }, dropout, lr);
      if (!r.ok) return { status: 'diverged', epoch, batch: state.batch, loss: r.loss, what: r.what, value: r.value };
      state.lossSum += r.loss * idx.length;
      state.correct += r.correct;
      state.seen += idx.length;
      const elapsed = state.seconds + (performance.now() - t0) / 1000;
      ev.step?.({
        epoch,
        batch: state.batch + 1,
        batches: batches.length,
        loss: r.loss,
        acc: r.correct / idx.length,
        meanLoss: state.lossSum / state.seen,
        meanAcc: state.correct / state.seen,
        samplesPerS: state.seen / elapsed,
        seconds: elapsed,
        tau: r.tau,
      });
    }
    const trainSeconds = state.seconds + (performance.now() - t0) / 1000;
    // seed of the evaluation's per-sample Rngs (random pool ties); a function of (seed, epoch) only
    const seed = streamRng(c.seed, epoch, 4).nextUint32();
    let val: Evaluation | null = null;
    if (valIdx.length > 0) {
      ev.evalStart?.('val', valIdx.length);
      val = await evaluate(net, src.train, valIdx, c.evalBatch, { seed });
    }
    ev.evalStart?.('test', testIdx.length);
    const test = await evaluate(net, src.test, testIdx, c.evalBatch, { firingRates: true, seed });
    const { metrics: m, next } = await finishEpoch(net, state, epoch, lr, trainSeconds, test, val);
    run.metrics.push(m);
    run.state = next;
    ev.epoch?.({ metrics: m, firingMaps: test.firingMaps, raster: await spikeRaster(net, src.test, 0, o.rasterLimit ?? 256) });
    t0 = performance.now();
  }
  return { status: 'done' };
}

/** Evaluation of the run's network on its test samples (eval mode), e.g. of a loaded checkpoint. */
export async function evaluateRun(run: RunState, src: Sources): Promise<Evaluation> {
  const c = run.config;
  const n = Math.min(src.test.n, c.limitTest ?? src.test.n);
  return evaluate(run.net, src.test, Uint32Array.from({ length: n }, (_, i) => i), c.evalBatch, { firingRates: true });
}

/**
 * Spikes of test sample `index` through every spiking layer, in eval mode (running BN statistics, no dropout):
 * per layer [T][shown] bytes of the neurons that fire (at most the `limit` that fire most, in index order).
 */
export async function spikeRaster(net: Network, src: SampleSource, index: number, limit: number): Promise<SpikeRaster> {
  const b = net.backend;
  const { T, classes } = net.config;
  const layers: SpikeRaster['layers'] = [];
  // the spiking layers' outputs, kept alive (a view each) until they are read back with the network's output
  const observed: { layer: NeuronLayer; view: Tensor }[] = [];
  const observe = (layer: unknown, out: Tensor) => {
    if (layer instanceof NeuronLayer) observed.push({ layer, view: b.reshape(out, out.shape) });
  };
  const x = b.upload(await src.batch(Uint32Array.of(index), T, null), net.inputShape(1));
  let prediction: number;
  try {
    const [o, ...spikes] = await b.read([net.forward(x, { training: false, rng: null, observe }), ...observed.map((v) => v.view)]);
    prediction = predict(o!, T, 1, classes, net.spikesPerClass())[0]!;
    observed.forEach(({ layer }, k) => {
      const s = spikes[k]!; // [T, 1, ...]
      const neurons = s.length / T;
      // the firing neurons, at most the `limit` that fire most (ties: lower index first), in index order
      const count = new Int32Array(neurons);
      for (let t = 0; t < T; t++) for (let j = 0; j < neurons; j++) if (s[t * neurons + j]! > 0) count[j]!++;
      const active = count.reduce((n, c) => n + (c > 0 ? 1 : 0), 0);
      const picked = Array.from({ length: neurons }, (_, j) => j)
        .filter((j) => count[j]! > 0)
        .sort((p, q) => count[q]! - count[p]! || p - q)
        .slice(0, limit)
        .sort((p, q) => p - q);
      const shown = picked.length;
      const bits = new Uint8Array(T * shown);
      for (let t = 0; t < T; t++) picked.forEach((j, i) => (bits[t * shown + i] = s[t * neurons + j]! > 0 ? 1 : 0));
      layers.push({ layer: layer.index, token: layer.token, neurons, active, shown, spikes: bits });
    });
  } finally {
    for (const v of observed) b.dispose(v.view);
    net.release();
    b.dispose(x);
  }
  return { sample: index, label: src.labels[index]!, prediction, T, layers };
}
