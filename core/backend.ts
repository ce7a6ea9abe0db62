// The Backend: tensor storage behind opaque handles plus the small op list the layers are written on.
// Every op has a forward and a backward (vjp). Designed for two kinds of implementation:
//  - CPU (backends/cpu): Float32Array storage, fused loops, caller-invisible scratch buffers;
//  - gpu.js (backends/gpujs): resident textures, gather-form kernels (each output cell loops over what
//    feeds it; no scatter), explicit disposal, reductions for BN statistics and dL/da.
// Rules every backend follows (the conformance suite in proofs/conformance.ts checks them):
//  - Ops never mutate their inputs, except the documented in-place ones (batchNorm's running
//    statistics in training mode, adam's param/m/v). They return NEW tensors the caller must dispose.
//  - Shapes are row-major; time-major activations are [T, N, ...]. Stateless ops treat all leading
//    dimensions as batch (conv2d over [..., C, H, W], linear over [..., I]).
//  - Integer-valued tensors (max-pool winners) are stored as floats (exact below 2^24).
import type { NeuronConfig } from './neuron.js';
import type { FloatArray } from './types.js';

/** Opaque handle to a tensor owned by a backend. Only the backend that made it may read it. */
export interface Tensor {
  readonly shape: readonly number[];
  readonly size: number;
}

export interface Conv2dParams {
  stride: number;
  padding: number;
}

export interface Pool2dParams {
  kernel: number;
  stride: number;
}

export interface BatchNormParams {
  /** Training: batch statistics over every leading (batch) and spatial position, running stats updated. */
  training: boolean;
  /** PyTorch convention: running = (1 - momentum) running + momentum batch; 0.1. */
  momentum: number;
  eps: number;
  /** Number of trailing spatial dims after the channel dim: 2 for [.., C, H, W], 0 for [.., C]. */
  spatialDims: number;
}

/** What batchNorm keeps for its backward: per-channel batch mean and 1/sqrt(var + eps). */
export interface BatchNormSaved {
  mean: Tensor;
  invStd: Tensor;
}

/** Loss forms. 'rate' (released code, default): MSE(mean_t O_t, Y). 'per-step' (Sec. 3.7): (1/T) sum_t MSE(O_t, Y). */
export type LossForm = 'rate' | 'per-step';

export interface AdamParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 1-based step count for the bias corrections. */
  step: number;
}

export interface NeuronTraceT {
  s: Tensor;
  h: Tensor;
  v: Tensor;
}

export interface Backend {
  readonly name: string;
  /** Storage precision: 'float32' for real backends, 'float64' for the reference (the proofs' tolerances follow it). */
  readonly precision: 'float32' | 'float64';

  // ---- storage ----
  upload(data: ArrayLike<number>, shape: readonly number[]): Tensor;
  zeros(shape: readonly number[]): Tensor;
  /**
   * A copy of the tensor's values (row-major), synchronously. A backend whose device cannot read back
   * synchronously (gpujs:webgpu) throws, naming read(): code meant for every backend uses read().
   */
  download(t: Tensor): FloatArray;
  /**
   * Copies of the tensors' values, all read back with one wait for the device (one host sync): every op
   * recorded before the call has run. The portable readback; on synchronous backends it resolves at once.
   */
  read(ts: readonly Tensor[]): Promise<FloatArray[]>;
  /** Releases the handle. Using a disposed handle throws. */
  dispose(t: Tensor): void;
  /** Number of live (not disposed) handles: for leak tests. */
  liveTensors(): number;
  /**
   * Releases what the backend holds (the CPU backend's worker threads, gpu.js's kernels and context); every
   * later call throws `<name> backend used after destroy()` (usedAfterDestroy). Calling it again does nothing.
   */
  destroy(): void;
  /** Same data, another shape of equal size; a new handle to dispose independently. */
  reshape(t: Tensor, shape: readonly number[]): Tensor;

