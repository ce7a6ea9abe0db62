// The gpu.js backend: tensors are resident textures (GL modes; typed arrays on cpu/webasm, which have no
// device memory), every op is a small gather-form kernel from kernels.ts, compiled once per (op, shape)
// and cached on this backend object. A training step downloads only the loss and what the caller asks
// for. Every texture this backend drops is deleted, and liveTextures() counts the ones alive.
import { assertShape, outSize, sizeOf, type AdamParams, type Backend, type BatchNormParams, type BatchNormSaved, type Conv2dParams, type LossForm, type NeuronTraceT, type Pool2dParams, type Tensor } from '../../core/backend.js';
import { neuronCodes, validateNeuronConfig, type NeuronConfig } from '../../core/neuron.js';
import { KERNEL_FUNCTIONS } from '../../core/scalar.js';
import * as K from './kernels.js';
import { createGpu, glRenderer, isSoftwareRenderer, type GpujsInstance, type GpujsKernel, type GpujsMode, type GpujsModule, type GpujsTexture } from './modes.js';

/** What the CLI records about a gpu.js run. */
export interface GpujsInfo {
  mode: GpujsMode;
  /** GL renderer string, or a description of the CPU path for cpu/webasm. */
  renderer: string;
  /** True when no GPU does the work (llvmpipe, SwiftShader, webasm, cpu): timings then say nothing about a GPU. */
  software: boolean;
}

/** Flat sizes must stay exact in float32 index arithmetic (see kernels.idiv). */
const MAX_ELEMENTS = 2 ** 24;

type Value = Float32Array | GpujsTexture;

class Store {
  refs = 1;
  constructor(public value: Value) {}
}

class GpujsTensor implements Tensor {
  disposed = false;
  readonly size: number;
  constructor(
    readonly owner: object,
    readonly store: Store,
    readonly shape: readonly number[],
  ) {
    this.size = sizeOf(shape);
  }
}

function lead(shape: readonly number[], trailing: number): number {
  let n = 1;
  for (let i = 0; i < shape.length - trailing; i++) n *= shape[i]!;
  return n;
}

type KernelFn = (this: K.KernelThis, ...args: never[]) => number;

export class GpujsBackend implements Backend {
  readonly name: string;
  readonly precision = 'float32' as const;
  readonly info: GpujsInfo;
  private gpu: GpujsInstance | null;
  private readonly kernels = new Map<string, GpujsKernel>();
  private readonly textureMode: boolean;
  private live = 0;
  private textures = 0;
  /** Stand-in for `a` in the neuron kernels of IF/LIF (one kernel signature for every kind). */
  private readonly dummyA: Tensor;

  constructor(mod: GpujsModule, readonly mode: GpujsMode) {
    const gpu = createGpu(mod, mode);
    this.gpu = gpu;
    this.name = `gpujs:${mode}`;
    this.textureMode = mode === 'headlessgl' || mode === 'webgl' || mode === 'webgl2';
    for (const f of K.INDEX_FUNCTIONS) gpu.addFunction(f as (...args: never[]) => number);
    for (const f of KERNEL_FUNCTIONS) gpu.addFunction(f as (...args: never[]) => number);
    this.dummyA = this.upload([0], [1]);
    let renderer: string;
    if (this.textureMode) {
      // the context exists once a kernel has run
      const k = this.kernel('copy', K.copyK, 1, {});
      renderer = glRenderer(k.context ?? gpu.context);
    } else renderer = mode === 'webasm' ? 'WebAssembly on the CPU (gpu.js webasm)' : 'JavaScript on the CPU (gpu.js cpu)';
    this.info = { mode, renderer, software: !this.textureMode || isSoftwareRenderer(renderer) };
  }

  describe(): GpujsInfo {
    return { ...this.info };
  }

  /** Textures alive (not deleted) that this backend made: constant over training steps. */
  liveTextures(): number {
    return this.textures;
  }

  /** Compiled kernels in the cache. */
  kernelCount(): number {
    return this.kernels.size;
  }

  /** Deletes every kernel and the GPU instance (its GL context). Tensors become unusable. */
  destroy(): void {
    if (!this.gpu) return;
    for (const k of this.kernels.values()) k.destroy?.(true);
    this.kernels.clear();
    this.gpu.destroy();
    this.gpu = null;
  }

