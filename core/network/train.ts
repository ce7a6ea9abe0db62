// Training API: Adam state over a network's parameters, one training step (forward over T, MSE loss,
// backward, Adam update), and prediction (argmax of the exact spike counts, Sec. 3.7).
import type { Backend, Tensor } from '../backend.js';
import { PAPER_DEFAULTS } from '../defaults.js';
import { mseLossValue, predict } from '../loss.js';
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
export function epochLr(s: AdamState, epoch: number, tMax: number = PAPER_DEFAULTS.tMax): number {
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
  checkFinite('batch input', batch.x);
  return net.backend.upload(batch.x, shape);
}

/**
 * Refuses a non-finite input value, naming its index: a NaN never reaches a threshold (NaN >= Vth is false),
 * so a NaN input would train silently on silence (loss 0.1 with ten classes) instead of failing.
 */
function checkFinite(what: string, x: FloatArray): void {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) throw new RangeError(`${what} holds a non-finite value at index ${i} (${x[i]}): check the data or its normalisation`);
}

/**
 * One step recorded on the backend and read back once: forward over T, dL/dout, backward (gradients left in
 * net.params()[i].grad), then `after()` (the Adam update, health checks...), whose tensors are read back with
 * the output in one host sync and then disposed. The loss is computed on the host from that output
 * (core/loss.ts mseLossValue), so every backend reports it in float64 from its float32 output.
 */
export async function recordStep(net: Network, batch: Batch, rng: Rng, after: () => Tensor[] = () => []): Promise<{ result: StepResult; extra: FloatArray[] }> {
  const b = net.backend;
  const x = uploadBatch(net, batch);
  let extra: Tensor[] = [];
  try {
    const out = net.forward(x, { training: true, rng, hostInput: batch.x });
    const grad = b.mseLossGrad(out, batch.labels, net.config.loss);
    net.backward(grad);
    b.dispose(grad);
    extra = after();
    const [o, ...values] = await b.read([out, ...extra]);
    const { T, classes } = net.config;
    const N = batch.labels.length;
    const loss = mseLossValue(o!, T, N, classes, batch.labels, net.config.loss);
    // a non-finite loss (a non-finite output) has no prediction: -1 each, for the caller's divergence check
    const predictions = Number.isFinite(loss) ? predict(o!, T, N, classes, net.spikesPerClass()) : new Int32Array(N).fill(-1);
    let correct = 0;
    for (let i = 0; i < N; i++) if (predictions[i] === batch.labels[i]) correct++;
    return { result: { loss, predictions, correct }, extra: values };
  } finally {
    for (const t of extra) b.dispose(t);
    net.release();
    b.dispose(x);
  }
}

/**
 * Forward + loss + backward, leaving gradients in net.params()[i].grad (no update). Used by the conformance
 * proofs, which compare these gradients across backends.
 */
export async function lossAndGradients(net: Network, batch: Batch, rng: Rng): Promise<StepResult> {
  return (await recordStep(net, batch, rng)).result;
}

/** One training step: forward over T, loss, backward, Adam update; one host sync. */
export async function trainStep(net: Network, opt: AdamState, batch: Batch, rng: Rng, lr?: number): Promise<StepResult> {
  const { result } = await recordStep(net, batch, rng, () => {
    adamUpdate(net, opt, lr);
    return [];
  });
  net.zeroGrad();
  return result;
}

/**
 * The arguments of inferBatch / predictBatch: x holds n samples of the network's input shape. Says what is
 * missing or wrong, and what n the length of x implies.
 */
function checkBatchArgs(fn: string, net: Network, x: FloatArray, n: number): void {
  const one = net.inputShape(1);
  const per = one.reduce((a, c) => a * c, 1);
  const sample = net.config.static ? `[${net.config.input.join(', ')}]` : `${net.config.T} steps of [${net.config.input.join(', ')}]`;
  const layout = net.config.static ? '[n, C, H, W]' : '[T, n, C, H, W]';
  if (!ArrayBuffer.isView(x) || x instanceof DataView) {
    const got = x === null ? 'null' : Array.isArray(x) ? 'an Array' : typeof x;
    throw new TypeError(`${fn}(net, x, n): x must be a Float32Array (or Float64Array) of n samples laid out as ${layout}, got ${got}`);
  }
  const implied = x.length % per === 0 ? `; x's ${x.length} values make n = ${x.length / per}` : `; x's ${x.length} values are not a whole number of samples`;
  if (n === undefined) {
    throw new TypeError(`${fn}(net, x, n): the batch size n is missing (the number of samples in x, each ${sample} = ${per} values${implied})`);
  }
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`${fn}(net, x, n): the batch size n must be an integer >= 1, got ${String(n)}${implied}`);
  }
  if (x.length !== n * per) {
    throw new RangeError(`${fn}(net, x, n): x holds ${x.length} values, but n = ${n} samples of ${sample} laid out as ${layout} need ${n * per}${implied}`);
  }
}

/**
 * Eval-mode output [T, N, classes] on the host (running BN statistics, no dropout). rng: for a network
 * with random pool ties (their draws), one Rng for the batch or one per sample.
 */
export async function inferBatch(net: Network, x: FloatArray, n: number, rng: Rng | readonly Rng[] | null = null): Promise<FloatArray> {
  checkBatchArgs('inferBatch', net, x, n);
  checkFinite('inferBatch input', x);
  const b = net.backend;
  const xt = b.upload(x, net.inputShape(n));
  try {
    const [out] = await b.read([net.forward(xt, { ...(Array.isArray(rng) ? { training: false, rng: null, sampleRngs: rng } : { training: false, rng: rng as Rng | null }), hostInput: x })]);
    return out!;
  } finally {
    net.release();
    b.dispose(xt);
  }
}

/** Predicted classes: argmax of the exact spike counts (Sec. 3.7, core/readout.ts), ties -> the first class. */
export async function predictBatch(net: Network, x: FloatArray, n: number, rng: Rng | readonly Rng[] | null = null): Promise<Int32Array> {
  checkBatchArgs('predictBatch', net, x, n);
  return predict(await inferBatch(net, x, n, rng), net.config.T, n, net.config.classes, net.spikesPerClass());
}