  // ---- synaptic layers (no bias: paper) ----
  /** x [..., C, H, W], w [O, C, k, k] -> [..., O, Ho, Wo], Ho = floor((H + 2p - k)/s) + 1. */
  conv2d(x: Tensor, w: Tensor, p: Conv2dParams): Tensor;
  /** gx only when needInputGrad (the static encoder's input needs none). */
  conv2dBackward(x: Tensor, w: Tensor, gy: Tensor, p: Conv2dParams, needInputGrad: boolean): { gx: Tensor | null; gw: Tensor };
  /** x [..., I], w [O, I] -> y = x W^T [..., O] (PyTorch Linear without bias). */
  linear(x: Tensor, w: Tensor): Tensor;
  /**
   * inputGradMask: the dropout mask [M, I] that will multiply gx (row b uses mask row b mod M). A backend
   * may skip the entries it zeroes (written as 0); ignoring it is also correct.
   */
  linearBackward(x: Tensor, w: Tensor, gy: Tensor, needInputGrad: boolean, inputGradMask?: Tensor | null): { gx: Tensor | null; gw: Tensor };

  // ---- batch normalisation ----
  /** gamma, beta, runningMean, runningVar: [C]. Training mode updates running stats in place (unbiased var). */
  batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, p: BatchNormParams): { y: Tensor; saved: BatchNormSaved };
  /** Backward of training-mode batch norm (batch statistics). */
  batchNormBackward(x: Tensor, gamma: Tensor, saved: BatchNormSaved, gy: Tensor, p: BatchNormParams): { gx: Tensor; gGamma: Tensor; gBeta: Tensor };

  // ---- pooling over [..., C, H, W] ----
  /**
   * Spike max pooling (Sec. 3.6). argmax holds the winner's offset in its window (ky*k + kx), which
   * maxPool2dBackward routes the gradient to. Ties: without tieDraws the first maximum (row-major order in
   * the window) wins; with tieDraws (one integer d < 2^24 per output window, shaped like y) the
   * (d mod c)-th of the c maxima wins (Fig. 5's random choice when the draws are random).
   */
  maxPool2d(x: Tensor, p: Pool2dParams, tieDraws?: Tensor | null): { y: Tensor; argmax: Tensor };
  maxPool2dBackward(gy: Tensor, argmax: Tensor, xShape: readonly number[], p: Pool2dParams): Tensor;
  avgPool2d(x: Tensor, p: Pool2dParams): Tensor;
  avgPool2dBackward(gy: Tensor, xShape: readonly number[], p: Pool2dParams): Tensor;

  // ---- dropout: y = x * mask, x [T, N, ...], mask [N, ...] shared by every step (already scaled by 1/(1-p)) ----
  /** Also its own backward: gx = dropout(gy, mask). */
  dropout(x: Tensor, mask: Tensor): Tensor;

  // ---- multi-step neuron (core/neuron.ts semantics), x [T, ...] time-major ----
  /** a: PLIF parameter, a [1] tensor; null for IF/LIF. */
  neuron(cfg: NeuronConfig, x: Tensor, a: Tensor | null): NeuronTraceT;
  /** ga: dL/da as a [1] tensor (null unless PLIF). */
  neuronBackward(cfg: NeuronConfig, x: Tensor, trace: NeuronTraceT, gs: Tensor, a: Tensor | null): { gx: Tensor; ga: Tensor | null };

  // ---- voting: average of M consecutive neurons, [..., C*M] -> [..., C] ----
  vote(x: Tensor, m: number): Tensor;
  voteBackward(gy: Tensor, m: number): Tensor;

  // ---- loss: out [T, N, C], labels in 0..C-1 (length N) ----
  /**
   * dL/dout of the MSE loss (Sec. 3.7 / the released code's rate form). The loss value itself is computed on
   * the host from the output read back (core/loss.ts mseLossValue), in float64, the same on every backend.
   */
  mseLossGrad(out: Tensor, labels: Int32Array, form: LossForm): Tensor;

  // ---- health: the divergence check of a training step, on the device ----
  /**
   * A [1] tensor holding how many values of the tensors are NaN, infinite or beyond ±limit (limit Infinity:
   * only non-finite ones). Read back with the step's other results, so checking costs no extra host sync.
   */
  countBad(ts: readonly Tensor[], limit: number): Tensor;

  // ---- optimiser: in place on param, m, v ----
  adam(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: AdamParams): void;

  // ---- elementwise helpers ----
  /** [...] -> [T, ...]: the static encoder's output fed at every step. */
  repeatT(x: Tensor, T: number): Tensor;
  /** [T, ...] -> [...]: sum over steps (the static encoder's gradient). */
  sumT(x: Tensor): Tensor;
}

