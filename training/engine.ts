// The epoch loop of a run, with no I/O: what `plif train` (training/loop.ts: files, signals, the lock) and the
// browser page (web/session.ts: its worker and figures) both run. It owns the run's sample indices, the seeded
// RNG streams, the checked training step (forward, loss, backward, Adam, the divergence check, one readback),
// the state accounting a checkpoint resumes from, the evaluation passes and the epoch's metrics; the callers
// supply what happens around it through hooks.
import type { Backend } from '../core/backend.js';
import { buildNetwork, type Network, type NetworkConfig } from '../core/network/network.js';
import { createAdam, epochLr, type AdamState } from '../core/network/train.js';
import { Rng } from '../core/rng.js';
import { stratifiedSubset, trainingBatches, validationSplit } from '../data/splits.js';
import type { TrainingState } from './checkpoint-state.js';
import type { TrainConfig } from './config.js';
import { EvalInterrupted, evaluate, type Evaluation } from './evaluate.js';
import { checkedTrainStep, finiteTaus, STREAM, streamRng, type GoodStep } from './recipe.js';
import type { SampleSource } from './sample-source.js';

export interface EpochMetrics {
  epoch: number;
  lr: number;
  train_loss: number;
  train_acc: number;
  val_acc?: number;
  test_acc: number;
  /** Test samples whose highest spike count is shared by two or more classes (core/readout.ts); absent in older runs' metrics. */
  test_ties?: number;
  /** tau of every neuron layer with a tau, by layer index and token. */
  tau: { layer: number; tau: number }[];
  /** Mean firing rate of every spiking layer on the test pass. */
  firing_rate: { layer: number; rate: number }[];
  seconds: number;
  samples_per_s: number;
}

/**
 * A point of the training curve (train-curve.jsonl): the running loss and accuracy of an epoch so far
 * (as the progress bar shows them) and tau of every PLIF layer, recorded TRAIN_RECORDS_PER_EPOCH times
 * per epoch. It stands at `epoch + batch / batches` epochs trained.
 */
export interface TrainRecord {
  epoch: number;
  /** Batches of the epoch done. */
  batch: number;
  batches: number;
  /** Training samples of the epoch so far. */
  samples: number;
  train_loss: number;
  train_acc: number;
  tau: { layer: number; tau: number }[];
}

/**
 * The metrics line of a finished epoch and the state the next epoch starts from (the best epoch by validation
 * accuracy when there is a validation set, else by test accuracy).
 */
export async function finishEpoch(
  net: Network,
  state: TrainingState,
  epoch: number,
  lr: number,
  trainSeconds: number,
  test: Evaluation,
  val: Evaluation | null,
): Promise<{ metrics: EpochMetrics; next: TrainingState }> {
  const metrics: EpochMetrics = {
    epoch,
    lr,
    train_loss: state.lossSum / state.seen,
    train_acc: state.correct / state.seen,
    ...(val ? { val_acc: val.accuracy } : {}),
    test_acc: test.accuracy,
    test_ties: test.ties,
    tau: await finiteTaus(net),
    firing_rate: test.firingRates,
    seconds: trainSeconds,
    samples_per_s: state.seen / trainSeconds,
  };
  const score = val ? val.accuracy : test.accuracy;
  const isBest = state.best === null || score > state.best.score;
  const next: TrainingState = { ...freshState(), epoch: epoch + 1, best: isBest ? { epoch, score } : state.best };
  return { metrics, next };
}

/** How many points of the training curve an epoch records (fewer when it has fewer batches). */
export const TRAIN_RECORDS_PER_EPOCH = 10;

/**
 * Whether the curve records a point after `done` of `batches` batches: when `done` crosses a tenth of the
 * epoch, which its last batch always does (10·b/b = 10 > ⌊10·(b−1)/b⌋).
 */
export function recordsAfter(done: number, batches: number): boolean {
  return Math.floor((TRAIN_RECORDS_PER_EPOCH * done) / batches) > Math.floor((TRAIN_RECORDS_PER_EPOCH * (done - 1)) / batches);
}

