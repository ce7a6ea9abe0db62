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

/**
 * Handle bookkeeping, the same for every backend (reference: Float64Array, cpu: Float32Array, gpu.js:
 * textures): ownership, reference-counted storage shared by reshaped handles, the live count. A disposed
 * handle or one of another backend throws on use, which catches use-after-dispose in tests.
 */
export class Handles<S> {
  private live = 0;
  constructor(private readonly owner: object) {}
  /** A new handle to new storage. */
  make(value: S, shape: readonly number[]): Handle<S> {
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
    if (!(t instanceof Handle) || t.owner !== this.owner) throw new TypeError('tensor belongs to another backend');
    if (t.disposed) throw new Error('tensor used after dispose');
    return t as Handle<S>;
  }
  /** Releases t; returns its storage when t was the last handle to it (the caller frees it), else null. */
  dispose(t: Tensor): SharedStorage<S> | null {
    const h = this.check(t);
    h.disposed = true;
    this.live--;
    return --h.storage.refs === 0 ? h.storage : null;
  }
  liveCount(): number {
    return this.live;
  }
}
