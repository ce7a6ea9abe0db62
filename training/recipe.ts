// What a training run computes, wherever it runs (the CLI's loop, the browser page): the network of a run's
// settings, the seeded RNG streams of every epoch, and the divergence check of a step. No I/O here.
import type { NetworkConfig } from '../core/network/network.js';
import { networkConfig, type Network } from '../core/network/network.js';
import { presetByName, withChannels } from '../core/network/presets.js';
import { Rng } from '../core/rng.js';
import { adamUpdate, recordStep, type AdamState, type Batch } from '../core/network/train.js';
import type { TrainConfig } from './config.js';

/** A parameter beyond this magnitude is taken as divergence (the network's weights are of order 1). */
export const PARAMETER_LIMIT = 1e6;

/** The first non-finite gradient, or non-finite / runaway parameter value, of the network; null when all are good. */
export async function firstBad(net: Network, field: 'grad' | 'value'): Promise<{ what: string; value: number } | null> {
  const ps = net.params().filter((p) => (field === 'grad' ? p.grad : p.value));
  const values = await net.backend.read(ps.map((p) => (field === 'grad' ? p.grad! : p.value)));
  for (let k = 0; k < ps.length; k++) {
    const d = values[k]!;
    for (let i = 0; i < d.length; i++) {
      const v = d[i]!;
      if (Number.isFinite(v) && (field === 'grad' || Math.abs(v) <= PARAMETER_LIMIT)) continue;
      return field === 'grad' ? { what: `the gradient of parameter ${ps[k]!.name}`, value: v } : { what: `parameter ${ps[k]!.name}`, value: v };
    }
  }
  return null;
}

/** A training step that went well: its loss, correct predictions and the PLIF layers' tau after the update. */
export interface GoodStep {
  ok: true;
  loss: number;
  correct: number;
  tau: { layer: number; tau: number }[];
}
/** A step that diverged: what went bad first (the loss, a gradient, a parameter) and its value. */
export interface DivergedStep {
  ok: false;
  loss: number;
  what: string;
  value: number;
}

/**
 * One training step of a run, checked (the CLI's loop and the page run this): forward, loss, backward, the
 * Adam update at `lr`, and the divergence check, all recorded on the backend and read back with ONE host
 * sync: the output, the number of non-finite gradients (counted before the update), the number of
 * non-finite or runaway parameters (after it) and the PLIF parameters. Only when a count is not zero are
 * the values read again, to name the first bad one. A diverged step's state is never saved by the callers.
 */
export async function checkedTrainStep(net: Network, adam: AdamState, batch: Batch, rng: Rng, lr: number): Promise<GoodStep | DivergedStep> {
  const b = net.backend;
  const { result: r, extra } = await recordStep(net, batch, rng, () => {
    const grads = net.params().flatMap((p) => (p.grad ? [p.grad] : []));
    const badGrads = b.countBad(grads, Infinity);
    adamUpdate(net, adam, lr);
    const badParams = b.countBad(net.params().map((p) => p.value), PARAMETER_LIMIT);
    return [badGrads, badParams, ...net.tauTensors().map((a) => b.reshape(a, a.shape))];
  });
  try {
    const [badGrads, badParams, ...aValues] = extra;
    if (!Number.isFinite(r.loss)) return { ok: false, loss: r.loss, what: 'the loss', value: r.loss };
    if (badGrads![0]! > 0) return { ok: false, loss: r.loss, ...((await firstBad(net, 'grad')) ?? { what: 'a gradient', value: NaN }) };
    if (badParams![0]! > 0) return { ok: false, loss: r.loss, ...((await firstBad(net, 'value')) ?? { what: 'a parameter', value: NaN }) };
    return { ok: true, loss: r.loss, correct: r.correct, tau: metricTaus(net.taus(aValues)) };
  } finally {
    net.zeroGrad();
  }
}

/**
 * The RNG streams of an epoch (streamRng(seed, epoch, stream)): the network's initialisation, the batch
 * shuffle, dropout (and random pool ties of training steps), augmentation, the evaluation's seed.
 */
export const STREAM = Object.freeze({ init: 0, shuffle: 1, dropout: 2, augment: 3, evalSeed: 4 } as const);
export type StreamId = (typeof STREAM)[keyof typeof STREAM];

/** RNG of one stream of one epoch (pinned by test/training/recipe-engine.test.ts: saved runs resume on it). */
export function streamRng(seed: number, epoch: number, stream: StreamId): Rng {
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
  // opts carries the run's T, so a preset's own T never applies here
  return networkConfig(c.channels ? withChannels(structure, c.channels) : structure, p.input, p.classes, { static: p.static, ...opts });
}

/** tau of every PLIF/LIF layer (the layers whose tau is a number), as metrics record it. */
export async function finiteTaus(net: Network): Promise<{ layer: number; tau: number }[]> {
  return metricTaus(await net.readTaus());
}

/** Network#taus() as metrics record them: the layers whose tau is a number (IF layers have none). */
function metricTaus(taus: { index: number; tau: number }[]): { layer: number; tau: number }[] {
  return taus.filter((t) => Number.isFinite(t.tau)).map((t) => ({ layer: t.index, tau: t.tau }));
}