/**
 * What a new run starts from, in plif train and the page alike: the network initialised from the seed's init
 * stream, fresh Adam moments, a fresh state.
 */
export function startRun(backend: Backend, c: TrainConfig, network: NetworkConfig): { net: Network; adam: AdamState; state: TrainingState } {
  const net = buildNetwork(backend, network, streamRng(c.seed, 0, STREAM.init));
  return { net, adam: createAdam(net, { lr: c.lr }), state: freshState() };
}

/** The state of a run that has not trained yet. */
export function freshState(): TrainingState {
  return { epoch: 0, batch: 0, lossSum: 0, correct: 0, seen: 0, dropoutRng: null, augmentRng: null, seconds: 0, best: null };
}

export interface RunIndices {
  train: Uint32Array;
  val: Uint32Array;
  test: Uint32Array;
}

/** The test samples a run evaluates on: the first limitTest (all without it). */
export function testIndices(c: Pick<TrainConfig, 'limitTest'>, test: Pick<SampleSource, 'n'>): Uint32Array {
  return Uint32Array.from({ length: Math.min(test.n, c.limitTest ?? test.n) }, (_, i) => i);
}

/** Sample indices of a run: the validation split of Supplementary 7, then the limits. */
export function runIndices(c: TrainConfig, train: Pick<SampleSource, 'n' | 'labels'>, test: Pick<SampleSource, 'n'>): RunIndices {
  let tr: Uint32Array<ArrayBufferLike> = Uint32Array.from({ length: train.n }, (_, i) => i);
  let val: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  if (c.val > 0) ({ train: tr, val } = validationSplit(train.labels, 1 - c.val));
  if (c.limitTrain !== null) tr = tr.subarray(0, c.limitTrain);
  // A limited run validates on a stratified part of the held-out samples (its first ones may hold a few classes only).
  if (c.limitTrain !== null && val.length > 0) val = stratifiedSubset(val, train.labels, Math.max(1, Math.round((c.limitTrain * c.val) / (1 - c.val))));
  const te = testIndices(c, test);
  if (tr.length < c.batch) throw new RangeError(`only ${tr.length} training samples for batch size ${c.batch} (drop-last leaves no batch)`);
  return { train: tr, val, test: te };
}

/** A run in progress: the engine advances `state` and appends to `metrics`. */
export interface EngineRun {
  config: TrainConfig;
  net: Network;
  adam: AdamState;
  state: TrainingState;
  metrics: EpochMetrics[];
}

/** A finished, checked training step, as the engine reports it. */
export interface StepInfo {
  epoch: number;
  /** Batches of the epoch done (1-based). */
  batch: number;
  batches: number;
  /** Samples in this step's batch. */
  samples: number;
  step: GoodStep;
  /** Training seconds of the epoch so far (evaluation excluded). */
  seconds: number;
}

export interface EngineHooks {
  /** Between batches (and during evaluation when evalStops): true stops the run there. */
  shouldStop?(): boolean;
  /** Stops the evaluation passes too (between their batches). */
  evalStops?: boolean;
  /** Runs before each batch: back to the event loop (signals), or to the page's messages. */
  pause?(): Promise<void>;
  epochStart?(epoch: number, batches: number, lr: number): void;
  step?(s: StepInfo): void;
  /** A point of the training curve, TRAIN_RECORDS_PER_EPOCH times per epoch. */
  curvePoint?(p: TrainRecord): Promise<void> | void;
  evalStart?(what: 'val' | 'test', samples: number): void;
  /** The epoch is finished and `run.state` already stands at the next one; `best`: this epoch is the best so far. */
  epochEnd?(m: EpochMetrics, test: Evaluation, best: boolean): Promise<void> | void;
}

