// Training API: Adam state over a network's parameters, one training step (forward over T, MSE loss,
// backward, Adam update), and prediction (argmax of the exact spike counts, Sec. 3.7).
import type { Backend, Tensor } from '../backend.js';
import { predict } from '../loss.js';
import { adamConfig, cosineAnnealingLr, type AdamConfig } from '../optim.js';
import type { FloatArray } from '../types.js';
import type { Rng } from '../rng.js';
import type { Network } from './network.js';

export interface AdamState {
  config: AdamConfig;
  /** Number of updates done so far (the next update uses step + 1 in the bias corrections). */
  step: number;
  /** First and second moments, one per network parameter, in network.params() order. */
  m: Tensor[];
  v: Tensor[];
}

export function createAdam(net: Network, partial: Partial<AdamConfig> = {}): AdamState {
  const b = net.backend;
  const ps = net.params();
  return { config: adamConfig(partial), step: 0, m: ps.map((p) => b.zeros(p.value.shape)), v: ps.map((p) => b.zeros(p.value.shape)) };
}

export function disposeAdam(b: Backend, s: AdamState): void {
  for (const t of [...s.m, ...s.v]) b.dispose(t);
  s.m = [];
  s.v = [];
}

/** One Adam update of every parameter with a gradient, at learning rate `lr` (default the config's). */
export function adamUpdate(net: Network, s: AdamState, lr = s.config.lr): void {
  const b = net.backend;
  s.step++;
  net.params().forEach((p, i) => {
    if (!p.grad) return;
    b.adam(p.value, p.grad, s.m[i]!, s.v[i]!, { ...s.config, lr, step: s.step });
  });
}

/** The learning rate of an epoch under the paper's schedule (cosine annealing, T_max = 64, per epoch). */
export function epochLr(s: AdamState, epoch: number, tMax = 64): number {
  return cosineAnnealingLr(s.config.lr, epoch, tMax);
}

export interface Batch {
  /** Host input: [N, C, H, W] (static) or [T, N, C, H, W] (events), row-major. */
  x: FloatArray;
  labels: Int32Array;
}

export interface StepResult {
  loss: number;
  predictions: Int32Array;
  correct: number;
}

function uploadBatch(net: Network, batch: Batch): Tensor {
  const N = batch.labels.length;
  const shape = net.inputShape(N);
  const size = shape.reduce((a, c) => a * c, 1);
  if (batch.x.length !== size) throw new RangeError(`batch input has ${batch.x.length} values, expected [${shape.join(', ')}] = ${size}`);
  for (const l of batch.labels) if (!(l >= 0 && l < net.config.classes)) throw new RangeError(`label ${l} outside 0..${net.config.classes - 1}`);
  return net.backend.upload(batch.x, shape);
}

/**
 * Forward + loss + backward, leaving gradients in net.params()[i].grad (no update). Used by trainStep and
 * by the conformance proofs, which compare these gradients across backends.
 */
export function lossAndGradients(net: Network, batch: Batch, rng: Rng): StepResult {
  const b = net.backend;
  const x = uploadBatch(net, batch);
  try {
    const out = net.forward(x, { training: true, rng });
    const o = b.download(out);
    const { loss, grad } = b.mseLoss(out, batch.labels, net.config.loss);
    net.backward(grad);
    b.dispose(grad);
    const N = batch.labels.length;
    const predictions = predict(o, net.config.T, N, net.config.classes, net.spikesPerClass());
    let correct = 0;
    for (let i = 0; i < N; i++) if (predictions[i] === batch.labels[i]) correct++;
    return { loss, predictions, correct };
  } finally {
    net.release();
    b.dispose(x);
  }
}

/** One training step: forward over T, loss, backward, Adam update. */
export function trainStep(net: Network, opt: AdamState, batch: Batch, rng: Rng, lr?: number): StepResult {
  const r = lossAndGradients(net, batch, rng);
  adamUpdate(net, opt, lr);
  net.zeroGrad();
  return r;
}

/**
 * Eval-mode output [T, N, classes] on the host (running BN statistics, no dropout). rng: for a network
 * with random pool ties (their draws), one Rng for the batch or one per sample.
 */
export function inferBatch(net: Network, x: FloatArray, n: number, rng: Rng | readonly Rng[] | null = null): FloatArray {
  const b = net.backend;
  const xt = b.upload(x, net.inputShape(n));
  try {
    return b.download(net.forward(xt, Array.isArray(rng) ? { training: false, rng: null, sampleRngs: rng } : { training: false, rng: rng as Rng | null }));
  } finally {
    net.release();
    b.dispose(xt);
  }
}

/** Predicted classes: argmax of the exact spike counts (Sec. 3.7, core/readout.ts), ties -> the first class. */
export function predictBatch(net: Network, x: FloatArray, n: number, rng: Rng | readonly Rng[] | null = null): Int32Array {
  return predict(inferBatch(net, x, n, rng), net.config.T, n, net.config.classes, net.spikesPerClass());
}