  // ---- kernel plumbing ----
  private kernel(op: string, fn: KernelFn, n: number, constants: Record<string, number>): GpujsKernel {
    if (!this.gpu) throw new Error('gpu.js backend used after destroy()');
    if (!(n >= 1) || n > MAX_ELEMENTS) throw new RangeError(`${op}: output of ${n} elements; the gpu.js backend handles 1..2^24 per tensor`);
    const key = `${op}|${n}|${JSON.stringify(constants)}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = this.gpu.createKernel(fn as unknown as (...args: never[]) => number, {
        output: [n],
        constants,
        pipeline: true,
        immutable: true,
        precision: 'single',
        tactic: 'precision',
      });
      this.kernels.set(key, k);
    }
    return k;
  }

  private run(op: string, fn: KernelFn, n: number, constants: Record<string, number>, ...args: (Tensor | number)[]): Value {
    const k = this.kernel(op, fn, n, constants);
    const vals = args.map((a) => (typeof a === 'number' ? a : this.val(a)));
    const r = k(...vals);
    return this.adopt(r, n);
  }

  private adopt(r: unknown, n: number): Value {
    if (r instanceof Float32Array) return r.length === n ? r : r.slice(0, n);
    if (r && typeof (r as GpujsTexture).delete === 'function') {
      this.textures++;
      return r as GpujsTexture;
    }
    if (ArrayBuffer.isView(r) || Array.isArray(r)) return Float32Array.from(r as ArrayLike<number>).slice(0, n);
    throw new Error(`gpu.js returned an unexpected result (${Object.prototype.toString.call(r)})`);
  }

  private release(v: Value): void {
    if (!(v instanceof Float32Array)) {
      v.delete();
      this.textures--;
    }
  }

  private tensor(v: Value, shape: readonly number[]): GpujsTensor {
    this.live++;
    return new GpujsTensor(this, new Store(v), [...shape]);
  }

  private handle(t: Tensor): GpujsTensor {
    const h = t as GpujsTensor;
    if (!(h instanceof GpujsTensor) || h.owner !== this) throw new TypeError('tensor belongs to another backend');
    if (h.disposed) throw new Error('tensor used after dispose');
    return h;
  }

  private val(t: Tensor): Value {
    return this.handle(t).store.value;
  }

  /** In-place update (adam, running statistics): every handle sharing the storage sees the new value. */
  private replace(t: Tensor, v: Value): void {
    const s = this.handle(t).store;
    const old = s.value;
    s.value = v;
    this.release(old);
  }

  private op(op: string, fn: KernelFn, shape: readonly number[], constants: Record<string, number>, ...args: (Tensor | number)[]): Tensor {
    return this.tensor(this.run(op, fn, sizeOf(shape), constants, ...args), shape);
  }

  /** Sum of all values of a tensor, as a [1] tensor: stages of `chunk`-sums. */
  private sumAll(t: Tensor): Tensor {
    let cur = this.val(t);
    let n = t.size;
    let own = false;
    do {
      const chunk = n <= 4096 ? n : Math.ceil(Math.sqrt(n));
      const m = Math.ceil(n / chunk);
      const k = this.kernel('reduceSum', K.reduceSumK, m, { n, chunk });
      const next = this.adopt(k(cur), m);
      if (own) this.release(cur);
      cur = next;
      own = true;
      n = m;
    } while (n > 1);
    return this.tensor(cur, [1]);
  }

  // ---- storage ----
  upload(data: ArrayLike<number>, shape: readonly number[]): Tensor {
    const n = sizeOf(shape);
    if (data.length !== n) throw new RangeError(`upload: ${data.length} values for shape [${shape.join(', ')}]`);
    const host = Float32Array.from(data);
    if (!this.textureMode) return this.tensor(host, shape);
    const k = this.kernel('copy', K.copyK, n, {});
    return this.tensor(this.adopt(k(host), n), shape);
  }

  zeros(shape: readonly number[]): Tensor {
    const n = sizeOf(shape);
    if (!this.textureMode) return this.tensor(new Float32Array(n), shape);
    return this.op('fill', K.fillK, shape, { value: 0 });
  }

  download(t: Tensor): Float32Array {
    const v = this.val(t);
    if (v instanceof Float32Array) return v.slice();
    const a = v.toArray() as ArrayLike<number>;
    return Float32Array.from(a).slice(0, t.size);
  }

  dispose(t: Tensor): void {
    const h = this.handle(t);
    h.disposed = true;
    this.live--;
    if (--h.store.refs === 0) this.release(h.store.value);
  }

  liveTensors(): number {
    return this.live;
  }

  reshape(t: Tensor, shape: readonly number[]): Tensor {
    const h = this.handle(t);
    if (sizeOf(shape) !== h.size) throw new RangeError(`reshape: [${h.shape.join(', ')}] to [${shape.join(', ')}] changes the size`);
    h.store.refs++;
    this.live++;
    return new GpujsTensor(this, h.store, [...shape]);
  }

  // ---- synaptic layers ----
  private convConstants(x: Tensor, w: Tensor, p: Conv2dParams) {
    const s = x.shape;
    const [O, C, Kk, K2] = w.shape as [number, number, number, number];
    const H = s[s.length - 3 + 1]!;
    const W = s[s.length - 1]!;
    if (s[s.length - 3] !== C || Kk !== K2) throw new RangeError(`conv2d: input [${s.join(', ')}] does not fit weight [${w.shape.join(', ')}]`);
    return { B: lead(s, 3), C, H, W, O, K: Kk, S: p.stride, P: p.padding, Ho: outSize(H, Kk, p.stride, p.padding), Wo: outSize(W, Kk, p.stride, p.padding) };
  }

  conv2d(x: Tensor, w: Tensor, p: Conv2dParams): Tensor {
    const { B, ...c } = this.convConstants(x, w, p);
    void B;
    return this.op('conv2d', K.conv2dK, [...x.shape.slice(0, -3), c.O, c.Ho, c.Wo], c, x, w);
  }

  conv2dBackward(x: Tensor, w: Tensor, gy: Tensor, p: Conv2dParams, needInputGrad: boolean): { gx: Tensor | null; gw: Tensor } {
    const c = this.convConstants(x, w, p);
    assertShape('conv2dBackward gy', gy.shape, [...x.shape.slice(0, -3), c.O, c.Ho, c.Wo]);
    const { B, ...noB } = c;
    void B;
    const gw = this.op('conv2dGradW', K.conv2dGradWK, w.shape, c, x, gy);
    const gx = needInputGrad ? this.op('conv2dGradX', K.conv2dGradXK, x.shape, noB, gy, w) : null;
    return { gx, gw };
  }

  linear(x: Tensor, w: Tensor): Tensor {
    const [O, I] = w.shape as [number, number];
    if (x.shape[x.shape.length - 1] !== I) throw new RangeError(`linear: input features ${x.shape.at(-1)}, weight expects ${I}`);
    return this.op('linear', K.linearK, [...x.shape.slice(0, -1), O], { I, O }, x, w);
  }

  linearBackward(x: Tensor, w: Tensor, gy: Tensor, needInputGrad: boolean): { gx: Tensor | null; gw: Tensor } {
    const [O, I] = w.shape as [number, number];
    const R = lead(x.shape, 1);
    assertShape('linearBackward gy', gy.shape, [...x.shape.slice(0, -1), O]);
    const gw = this.op('linearGradW', K.linearGradWK, w.shape, { R, I, O }, x, gy);
    const gx = needInputGrad ? this.op('linearGradX', K.linearGradXK, x.shape, { I, O }, gy, w) : null;
    return { gx, gw };
  }

  // ---- batch norm ----
  private bnDims(x: Tensor, p: BatchNormParams) {
    const r = x.shape.length - p.spatialDims;
    return { B: lead(x.shape, p.spatialDims + 1), C: x.shape[r - 1]!, S: lead(x.shape.slice(r), 0) };
  }

  batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, p: BatchNormParams): { y: Tensor; saved: BatchNormSaved } {
    const d = this.bnDims(x, p);
    assertShape('batchNorm gamma', gamma.shape, [d.C]);
    let mean: Tensor;
    let invStd: Tensor;
    if (p.training) {
      const n = d.B * d.S;
      mean = this.op('bnMean', K.bnMeanK, [d.C], d, x);
      const variance = this.op('bnVar', K.bnVarK, [d.C], d, x, mean);
      invStd = this.op('invStd', K.invStdK, [d.C], { eps: p.eps }, variance);
      this.replace(runningMean, this.run('running', K.runningK, d.C, { momentum: p.momentum, factor: 1 }, runningMean, mean));
      this.replace(runningVar, this.run('running', K.runningK, d.C, { momentum: p.momentum, factor: n > 1 ? n / (n - 1) : 1 }, runningVar, variance));
      this.dispose(variance);
    } else {
      mean = this.op('copy', K.copyK, [d.C], {}, runningMean);
      invStd = this.op('invStd', K.invStdK, [d.C], { eps: p.eps }, runningVar);
    }
    const y = this.op('bnApply', K.bnApplyK, x.shape, { C: d.C, S: d.S }, x, gamma, beta, mean, invStd);
    return { y, saved: { mean, invStd } };
  }

  batchNormBackward(x: Tensor, gamma: Tensor, saved: BatchNormSaved, gy: Tensor, p: BatchNormParams): { gx: Tensor; gGamma: Tensor; gBeta: Tensor } {
    const d = this.bnDims(x, p);
    assertShape('batchNormBackward gy', gy.shape, x.shape);
    const gBeta = this.op('bnGradSum', K.bnGradSumK, [d.C], { ...d, which: 0 }, x, gy, saved.mean, saved.invStd);
    const gGamma = this.op('bnGradSum', K.bnGradSumK, [d.C], { ...d, which: 1 }, x, gy, saved.mean, saved.invStd);
    const gx = this.op('bnGradX', K.bnGradXK, x.shape, d, x, gy, gamma, saved.mean, saved.invStd, gBeta, gGamma);
    return { gx, gGamma, gBeta };
  }

  // ---- pooling ----
  private poolConstants(xShape: readonly number[], p: Pool2dParams) {
    const H = xShape[xShape.length - 2]!;
    const W = xShape[xShape.length - 1]!;
    return { H, W, Ho: outSize(H, p.kernel, p.stride, 0), Wo: outSize(W, p.kernel, p.stride, 0), K: p.kernel, S: p.stride };
  }

  maxPool2d(x: Tensor, p: Pool2dParams): { y: Tensor; argmax: Tensor } {
    const c = this.poolConstants(x.shape, p);
    const shape = [...x.shape.slice(0, -2), c.Ho, c.Wo];
    return { y: this.op('maxPool', K.maxPoolK, shape, { ...c, which: 0 }, x), argmax: this.op('maxPool', K.maxPoolK, shape, { ...c, which: 1 }, x) };
  }

  maxPool2dBackward(gy: Tensor, argmax: Tensor, xShape: readonly number[], p: Pool2dParams): Tensor {
    const c = this.poolConstants(xShape, p);
    assertShape('maxPool2dBackward gy', gy.shape, [...xShape.slice(0, -2), c.Ho, c.Wo]);
    return this.op('maxPoolGrad', K.maxPoolGradK, xShape, c, gy, argmax);
  }

  avgPool2d(x: Tensor, p: Pool2dParams): Tensor {
    const c = this.poolConstants(x.shape, p);
    return this.op('avgPool', K.avgPoolK, [...x.shape.slice(0, -2), c.Ho, c.Wo], c, x);
  }

  avgPool2dBackward(gy: Tensor, xShape: readonly number[], p: Pool2dParams): Tensor {
    const c = this.poolConstants(xShape, p);
    assertShape('avgPool2dBackward gy', gy.shape, [...xShape.slice(0, -2), c.Ho, c.Wo]);
    return this.op('avgPoolGrad', K.avgPoolGradK, xShape, c, gy);
  }

  // ---- dropout ----
  dropout(x: Tensor, mask: Tensor): Tensor {
    assertShape('dropout mask', mask.shape, x.shape.slice(1));
    return this.op('dropout', K.dropoutK, x.shape, { n: mask.size }, x, mask);
  }

  // ---- multi-step neuron ----
  private neuronConstants(cfg: NeuronConfig, x: Tensor, a: Tensor | null) {
    validateNeuronConfig(cfg);
    const T = x.shape[0]!;
    const c = neuronCodes(cfg, undefined);
    const plif = cfg.kind === 'plif' ? 1 : 0;
    if (plif && !a) throw new RangeError('neuron: a PLIF layer needs its parameter a');
    if (a) assertShape('neuron a', a.shape, [1]);
    return { T, n: x.size / T, kind: c.kind, decayInput: c.decayInput, hard: c.hard, vr: c.vr, vth: c.vth, detach: c.detach, sgCode: c.sgCode, alpha: c.alpha, plif, kFixed: plif ? 0 : c.k };
  }

  neuron(cfg: NeuronConfig, x: Tensor, a: Tensor | null): NeuronTraceT {
    const c = this.neuronConstants(cfg, x, a);
    const at = c.plif ? a! : this.dummyA;
    return {
      s: this.op('neuron', K.neuronK, x.shape, { ...c, which: 0 }, x, at),
      h: this.op('neuron', K.neuronK, x.shape, { ...c, which: 1 }, x, at),
      v: this.op('neuron', K.neuronK, x.shape, { ...c, which: 2 }, x, at),
    };
  }

  neuronBackward(cfg: NeuronConfig, x: Tensor, trace: NeuronTraceT, gs: Tensor, a: Tensor | null): { gx: Tensor; ga: Tensor | null } {
    const c = this.neuronConstants(cfg, x, a);
    for (const [nm, t] of [['s', trace.s], ['h', trace.h], ['v', trace.v], ['gs', gs]] as const) assertShape(`neuronBackward ${nm}`, t.shape, x.shape);
    const at = c.plif ? a! : this.dummyA;
    const gx = this.op('neuronGrad', K.neuronGradK, x.shape, { ...c, which: 0 }, x, trace.s, trace.h, trace.v, gs, at);
    if (!c.plif) return { gx, ga: null };
    const terms = this.op('neuronGrad', K.neuronGradK, x.shape, { ...c, which: 1 }, x, trace.s, trace.h, trace.v, gs, at);
    const gk = this.sumAll(terms);
    this.dispose(terms);
    const ga = this.op('plifGradA', K.plifGradAK, [1], {}, gk, at);
    this.dispose(gk);
    return { gx, ga };
  }

  // ---- voting ----
  vote(x: Tensor, m: number): Tensor {
    const F = x.shape[x.shape.length - 1]!;
    if (F % m !== 0) throw new RangeError(`vote: ${F} features are not a multiple of M = ${m}`);
    return this.op('vote', K.voteK, [...x.shape.slice(0, -1), F / m], { M: m }, x);
  }

  voteBackward(gy: Tensor, m: number): Tensor {
    const C = gy.shape[gy.shape.length - 1]!;
    return this.op('voteGrad', K.voteGradK, [...gy.shape.slice(0, -1), C * m], { M: m }, gy);
  }

  // ---- loss ----
  mseLoss(out: Tensor, labels: Int32Array, form: LossForm): { loss: number; grad: Tensor } {
    if (out.shape.length !== 3) throw new RangeError(`mseLoss: out must be [T, N, C], got [${out.shape.join(', ')}]`);
    const [T, N, C] = out.shape as [number, number, number];
    if (labels.length !== N) throw new RangeError(`mseLoss: ${labels.length} labels for N = ${N}`);
    const c = { T, N, C, rate: form === 'rate' ? 1 : 0 };
    const lab = this.upload(labels, [N]);
    const grad = this.op('mseGrad', K.mseGradK, out.shape, c, out, lab);
    const terms = this.op('mseTerm', K.mseTermK, form === 'rate' ? [N * C] : [T * N * C], c, out, lab);
    const sum = this.sumAll(terms);
    const loss = this.download(sum)[0]!;
    for (const t of [lab, terms, sum]) this.dispose(t);
    return { loss, grad };
  }

  // ---- optimiser ----
  adam(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: AdamParams): void {
    for (const [nm, t] of [['grad', grad], ['m', m], ['v', v]] as const) assertShape(`adam ${nm}`, t.shape, param.shape);
    const n = param.size;
    const c = { beta1: p.beta1, beta2: p.beta2, eps: p.eps };
    const m1 = this.run('adamM', K.adamMK, n, c, m, grad);
    const v1 = this.run('adamV', K.adamVK, n, c, v, grad);
    this.replace(m, m1);
    this.replace(v, v1);
    const bc1 = 1 - p.beta1 ** p.step;
    const bc2 = 1 - p.beta2 ** p.step;
    this.replace(param, this.run('adamP', K.adamPK, n, c, param, m, v, p.lr / bc1, Math.sqrt(bc2)));
  }

  // ---- elementwise helpers ----
  repeatT(x: Tensor, T: number): Tensor {
    return this.op('repeatT', K.repeatTK, [T, ...x.shape], { n: x.size }, x);
  }

  sumT(x: Tensor): Tensor {
    const T = x.shape[0]!;
    return this.op('sumT', K.sumTK, x.shape.slice(1), { T, n: x.size / T, scale: 1 }, x);
  }

  add(a: Tensor, b: Tensor): Tensor {
    assertShape('add', b.shape, a.shape);
    return this.op('add', K.addK, a.shape, {}, a, b);
  }

  meanT(x: Tensor): Tensor {
    const T = x.shape[0]!;
    return this.op('sumT', K.sumTK, x.shape.slice(1), { T, n: x.size / T, scale: 1 / T }, x);
  }
}