/** Output spatial size of a conv/pool window. */
export function outSize(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

/** Product of the leading dimensions: everything but the last `trailing` (the batch of a stateless op). */
export function lead(shape: readonly number[], trailing: number): number {
  let n = 1;
  for (let i = 0; i < shape.length - trailing; i++) n *= shape[i]!;
  return n;
}

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`bad dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertShape(what: string, got: readonly number[], want: readonly number[]): void {
  if (!sameShape(got, want)) throw new RangeError(`${what}: shape [${got.join(', ')}], expected [${want.join(', ')}]`);
}

// ---- shape rules: every backend checks its arguments with these, so all refuse the same inputs alike ----
const dims = (s: readonly number[]) => `[${s.join(', ')}]`;

/** Extents of conv2d: x [..., C, H, W] (B = the leading product), w [O, C, K, K]. */
export interface ConvDims {
  B: number;
  C: number;
  H: number;
  W: number;
  O: number;
  K: number;
  stride: number;
  pad: number;
  Ho: number;
  Wo: number;
}

/** The size of the tensor `upload(data, shape)` makes: data must hold exactly that many values. */
export function uploadSize(data: ArrayLike<number>, shape: readonly number[]): number {
  const n = sizeOf(shape);
  if (data.length !== n) throw new RangeError(`upload: ${data.length} values for shape ${dims(shape)}`);
  return n;
}

export function convDims(x: Tensor, w: Tensor, p: Conv2dParams): ConvDims {
  const s = x.shape;
  if (w.shape.length !== 4 || s.length < 3 || s[s.length - 3] !== w.shape[1] || w.shape[2] !== w.shape[3]) throw new RangeError(`conv2d: input ${dims(s)} does not fit weight ${dims(w.shape)}`);
  if (!(Number.isInteger(p.stride) && p.stride >= 1 && Number.isInteger(p.padding) && p.padding >= 0)) throw new RangeError(`conv2d: stride must be an integer >= 1 and padding >= 0, got ${p.stride} and ${p.padding}`);
  const [O, C, K] = w.shape as [number, number, number, number];
  const H = s[s.length - 2]!;
  const W = s[s.length - 1]!;
  const d = { B: lead(s, 3), C, H, W, O, K, stride: p.stride, pad: p.padding, Ho: outSize(H, K, p.stride, p.padding), Wo: outSize(W, K, p.stride, p.padding) };
  if (!(d.Ho >= 1 && d.Wo >= 1)) throw new RangeError(`conv2d: empty output for input ${dims(s)}, kernel ${K}, stride ${p.stride}, padding ${p.padding}`);
  return d;
}

export function convOutShape(x: Tensor, d: ConvDims): number[] {
  return [...x.shape.slice(0, -3), d.O, d.Ho, d.Wo];
}

/** conv2dBackward's arguments: those of conv2d, and gy shaped like its output. */
export function convBackwardDims(x: Tensor, w: Tensor, gy: Tensor, p: Conv2dParams): ConvDims {
  const d = convDims(x, w, p);
  assertShape('conv2dBackward gy', gy.shape, convOutShape(x, d));
  return d;
}

/** Extents of linear: x [..., I] (R rows), w [O, I]. */
export function linearDims(x: Tensor, w: Tensor): { R: number; I: number; O: number } {
  if (w.shape.length !== 2) throw new RangeError(`linear: weight must be [O, I], got ${dims(w.shape)}`);
  const [O, I] = w.shape as [number, number];
  if (x.shape.length < 1 || x.shape[x.shape.length - 1] !== I) throw new RangeError(`linear: input features ${x.shape.at(-1)}, weight expects ${I}`);
  return { R: lead(x.shape, 1), I, O };
}

/** linearBackward's arguments: those of linear, gy [..., O] like its output, a mask of rows of I values. */
export function linearBackwardDims(x: Tensor, w: Tensor, gy: Tensor, mask?: Tensor | null): { R: number; I: number; O: number } {
  const d = linearDims(x, w);
  assertShape('linearBackward gy', gy.shape, [...x.shape.slice(0, -1), d.O]);
  if (mask && (mask.size === 0 || mask.size % d.I !== 0)) throw new RangeError(`linearBackward inputGradMask: ${dims(mask.shape)} is not rows of ${d.I} values`);
  return d;
}

/** Extents of batch norm over x [..., C, (spatial)]: B leading positions, C channels, S spatial positions. */
export function bnDims(x: Tensor, p: BatchNormParams): { B: number; C: number; S: number } {
  if (!(Number.isInteger(p.spatialDims) && p.spatialDims >= 0 && x.shape.length >= p.spatialDims + 1)) throw new RangeError(`batchNorm: input ${dims(x.shape)} has no channel dimension before ${p.spatialDims} spatial ones`);
  const r = x.shape.length - p.spatialDims;
  return { B: lead(x.shape, p.spatialDims + 1), C: x.shape[r - 1]!, S: lead(x.shape.slice(r), 0) };
}

/** batchNorm's arguments: gamma, beta and the running statistics [C]. */
export function batchNormDims(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, p: BatchNormParams): { B: number; C: number; S: number } {
  const d = bnDims(x, p);
  for (const [name, t] of [['gamma', gamma], ['beta', beta], ['runningMean', runningMean], ['runningVar', runningVar]] as const) assertShape(`batchNorm ${name}`, t.shape, [d.C]);
  return d;
}

/** batchNormBackward's arguments: gamma and the saved statistics [C], gy shaped like x. */
export function batchNormBackwardDims(x: Tensor, gamma: Tensor, saved: BatchNormSaved, gy: Tensor, p: BatchNormParams): { B: number; C: number; S: number } {
  const d = bnDims(x, p);
  assertShape('batchNormBackward gamma', gamma.shape, [d.C]);
  assertShape('batchNormBackward gy', gy.shape, x.shape);
  assertShape('batchNormBackward saved.invStd', saved.invStd.shape, [d.C]);
  return d;
}

/** Extents of pooling over [..., H, W] (BC = the leading product), no padding; shape: the output's. */
export function poolDims(xShape: readonly number[], p: Pool2dParams): { BC: number; H: number; W: number; Ho: number; Wo: number; shape: number[] } {
  if (xShape.length < 2) throw new RangeError(`pool: input ${dims(xShape)} has no [H, W]`);
  if (!(Number.isInteger(p.kernel) && p.kernel >= 1 && Number.isInteger(p.stride) && p.stride >= 1)) throw new RangeError(`pool: kernel and stride must be integers >= 1, got ${p.kernel} and ${p.stride}`);
  const H = xShape[xShape.length - 2]!;
  const W = xShape[xShape.length - 1]!;
  const Ho = outSize(H, p.kernel, p.stride, 0);
  const Wo = outSize(W, p.kernel, p.stride, 0);
  if (!(Ho >= 1 && Wo >= 1)) throw new RangeError(`pool: empty output for input ${dims(xShape)}, kernel ${p.kernel}, stride ${p.stride}`);
  return { BC: lead(xShape, 2), H, W, Ho, Wo, shape: [...xShape.slice(0, -2), Ho, Wo] };
}

/** The backward of a pool: gy shaped like the pool's output (and argmax like gy for max pooling). */
export function poolBackwardDims(what: string, gy: Tensor, xShape: readonly number[], p: Pool2dParams, argmax?: Tensor): ReturnType<typeof poolDims> {
  const d = poolDims(xShape, p);
  assertShape(`${what} gy`, gy.shape, d.shape);
  if (argmax) assertShape(`${what} argmax`, argmax.shape, d.shape);
  return d;
}

/** neuron's arguments: x [T, ...] with T >= 1; a [1] (needed for PLIF). */
export function neuronDims(x: Tensor, a: Tensor | null, plif: boolean): { T: number; n: number } {
  if (x.shape.length < 1 || !(x.shape[0]! >= 1)) throw new RangeError(`neuron: input ${dims(x.shape)} has no time dimension [T, ...] with T >= 1`);
  if (plif && !a) throw new RangeError('neuron: a PLIF layer needs its parameter a');
  if (a) assertShape('neuron a', a.shape, [1]);
  return { T: x.shape[0]!, n: x.size / x.shape[0]! };
}

/** neuronBackward's arguments: the trace and gs shaped like x [T, ...]. */
export function checkNeuronBackward(x: Tensor, trace: NeuronTraceT, gs: Tensor): void {
  for (const [name, t] of [['s', trace.s], ['h', trace.h], ['v', trace.v], ['gs', gs]] as const) assertShape(`neuronBackward ${name}`, t.shape, x.shape);
}

/** adam's arguments: grad, m and v shaped like the parameter. */
export function checkAdam(param: Tensor, grad: Tensor, m: Tensor, v: Tensor): void {
  for (const [name, t] of [['grad', grad], ['m', m], ['v', v]] as const) assertShape(`adam ${name}`, t.shape, param.shape);
}

/** mseLossGrad's arguments: out [T, N, C] and N labels. */
export function lossDims(out: Tensor, labels: Int32Array): { T: number; N: number; C: number } {
  if (out.shape.length !== 3) throw new RangeError(`mseLossGrad: out must be [T, N, C], got ${dims(out.shape)}`);
  const [T, N, C] = out.shape as [number, number, number];
  if (labels.length !== N) throw new RangeError(`mseLossGrad: ${labels.length} labels for a batch of ${N}`);
  return { T, N, C };
}

/** vote's output features: F = C M input features per row. */
export function voteClasses(x: Tensor, m: number): number {
  const F = x.shape[x.shape.length - 1]!;
  if (!(Number.isInteger(m) && m >= 1) || F % m !== 0) throw new RangeError(`vote: ${F} features are not a multiple of M = ${m}`);
  return F / m;
}

/** Storage shared by every handle to it (reshape makes another handle), freed with its last handle. */
export interface SharedStorage<S> {
  value: S;
  refs: number;
}

/** A backend's tensor handle: its owner, its shared storage and its shape. */
export class Handle<S> implements Tensor {
  readonly size: number;
  disposed = false;
  constructor(
    readonly owner: object,
    readonly storage: SharedStorage<S>,
    readonly shape: readonly number[],
  ) {
    this.size = sizeOf(shape);
  }
}

/** The error every call on a destroyed backend throws. */
export function usedAfterDestroy(backendName: string): Error {
  return new Error(`${backendName} backend used after destroy()`);
}

/**
 * Handle bookkeeping, the same for every backend (reference: Float64Array, cpu: Float32Array, gpu.js:
 * textures): ownership, reference-counted storage shared by reshaped handles, the live count. A disposed
 * handle or one of another backend throws on use, which catches use-after-dispose in tests.
 */
export class Handles<S> {
  private live = 0;
  private closedBy: string | null = null;
  constructor(private readonly owner: object) {}
  /** After this, every make, view and check throws usedAfterDestroy(backendName): the backend was destroyed. */
  close(backendName: string): void {
    this.closedBy ??= backendName;
  }
  /** Throws usedAfterDestroy once the backend was destroyed. */
  checkOpen(): void {
    if (this.closedBy !== null) throw usedAfterDestroy(this.closedBy);
  }
  /** A new handle to new storage. */
  make(value: S, shape: readonly number[]): Handle<S> {
    this.checkOpen();
    this.live++;
    return new Handle(this.owner, { value, refs: 1 }, [...shape]);
  }
  /** Another handle to t's storage, with a shape of the same size. */
  view(t: Tensor, shape: readonly number[]): Handle<S> {
    const h = this.check(t);
    if (sizeOf(shape) !== h.size) throw new RangeError(`reshape: [${h.shape.join(', ')}] has ${h.size} values, [${shape.join(', ')}] needs ${sizeOf(shape)}`);
    h.storage.refs++;
    this.live++;
    return new Handle(this.owner, h.storage, [...shape]);
  }
  /** t as this backend's live handle. */
  check(t: Tensor): Handle<S> {
    this.checkOpen();
    if (!(t instanceof Handle) || t.owner !== this.owner) throw new TypeError('tensor belongs to another backend');
    if (t.disposed) throw new Error('tensor used after dispose');
    return t as Handle<S>;
  }
  /** Releases t; returns its storage when t was the last handle to it (the caller frees it), else null. */
  dispose(t: Tensor): SharedStorage<S> | null {
    if (this.closedBy !== null) return null; // the backend's memory went with it: releasing is harmless
    const h = this.check(t);
    h.disposed = true;
    this.live--;
    return --h.storage.refs === 0 ? h.storage : null;
  }
  liveCount(): number {
    return this.live;
  }
}
