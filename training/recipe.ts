// What a training run computes, wherever it runs (the CLI's loop, the browser page): the network of a run's
// settings, the seeded RNG streams of every epoch, and the divergence check of a step. No I/O here.
import type { NetworkConfig } from '../core/network/network.js';
import { networkConfig, presetConfig, type Network } from '../core/network/network.js';
import { presetByName, withChannels } from '../core/network/presets.js';
import { Rng } from '../core/rng.js';
import type { TrainingState } from './checkpoint-state.js';
import type { TrainConfig } from './config.js';
import type { Evaluation } from './evaluate.js';
import type { EpochMetrics } from './loop.js';

/** A parameter beyond this magnitude is taken as divergence (the network's weights are of order 1). */
export const PARAMETER_LIMIT = 1e6;

/** The first non-finite gradient, or non-finite / runaway parameter value, of the network; null when all are good. */
export function firstBad(net: Network, field: 'grad' | 'value'): { what: string; value: number } | null {
  for (const p of net.params()) {
    const t = field === 'grad' ? p.grad : p.value;
    if (!t) continue;
    const d = net.backend.download(t);
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (Number.isFinite(v) && (field === 'grad' || Math.abs(v) <= PARAMETER_LIMIT)) continue;
      return field === 'grad' ? { what: `the gradient of parameter ${p.name}`, value: v } : { what: `parameter ${p.name}`, value: v };
    }
  }
  return null;
}

/** RNG of one stream of one epoch: 0 init, 1 shuffle, 2 dropout (and random pool ties of training steps), 3 augmentation, 4 evaluation seed. */
export function streamRng(seed: number, epoch: number, stream: number): Rng {
  let h = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (epoch + 0x632be5ab), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (stream + 0x1b873593), 0xc2b2ae35) >>> 0;
  return Rng.seeded(h ^ (h >>> 16));
}

/** The network a run trains (from its preset and settings), before any data is seen. */
export function trainNetworkConfig(c: TrainConfig): NetworkConfig {
  const opts = { T: c.T, loss: c.loss, tau0: c.tau0, neuronKind: c.neuron, pool: c.pool, poolTies: c.poolTies, vThreshold: c.vThreshold, vReset: c.vReset, detachReset: c.detachReset, surrogate: { name: c.surrogate.name, alpha: c.surrogate.alpha }, encoder: c.encoder };
  const p = presetByName(c.preset);
  const structure = c.structure ?? p.structure;
  return c.channels || c.structure ? networkConfig(c.channels ? withChannels(structure, c.channels) : structure, p.input, p.classes, { static: p.static, ...opts }) : presetConfig(c.preset, opts);
}

/** tau of every PLIF/LIF layer (the layers whose tau is a number), as metrics record it. */
export function finiteTaus(net: Network): { layer: number; tau: number }[] {
  return net.taus().filter((t) => Number.isFinite(t.tau)).map((t) => ({ layer: t.index, tau: t.tau }));
}

/**
 * The metrics line of a finished epoch and the state the next epoch starts from (the best epoch by validation
 * accuracy when there is a validation set, else by test accuracy).
 */
export function finishEpoch(
  net: Network,
  state: TrainingState,
  epoch: number,
  lr: number,
  trainSeconds: number,
  test: Evaluation,
  val: Evaluation | null,
): { metrics: EpochMetrics; next: TrainingState } {
  const metrics: EpochMetrics = {
    epoch,
    lr,
    train_loss: state.lossSum / state.seen,
    train_acc: state.correct / state.seen,
    ...(val ? { val_acc: val.accuracy } : {}),
    test_acc: test.accuracy,
    test_ties: test.ties,
    tau: finiteTaus(net),
    firing_rate: test.firingRates,
    seconds: trainSeconds,
    samples_per_s: state.seen / trainSeconds,
  };
  const score = val ? val.accuracy : test.accuracy;
  const isBest = state.best === null || score > state.best.score;
  const next: TrainingState = { epoch: epoch + 1, batch: 0, lossSum: 0, correct: 0, seen: 0, dropoutRng: null, augmentRng: null, seconds: 0, best: isBest ? { epoch, score } : state.best };
  return { metrics, next };
}