export type EngineOutcome =
  | { status: 'done' }
  /** shouldStop() turned true: run.state holds where to resume (the epoch's RNG states included). */
  | { status: 'stopped' }
  | { status: 'diverged'; epoch: number; batch: number; loss: number; what: string; value: number };

/** Trains `run` until its epochs are done, shouldStop() turns true, or a step diverges. */
export async function trainEpochs(run: EngineRun, src: { train: SampleSource; test: SampleSource }, idx: RunIndices, hooks: EngineHooks = {}): Promise<EngineOutcome> {
  const c = run.config;
  const { net, adam } = run;
  for (; run.state.epoch < c.epochs; ) {
    const state = run.state;
    const epoch = state.epoch;
    const lr = epochLr(adam, epoch, c.tMax);
    const batches = trainingBatches(idx.train, c.batch, streamRng(c.seed, epoch, STREAM.shuffle));
    const dropout = state.dropoutRng ? Rng.fromState(state.dropoutRng) : streamRng(c.seed, epoch, STREAM.dropout);
    const augment = state.augmentRng ? Rng.fromState(state.augmentRng) : streamRng(c.seed, epoch, STREAM.augment);
    // where a stopped run resumes: this epoch, this batch, these RNG states
    const stopAt = (seconds: number): EngineOutcome => {
      state.seconds = seconds;
      state.dropoutRng = [...dropout.state()];
      state.augmentRng = [...augment.state()];
      return { status: 'stopped' };
    };
    hooks.epochStart?.(epoch, batches.length, lr);
    const t0 = performance.now();
    const seconds = () => state.seconds + (performance.now() - t0) / 1000;
    for (; state.batch < batches.length; state.batch++) {
      await hooks.pause?.();
      if (hooks.shouldStop?.()) return stopAt(seconds());
      const ids = batches[state.batch]!;
      const x = await src.train.batch(ids, c.T, augment);
      const labels = Int32Array.from(ids, (i) => src.train.labels[i]!);
      // a non-finite loss or gradient, or a non-finite or runaway parameter, stops the run; nothing is saved from it
      const r = await checkedTrainStep(net, adam, { x, labels }, dropout, lr);
      if (!r.ok) return { status: 'diverged', epoch, batch: state.batch, loss: r.loss, what: r.what, value: r.value };
      state.lossSum += r.loss * ids.length;
      state.correct += r.correct;
      state.seen += ids.length;
      const done = state.batch + 1;
      hooks.step?.({ epoch, batch: done, batches: batches.length, samples: ids.length, step: r, seconds: seconds() });
      if (recordsAfter(done, batches.length)) await hooks.curvePoint?.({ epoch, batch: done, batches: batches.length, samples: state.seen, train_loss: state.lossSum / state.seen, train_acc: state.correct / state.seen, tau: r.tau });
    }
    const trainSeconds = seconds();
    let val: Evaluation | null = null;
    let test: Evaluation;
    try {
      // seed of the evaluation's per-sample Rngs (random pool ties); a function of (seed, epoch) only
      const opts = { ...(hooks.evalStops && hooks.shouldStop ? { shouldStop: hooks.shouldStop } : {}), seed: streamRng(c.seed, epoch, STREAM.evalSeed).nextUint32() };
      if (idx.val.length > 0) {
        hooks.evalStart?.('val', idx.val.length);
        val = await evaluate(net, src.train, idx.val, c.evalBatch, opts);
      }
      hooks.evalStart?.('test', idx.test.length);
      test = await evaluate(net, src.test, idx.test, c.evalBatch, { firingRates: true, ...opts });
    } catch (err) {
      if (!(err instanceof EvalInterrupted)) throw err;
      // the epoch's training is done (state.batch = batches.length): a resume goes straight to its evaluation
      return stopAt(trainSeconds);
    }
    const { metrics: m, next } = await finishEpoch(net, state, epoch, lr, trainSeconds, test, val);
    run.metrics.push(m);
    run.state = next;
    await hooks.epochEnd?.(m, test, next.best?.epoch === epoch);
  }
  return { status: 'done' };
}
