// Layers on top of the Backend op list. Each layer runs on time-major activations [T', N, ...]
// (T' = 1 inside the static encoder, T elsewhere), saves what its backward needs, and owns those saved
// tensors until release(). Activations themselves are owned by the Network.
import type { Backend, BatchNormSaved, NeuronTraceT, Pool2dParams, Tensor } from '../backend.js';
import type { NeuronConfig } from '../neuron.js';
import type { Rng } from '../rng.js';
import type { FloatArray } from '../types.js';

export interface Param {
  /** Stable name used by checkpoints, e.g. "0.weight", "1.gamma", "2.a". */
  name: string;
  kind: 'weight' | 'gamma' | 'beta' | 'a';
  value: Tensor;
  grad: Tensor | null;
}

export interface BufferT {
  name: string;
  value: Tensor;
}

export interface RunCtx {
  training: boolean;
  rng: Rng | null;
  /**
   * One Rng per sample of the batch: random pool ties then draw each sample's choices from its own
   * (so an evaluation does not depend on how the samples are batched); else they come from `rng`.
   */
  sampleRngs?: readonly Rng[];
  /** Called with every layer's output as it is made (e.g. to measure firing rates); must not dispose it. */
  observe?: (layer: Layer, out: Tensor) => void;
  /**
   * The host copy of the input tensor, for a spike encoder, which draws its spikes on the host: without it the
   * input is downloaded, which a backend without synchronous readback (gpujs:webgpu) cannot do.
   */
  hostInput?: FloatArray;
}

export type Shape = readonly number[];

export abstract class Layer {
  params: Param[] = [];
  buffers: BufferT[] = [];
  constructor(
    readonly index: number,
    readonly token: string,
    readonly inShape: Shape,
    readonly outShape: Shape,
  ) {}
  abstract forward(b: Backend, x: Tensor, ctx: RunCtx): Tensor;
  /**
   * dL/dx from dL/dy; parameter gradients are stored in params[i].grad. Does not dispose gy.
   * inputMask: the dropout mask that will multiply dL/dx (entries it zeroes need not be computed).
   */
  abstract backward(b: Backend, gy: Tensor, needInputGrad: boolean, inputMask?: Tensor | null): Tensor | null;
  /** Disposes what forward saved. */
  release(_b: Backend): void {}
  paramCount(): number {
    return this.params.reduce((s, p) => s + p.value.size, 0);
  }
}

function setGrad(b: Backend, p: Param, g: Tensor): void {
  if (p.grad) b.dispose(p.grad);
  p.grad = g;
}

export class ConvLayer extends Layer {
  private x: Tensor | null = null;
  constructor(index: number, token: string, inShape: Shape, outShape: Shape, w: Tensor, readonly stride: number, readonly padding: number) {
    super(index, token, inShape, outShape);
    this.params = [{ name: `${index}.weight`, kind: 'weight', value: w, grad: null }];
  }
  forward(b: Backend, x: Tensor, ctx: RunCtx): Tensor {
    if (ctx.training) this.x = x;
    return b.conv2d(x, this.params[0]!.value, { stride: this.stride, padding: this.padding });
  }
  backward(b: Backend, gy: Tensor, need: boolean): Tensor | null {
    const r = b.conv2dBackward(this.x!, this.params[0]!.value, gy, { stride: this.stride, padding: this.padding }, need); // Eq. 17
    setGrad(b, this.params[0]!, r.gw);
    return r.gx;
  }
  override release(): void {
    this.x = null;
  }
}

export class LinearLayer extends Layer {
  private xFlat: Tensor | null = null;
  private xShape: Shape = [];
  constructor(index: number, token: string, inShape: Shape, outShape: Shape, w: Tensor) {
    super(index, token, inShape, outShape);
    this.params = [{ name: `${index}.weight`, kind: 'weight', value: w, grad: null }];
  }
  forward(b: Backend, x: Tensor, ctx: RunCtx): Tensor {
    const F = this.params[0]!.value.shape[1]!;
    const flat = b.reshape(x, [x.shape[0]!, x.shape[1]!, F]);
    const y = b.linear(flat, this.params[0]!.value);
    if (ctx.training) {
      this.xFlat = flat;
      this.xShape = x.shape;
    } else b.dispose(flat);
    return y;
  }
  backward(b: Backend, gy: Tensor, need: boolean, inputMask?: Tensor | null): Tensor | null {
    const r = b.linearBackward(this.xFlat!, this.params[0]!.value, gy, need, inputMask); // Eq. 17 (dropout-aware)
    setGrad(b, this.params[0]!, r.gw);
    if (!r.gx) return null;
    const gx = b.reshape(r.gx, this.xShape);
    b.dispose(r.gx);
    return gx;
  }
  override release(b: Backend): void {
    if (this.xFlat) b.dispose(this.xFlat);
    this.xFlat = null;
  }
}

