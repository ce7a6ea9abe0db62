// A training run of the browser page: the epoch loop `plif train` runs (training/engine.ts), on data held in
// memory, with no file I/O; this file adds only the page's reports (steps, epochs, a spike raster). The same
// seed gives the same run as `plif train` on the same backend, and the same checkpoint bytes
// (training/checkpoint-state.ts), so a checkpoint of either continues on the other. Nothing here touches the
// DOM: the page's worker drives it, and test/training/engine.test.ts runs it in Node against the CLI.
import type { Backend } from '../core/backend.js';
import { predict } from '../core/loss.js';
import type { Network, NetworkConfig } from '../core/network/network.js';
import { disposeAdam, type AdamState } from '../core/network/train.js';
import { trainingCheckpointBytes, type TrainingState } from '../training/checkpoint-state.js';
import type { TrainConfig } from '../training/config.js';
import { evaluate, inferWithSpikes, type Evaluation, type FiringMaps } from '../training/evaluate.js';
import { runIndices, startRun, testIndices, trainEpochs, type EngineOutcome, type EpochMetrics } from '../training/engine.js';
import { trainNetworkConfig } from '../training/recipe.js';
import type { SampleSource } from '../training/sample-source.js';

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

export type SessionOutcome = EngineOutcome;

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

/** A new run: the network initialised from the seed's stream 0, fresh Adam moments (as plif train). */
export function newRun(backend: Backend, config: TrainConfig): RunState {
  const network = trainNetworkConfig(config);
  return { config, network, ...startRun(backend, config, network), metrics: [] };
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
  const ev = o.events ?? {};
  const outcome = await trainEpochs(run, src, runIndices(run.config, src.train, src.test), {
    ...(o.pause ? { pause: o.pause } : {}),
    ...(o.shouldStop ? { shouldStop: o.shouldStop } : {}),
    step: (s) => {
      const st = run.state;
      ev.step?.({ epoch: s.epoch, batch: s.batch, batches: s.batches, loss: s.step.loss, acc: s.step.correct / s.samples, meanLoss: st.lossSum / st.seen, meanAcc: st.correct / st.seen, samplesPerS: st.seen / s.seconds, seconds: s.seconds, tau: s.step.tau });
    },
    evalStart: (what, samples) => ev.evalStart?.(what, samples),
    epochEnd: async (m, test) => ev.epoch?.({ metrics: m, firingMaps: test.firingMaps, raster: await spikeRaster(run.net, src.test, 0, o.rasterLimit ?? 256) }),
  });
  return outcome;
}

/** Evaluation of the run's network on its test samples (eval mode), e.g. of a loaded checkpoint. */
export async function evaluateRun(run: RunState, src: Sources): Promise<Evaluation> {
  return evaluate(run.net, src.test, testIndices(run.config, src.test), run.config.evalBatch, { firingRates: true });
}

/**
 * Spikes of test sample `index` through every spiking layer, in eval mode (running BN statistics, no dropout):
 * per layer [T][shown] bytes of the neurons that fire (at most the `limit` that fire most, in index order).
 */
export async function spikeRaster(net: Network, src: SampleSource, index: number, limit: number): Promise<SpikeRaster> {
  const { T, classes } = net.config;
  const { out, spiking } = await inferWithSpikes(net, await src.batch(Uint32Array.of(index), T, null), 1, null, true);
  const layers = spiking.map(({ layer, values: s }) => {
    const neurons = s.length / T; // s: [T, 1, ...]
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
    return { layer: layer.index, token: layer.token, neurons, active, shown, spikes: bits };
  });
  const prediction = predict(out, T, 1, classes, net.spikesPerClass())[0]!;
  return { sample: index, label: src.labels[index]!, prediction, T, layers };
}