export class BatchNormLayer extends Layer {
  private x: Tensor | null = null;
  private saved: BatchNormSaved | null = null;
  constructor(index: number, token: string, shape: Shape, gamma: Tensor, beta: Tensor, runMean: Tensor, runVar: Tensor, readonly momentum: number, readonly eps: number) {
    super(index, token, shape, shape);
    this.params = [
      { name: `${index}.gamma`, kind: 'gamma', value: gamma, grad: null },
      { name: `${index}.beta`, kind: 'beta', value: beta, grad: null },
    ];
    this.buffers = [
      { name: `${index}.running_mean`, value: runMean },
      { name: `${index}.running_var`, value: runVar },
    ];
  }
  private p(training: boolean) {
    return { training, momentum: this.momentum, eps: this.eps, spatialDims: this.inShape.length - 1 };
  }
  forward(b: Backend, x: Tensor, ctx: RunCtx): Tensor {
    const [gamma, beta] = this.params;
    const r = b.batchNorm(x, gamma!.value, beta!.value, this.buffers[0]!.value, this.buffers[1]!.value, this.p(ctx.training));
    if (ctx.training) {
      this.x = x;
      this.saved = r.saved;
    } else {
      b.dispose(r.saved.mean);
      b.dispose(r.saved.invStd);
    }
    return r.y;
  }
  backward(b: Backend, gy: Tensor): Tensor | null {
    const r = b.batchNormBackward(this.x!, this.params[0]!.value, this.saved!, gy, this.p(true));
    setGrad(b, this.params[0]!, r.gGamma);
    setGrad(b, this.params[1]!, r.gBeta);
    return r.gx;
  }
  override release(b: Backend): void {
    if (this.saved) {
      b.dispose(this.saved.mean);
      b.dispose(this.saved.invStd);
    }
    this.saved = null;
    this.x = null;
  }
}

export class NeuronLayer extends Layer {
  private x: Tensor | null = null;
  private trace: NeuronTraceT | null = null;
  constructor(index: number, token: string, shape: Shape, readonly cfg: NeuronConfig, a: Tensor | null) {
    super(index, token, shape, shape);
    if (a) this.params = [{ name: `${index}.a`, kind: 'a', value: a, grad: null }];
  }
  get a(): Tensor | null {
    return this.params[0]?.value ?? null;
  }
  forward(b: Backend, x: Tensor, ctx: RunCtx): Tensor {
    const tr = b.neuron(this.cfg, x, this.a); // Eqs. 2-6
    if (ctx.training) {
      this.x = x;
      this.trace = tr;
    } else {
      b.dispose(tr.h);
      b.dispose(tr.v);
    }
    return tr.s;
  }
  backward(b: Backend, gy: Tensor): Tensor | null {
    const r = b.neuronBackward(this.cfg, this.x!, this.trace!, gy, this.a); // Eqs. 8-16
    if (r.ga) setGrad(b, this.params[0]!, r.ga);
    return r.gx;
  }
  override release(b: Backend): void {
    if (this.trace) {
      b.dispose(this.trace.h);
      b.dispose(this.trace.v);
    }
    this.trace = null; // s is an activation, owned by the network
    this.x = null;
  }
}

/** Which input of a max-pooling window wins a tie: the first (PyTorch) or a random one (Fig. 5). */
export type PoolTieRule = 'first' | 'random';
export const POOL_TIE_RULES: readonly PoolTieRule[] = ['first', 'random'];

/**
 * Range of the per-window tie draws of a K x K window: lcm(1..K^2) while it is below 2^24 (K <= 4), which
 * every possible number of tied inputs divides, so draw mod count is as uniform as the draw; else 2^24. Every draw
 * is an integer below 2^24, exact in float32 (Backend.maxPool2d).
 */
export function poolTieDrawRange(K: number): number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let l = 1;
  for (let i = 2; i <= K * K; i++) {
    l = (l / gcd(l, i)) * i;
    if (l > 2 ** 24) return 2 ** 24;
  }
  return l;
}

/**
 * One tie draw per pooling window of an output [T', N, ...], uniform in [0, range): from each sample's
 * own Rng in (step, window) order when ctx.sampleRngs is given, else from ctx.rng in index order. Drawn
 * on the host, so the choice does not depend on the backend or its threads.
 */
export function poolTieDraws(outShape: Shape, range: number, ctx: RunCtx, what: string): Float32Array {
  const d = new Float32Array(outShape.reduce((a, v) => a * v, 1));
  if (ctx.sampleRngs) {
    const [T, N] = outShape as [number, number];
    if (ctx.sampleRngs.length !== N) throw new RangeError(`${what}: ${ctx.sampleRngs.length} per-sample Rngs for a batch of ${N}`);
    const per = d.length / (T * N);
    for (let n = 0; n < N; n++) {
      const r = ctx.sampleRngs[n]!;
      for (let t = 0; t < T; t++) for (let j = 0, o = (t * N + n) * per; j < per; j++) d[o + j] = r.int(range);
    }
  } else if (ctx.rng) {
    for (let i = 0; i < d.length; i++) d[i] = ctx.rng.int(range);
  } else throw new Error(`${what}: random pool ties need an Rng (RunCtx.rng or sampleRngs)`);
  return d;
}

export class PoolLayer extends Layer {
  private argmax: Tensor | null = null;
  private xShape: Shape = [];
  constructor(index: number, token: string, inShape: Shape, outShape: Shape, readonly mode: 'max' | 'avg', readonly pool: Pool2dParams, readonly ties: PoolTieRule = 'first') {
    super(index, token, inShape, outShape);
  }
  forward(b: Backend, x: Tensor, ctx: RunCtx): Tensor {
    if (this.mode === 'avg') {
      this.xShape = x.shape;
      return b.avgPool2d(x, this.pool);
    }
    let draws: Tensor | null = null;
    if (this.ties === 'random') {
      const outShape = [...x.shape.slice(0, -2), ...this.outShape.slice(-2)];
      draws = b.upload(poolTieDraws(outShape, poolTieDrawRange(this.pool.kernel), ctx, `layer ${this.index} (${this.token})`), outShape);
    }
    let r: { y: Tensor; argmax: Tensor };
    try {
      r = b.maxPool2d(x, this.pool, draws); // Sec. 3.6 spike max-pooling; ties as Fig. 5 with draws
    } finally {
      if (draws) b.dispose(draws);
    }
    if (ctx.training) {
      this.argmax = r.argmax;
      this.xShape = x.shape;
    } else b.dispose(r.argmax);
    return r.y;
  }
  backward(b: Backend, gy: Tensor): Tensor | null {
    return this.mode === 'avg' ? b.avgPool2dBackward(gy, this.xShape, this.pool) : b.maxPool2dBackward(gy, this.argmax!, this.xShape, this.pool);
  }
  override release(b: Backend): void {
    if (this.argmax) b.dispose(this.argmax);
    this.argmax = null;
  }
}

export class DropoutLayer extends Layer {
  private mask: Tensor | null = null;
  constructor(index: number, token: string, shape: Shape, readonly p: number) {
    super(index, token, shape, shape);
  }
  forward(b: Backend, x: Tensor, ctx: RunCtx): Tensor {
    if (!ctx.training || this.p === 0) return b.reshape(x, x.shape);
    if (!ctx.rng) throw new Error('dropout in training mode needs an Rng');
    // One mask per sample, shared by every time step, scaled by 1/(1-p).
    const n = x.size / x.shape[0]!;
    const m = new Float32Array(n);
    const keep = 1 / (1 - this.p);
    for (let i = 0; i < n; i++) m[i] = ctx.rng.uniform() < this.p ? 0 : keep;
    this.mask = b.upload(m, x.shape.slice(1));
    return b.dropout(x, this.mask);
  }
  backward(b: Backend, gy: Tensor): Tensor | null {
    return this.mask ? b.dropout(gy, this.mask) : b.reshape(gy, gy.shape);
  }
  /** The mask of the last training forward (null when none was drawn). */
  get currentMask(): Tensor | null {
    return this.mask;
  }
  override release(b: Backend): void {
    if (this.mask) b.dispose(this.mask);
    this.mask = null;
  }
}

export class VoteLayer extends Layer {
  constructor(index: number, token: string, inShape: Shape, outShape: Shape, readonly m: number) {
    super(index, token, inShape, outShape);
  }
  forward(b: Backend, x: Tensor): Tensor {
    return b.vote(x, this.m);
  }
  backward(b: Backend, gy: Tensor): Tensor | null {
    return b.voteBackward(gy, this.m);
  }
}
