// The gpu.js backend: tensors are resident on the device (textures on GL, storage buffers on WebGPU; typed
// arrays on cpu/webasm, which have no device memory), every op is a small gather-form kernel from kernels.ts,
// compiled once per (op, variant) and serving every shape (extents are kernel arguments). A training step reads
// back once (read(): the tensors packed on the device into one, then one readback). Every texture or buffer this
// backend drops is deleted, and liveTextures() counts the ones alive.
//
// WebGPU: gpu.js's webgpu kernels return Promises (a kernel compiles asynchronously the first time; WebGPU has
// no synchronous readback). Ops still return handles at once: each records its kernel call on a queue that
// runs in program order (one submit per kernel, no waits between them), and a handle's storage is filled when
// its kernel runs. read() waits for the queue; an error of a queued kernel is thrown by the next read().
import { Handles, assertShape, uploadSize, usedAfterDestroy, batchNormBackwardDims, batchNormDims, checkAdam, checkNeuronBackward, convBackwardDims, convDims, convOutShape, linearBackwardDims, linearDims, lossDims, neuronDims, poolBackwardDims, poolDims, sizeOf, voteClasses, type AdamParams, type ConvDims, type Backend, type BatchNormParams, type BatchNormSaved, type Conv2dParams, type LossForm, type NeuronTraceT, type Pool2dParams, type Tensor } from '../../core/backend.js';
import { adamStepScalars } from '../../core/optim.js';
import { neuronCodes, validateNeuronConfig, type NeuronConfig } from '../../core/neuron.js';
import { KERNEL_FUNCTIONS } from '../../core/scalar.js';
import * as K from './kernels.js';
import { createGpu, glRenderer, isSoftwareRenderer, type GpujsInstance, type GpujsKernel, type GpujsMode, type GpujsModule, type GpujsTexture } from './modes.js';

/** What the CLI records about a gpu.js run. */
export interface GpujsInfo {
  mode: GpujsMode;
  /** GL renderer string, WebGPU adapter, or a description of the CPU path for cpu/webasm. */
  renderer: string;
  /** True when no GPU does the work (llvmpipe, SwiftShader, a fallback adapter, webasm, cpu): timings then say nothing about a GPU. */
  software: boolean;
}

/**
 * What the device did since the backend was made (GpujsBackend#cost): kernel dispatches, bytes of tensors
 * uploaded and read back, and host syncs (readbacks that wait for the device). Kernel arguments (extents,
 * hyper-parameters) travel as uniforms with each dispatch and are not counted as uploads.
 */
export interface GpuCost {
  dispatches: number;
  upload_bytes: number;
  download_bytes: number;
  host_syncs: number;
}

/** Flat sizes must stay exact in float32 index arithmetic (see kernels.idiv). */
const MAX_ELEMENTS = 2 ** 24;
/** Most iterations of one kernel loop (headless-gl stops loops at 65535; see kernels.ts). */
export const MAX_LOOP = 65535;

/** A WebGPU result filled when its queued kernel runs (null before, or when a kernel before it failed). */
interface Pending {
  r: GpujsTexture | null;
}
type Value = Float32Array | GpujsTexture | Pending;

type KernelFn = (this: K.KernelThis, ...args: never[]) => number;

export class GpujsBackend implements Backend {
  readonly name: string;
  readonly precision = 'float32' as const;
  readonly info: GpujsInfo;
  private gpu: GpujsInstance | null;
  private readonly kernels = new Map<string, GpujsKernel>();
  /** Results are device textures/buffers (GL, WebGPU), not host arrays (cpu, webasm). */
  private readonly textureMode: boolean;
  /** Kernel calls are queued and run asynchronously (WebGPU). */
  private readonly deferred: boolean;
  private queue: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private readonly handles = new Handles<Value>(this);
  private textures = 0;
  private readonly counts: GpuCost = { dispatches: 0, upload_bytes: 0, download_bytes: 0, host_syncs: 0 };
  /** Stand-in for `a` in the neuron kernels of IF/LIF (one kernel signature for every kind). */
  private readonly dummyA: Tensor;

  /** adapter: the WebGPU adapter's description (webgpu mode), from createGpujsBackend. */
  constructor(mod: GpujsModule, readonly mode: GpujsMode, adapter: { renderer: string; software: boolean } | null = null) {
    const gpu = createGpu(mod, mode);
    this.gpu = gpu;
    this.name = `gpujs:${mode}`;
    this.deferred = mode === 'webgpu';
    this.textureMode = mode === 'headlessgl' || mode === 'webgl' || mode === 'webgl2' || this.deferred;
    for (const f of K.INDEX_FUNCTIONS) gpu.addFunction(f as (...args: never[]) => number);
    for (const f of KERNEL_FUNCTIONS) gpu.addFunction(f as (...args: never[]) => number);
    this.dummyA = this.upload([0], [1]);
    let renderer: string;
    if (this.deferred) renderer = adapter?.renderer ?? 'WebGPU (adapter unknown)';
    else if (this.textureMode) {
      // the context exists once a kernel has run
      const k = this.kernel('upload', K.copyK, {});
      renderer = glRenderer(k.context ?? gpu.context);
    } else renderer = mode === 'webasm' ? 'WebAssembly on the CPU (gpu.js webasm)' : 'JavaScript on the CPU (gpu.js cpu)';
    this.info = { mode, renderer, software: !this.textureMode || (adapter ? adapter.software : isSoftwareRenderer(renderer)) };
    this.resetCost();
  }

  describe(): GpujsInfo {
    return { ...this.info };
  }

  /** Textures (GL) or buffers (WebGPU) alive that this backend made: constant over training steps. */
  liveTextures(): number {
    return this.textures;
  }

  /** The device's work since the backend was made or resetCost() (see GpuCost). */
  cost(): GpuCost {
    return { ...this.counts };
  }

  resetCost(): void {
    Object.assign(this.counts, { dispatches: 0, upload_bytes: 0, download_bytes: 0, host_syncs: 0 });
  }

  /** Waits until every recorded kernel has run (WebGPU); throws the first error of a queued kernel. */
  async flush(): Promise<void> {
    await this.queue;
    if (this.failure) throw this.failure;
  }

  /** Deletes every kernel and the GPU instance (its GL context). Tensors become unusable. */
  destroy(): void {
    if (!this.gpu) return;
    this.handles.close(this.name);
    const gpu = this.gpu;
    const kernels = [...this.kernels.values()];
    this.kernels.clear();
    this.gpu = null;
    const end = () => {
      for (const k of kernels) k.destroy?.(true);
      gpu.destroy();
    };
    if (this.deferred) this.enqueue(end, true);
    else end();
  }

  // ---- kernel plumbing ----
  /**
   * The kernel of `op` with these constants (variant switches only): compiled once, serves every shape.
   * A kernel always sees the same kinds of arguments (host arrays only for 'upload', device results otherwise):
   * when an argument's kind changes, gpu.js silently rebuilds the kernel with its creation-time output
   * size, which corrupted results under dynamicOutput.
   */
  private kernel(op: string, fn: KernelFn, constants: Record<string, number>): GpujsKernel {
    if (!this.gpu) throw usedAfterDestroy(this.name);
    const key = `${op}|${JSON.stringify(constants)}`;
    let k = this.kernels.get(key);
    if (!k) {
      k = this.gpu.createKernel(fn as unknown as (...args: never[]) => number, {
        output: [1],
        constants,
        pipeline: true,
        immutable: true,
        precision: 'single',
        tactic: 'precision',
        dynamicOutput: true,
        dynamicArguments: true,
        loopMaxIterations: MAX_LOOP,
      });
      this.kernels.set(key, k);
    }
    return k;
  }

  /** Queues work behind every kernel recorded so far (WebGPU). After a failure only cleanup (`always`) runs. */
  private enqueue(task: () => unknown, always = false): void {
    this.queue = this.queue.then(async () => {
      if (this.failure && !always) return;
      try {
        await task();
      } catch (e) {
        this.failure ??= e instanceof Error ? e : new Error(String(e));
      }
    });
  }

  /**
   * Runs `op` over an output of n cells on device values (or, for 'upload', a host array). `loops` are the
   * extents of the kernel's loops: each must fit MAX_LOOP, or the GL loop would stop early without a word.
   */
  private runValues(op: string, fn: KernelFn, n: number, constants: Record<string, number>, inputs: (Value | Float32Array)[], scalars: number[], loops: number[] = []): Value {
    if (!(n >= 1) || n > MAX_ELEMENTS) throw new RangeError(`${op}: output of ${n} elements; the gpu.js backend handles 1..2^24 per tensor`);
    for (const l of loops) if (l > MAX_LOOP) throw new RangeError(`${op}: a loop of ${l} iterations exceeds ${MAX_LOOP}, the most a GL loop runs here`);
    const k = this.kernel(op, fn, constants);
    this.counts.dispatches++;
    if (!this.deferred) {
      k.setOutput([n]);
      return this.adopt(k(...inputs, ...scalars), n);
    }
    const cell: Pending = { r: null };
    this.enqueue(async () => {
      const args = inputs.map((v) => {
        if (v instanceof Float32Array) return v;
        const r = (v as Pending).r;
        if (!r) throw new Error(`${op}: an input was never computed (a kernel before it failed)`);
        return r;
      });
      k.setOutput([n]);
      cell.r = this.adopt(await k(...args, ...scalars), n) as GpujsTexture;
    });
    return cell;
  }

  private run(op: string, fn: KernelFn, n: number, constants: Record<string, number>, tensors: Tensor[], scalars: number[], loops: number[] = []): Value {
    for (const t of tensors) if (t.size > MAX_ELEMENTS) throw new RangeError(`${op}: input of ${t.size} elements exceeds 2^24`);
    return this.runValues(op, fn, n, constants, tensors.map((t) => this.val(t)), scalars, loops);
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
    if (v instanceof Float32Array) return;
    if (!this.deferred) {
      (v as GpujsTexture).delete();
      this.textures--;
      return;
    }
    // after every kernel recorded so far, which may still read it
    this.enqueue(() => {
      const r = (v as Pending).r;
      if (!r) return;
      r.delete();
      (v as Pending).r = null;
      this.textures--;
    }, true);
  }

  private tensor(v: Value, shape: readonly number[]): Tensor {
    return this.handles.make(v, shape); // throws once destroyed
  }

  private val(t: Tensor): Value {
    return this.handles.check(t).storage.value;
  }

  /** In-place update (adam, running statistics): every handle sharing the storage sees the new value. */
  private replace(t: Tensor, v: Value): void {
    const s = this.handles.check(t).storage;
    const old = s.value;
    s.value = v;
    this.release(old);
  }

  private op(op: string, fn: KernelFn, shape: readonly number[], constants: Record<string, number>, tensors: Tensor[], scalars: number[], loops: number[] = []): Tensor {
    return this.tensor(this.run(op, fn, sizeOf(shape), constants, tensors, scalars, loops), shape);
  }

  /** Sums of `chunk`-sums down to one value: the reduction stages of a value of n cells. */
  private sumValue(v: Value, n: number): Value {
    let cur = v;
    let own = false;
    do {
      const chunk = n <= 4096 ? n : Math.min(MAX_LOOP, Math.ceil(Math.sqrt(n)));
      const m = Math.ceil(n / chunk);
      const next = this.runValues('reduceSum', K.reduceSumK, m, {}, [cur], [n, chunk], [chunk]);
      if (own) this.release(cur);
      cur = next;
      own = true;
      n = m;
    } while (n > 1);
    return cur;
  }

  /** Sum of all values of a tensor, as a [1] tensor. */
  private sumAll(t: Tensor): Tensor {
    return this.tensor(this.sumValue(this.val(t), t.size), [1]);
  }

  // ---- storage ----
  upload(data: ArrayLike<number>, shape: readonly number[]): Tensor {
    const n = uploadSize(data, shape);
    if (n > MAX_ELEMENTS) throw new RangeError(`upload: ${n} elements exceed 2^24`);
    const host = Float32Array.from(data);
    this.counts.upload_bytes += 4 * n;
    if (!this.textureMode) return this.tensor(host, shape);
    return this.tensor(this.runValues('upload', K.copyK, n, {}, [host], []), shape);
  }

  zeros(shape: readonly number[]): Tensor {
    const n = sizeOf(shape);
    if (!this.textureMode) return this.tensor(new Float32Array(n), shape);
    return this.op('fill', K.fillK, shape, { value: 0 }, [], []);
  }

  download(t: Tensor): Float32Array {
    this.handles.check(t); // a tensor of another backend, disposed, or of a destroyed backend: that error first
    if (this.deferred) throw new Error(`${this.name} reads back asynchronously (WebGPU has no synchronous readback): use await backend.read([tensor])`);
    const v = this.val(t);
    if (v instanceof Float32Array) return v.slice(0, t.size);
    this.counts.download_bytes += 4 * t.size;
    this.counts.host_syncs++;
    const a = (v as GpujsTexture).toArray() as ArrayLike<number>;
    return Float32Array.from(a).slice(0, t.size);
  }

  /**
   * The tensors' values with one readback: on the device they are first packed into one (concat kernels),
   * so a training step's output, health counts and tau cost one host sync on GL and WebGPU alike.
   */
  async read(ts: readonly Tensor[]): Promise<Float32Array[]> {
    const vals = ts.map((t) => this.val(t));
    if (ts.length === 0) return [];
    if (!this.textureMode) return ts.map((t, i) => (vals[i] as Float32Array).slice(0, t.size));
    let packed = vals[0]!;
    let size = ts[0]!.size;
    for (let i = 1; i < ts.length; i++) {
      const next = this.runValues('concat', K.concatK, size + ts[i]!.size, {}, [packed, vals[i]!], [size], []);
      if (i > 1) this.release(packed);
      packed = next;
      size += ts[i]!.size;
    }
    this.counts.download_bytes += 4 * size;
    this.counts.host_syncs++;
    let flat: Float32Array;
    try {
      if (this.deferred) {
        let result: Promise<unknown> = Promise.resolve(null);
        const cell = packed as Pending;
        this.enqueue(() => {
          if (!cell.r) throw new Error('read: the tensor was never computed (a kernel before it failed)');
          result = Promise.resolve(cell.r.toArray());
        });
        await this.flush();
        flat = Float32Array.from((await result) as ArrayLike<number>);
      } else flat = Float32Array.from((packed as GpujsTexture).toArray() as ArrayLike<number>);
    } finally {
      if (ts.length > 1) this.release(packed);
    }
    const out: Float32Array[] = [];
    let at = 0;
    for (const t of ts) {
      out.push(flat.slice(at, at + t.size));
      at += t.size;
    }
    return out;
  }

  dispose(t: Tensor): void {
    const last = this.handles.dispose(t);
    if (last) this.release(last.value);
  }

  liveTensors(): number {
    return this.handles.liveCount();
  }

  reshape(t: Tensor, shape: readonly number[]): Tensor {
    return this.handles.view(t, shape);
  }

  // ---- synaptic layers ----
  private static convArgs(d: ConvDims): number[] {
    return [d.C, d.H, d.W, d.O, d.K, d.stride, d.pad, d.Ho, d.Wo];
  }

  conv2d(x: Tensor, w: Tensor, p: Conv2dParams): Tensor {
    const d = convDims(x, w, p);
    return this.op('conv2d', K.conv2dK, convOutShape(x, d), {}, [x, w], GpujsBackend.convArgs(d), [d.C, d.K]);
  }

  conv2dBackward(x: Tensor, w: Tensor, gy: Tensor, p: Conv2dParams, needInputGrad: boolean): { gx: Tensor | null; gw: Tensor } {
    const d = convBackwardDims(x, w, gy, p);
    const args = GpujsBackend.convArgs(d);
    const gw = this.op('conv2dGradW', K.conv2dGradWK, w.shape, {}, [x, gy], [...args, d.B], [d.B, d.Ho, d.Wo]);
    const gx = needInputGrad ? this.op('conv2dGradX', K.conv2dGradXK, x.shape, {}, [gy, w], args, [d.O, d.K]) : null;
    return { gx, gw };
  }

  linear(x: Tensor, w: Tensor): Tensor {
    const { I, O } = linearDims(x, w);
    return this.op('linear', K.linearK, [...x.shape.slice(0, -1), O], {}, [x, w], [I, O], [I]);
  }

  linearBackward(x: Tensor, w: Tensor, gy: Tensor, needInputGrad: boolean, inputGradMask?: Tensor | null): { gx: Tensor | null; gw: Tensor } {
    const { R, I, O } = linearBackwardDims(x, w, gy, inputGradMask); // the mask is checked, not used: gx is exact without it
    const gw = this.op('linearGradW', K.linearGradWK, w.shape, {}, [x, gy], [R, I, O], [R]);
    const gx = needInputGrad ? this.op('linearGradX', K.linearGradXK, x.shape, {}, [gy, w], [I, O], [O]) : null;
    return { gx, gw };
  }

  // ---- batch norm ----
  batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, p: BatchNormParams): { y: Tensor; saved: BatchNormSaved } {
    const d = batchNormDims(x, gamma, beta, runningMean, runningVar, p);
    const bcs = [d.B, d.C, d.S];
    let mean: Tensor;
    let invStd: Tensor;
    if (p.training) {
      const n = d.B * d.S;
      // saved.mean is a [C] tensor whose storage holds the [2C] pair (hi, lo) of bnMeanK; download shows hi
      mean = this.tensor(this.run('bnMean', K.bnMeanK, 2 * d.C, {}, [x], bcs, [d.B, d.S]), [d.C]);
      const variance = this.op('bnVar', K.bnVarK, [d.C], {}, [x, mean], bcs, [d.B, d.S]);
      invStd = this.op('invStd', K.invStdK, [d.C], {}, [variance], [p.eps]);
      this.replace(runningMean, this.run('running', K.runningK, d.C, {}, [runningMean, mean], [p.momentum, 1])); // hi part
      this.replace(runningVar, this.run('running', K.runningK, d.C, {}, [runningVar, variance], [p.momentum, n > 1 ? n / (n - 1) : 1]));
      this.dispose(variance);
    } else {
      mean = this.tensor(this.run('meanPair', K.meanPairK, 2 * d.C, {}, [runningMean], [d.C]), [d.C]);
      invStd = this.op('invStd', K.invStdK, [d.C], {}, [runningVar], [p.eps]);
    }
    const y = this.op('bnApply', K.bnApplyK, x.shape, {}, [x, gamma, beta, mean, invStd], [d.C, d.S]);
    return { y, saved: { mean, invStd } };
  }

  batchNormBackward(x: Tensor, gamma: Tensor, saved: BatchNormSaved, gy: Tensor, p: BatchNormParams): { gx: Tensor; gGamma: Tensor; gBeta: Tensor } {
    const d = batchNormBackwardDims(x, gamma, saved, gy, p);
    const bcs = [d.B, d.C, d.S];
    const gBeta = this.op('bnGradSum', K.bnGradSumK, [d.C], { which: 0 }, [x, gy, saved.mean, saved.invStd], bcs, [d.B, d.S]);
    const gGamma = this.op('bnGradSum', K.bnGradSumK, [d.C], { which: 1 }, [x, gy, saved.mean, saved.invStd], bcs, [d.B, d.S]);
    const gx = this.op('bnGradX', K.bnGradXK, x.shape, {}, [x, gy, gamma, saved.mean, saved.invStd, gBeta, gGamma], bcs);
    return { gx, gGamma, gBeta };
  }

  // ---- pooling ----
  private static poolArgs(d: ReturnType<typeof poolDims>, p: Pool2dParams) {
    return { shape: d.shape, args: [d.H, d.W, d.Ho, d.Wo, p.kernel, p.stride], loops: [p.kernel] };
  }

  maxPool2d(x: Tensor, p: Pool2dParams, tieDraws?: Tensor | null): { y: Tensor; argmax: Tensor } {
    const a = GpujsBackend.poolArgs(poolDims(x.shape, p), p);
    if (tieDraws) {
      assertShape('maxPool2d tieDraws', tieDraws.shape, a.shape);
      return { y: this.op('maxPoolTies', K.maxPoolTiesK, a.shape, { which: 0 }, [x, tieDraws], a.args, a.loops), argmax: this.op('maxPoolTies', K.maxPoolTiesK, a.shape, { which: 1 }, [x, tieDraws], a.args, a.loops) };
    }
    return { y: this.op('maxPool', K.maxPoolK, a.shape, { which: 0 }, [x], a.args, a.loops), argmax: this.op('maxPool', K.maxPoolK, a.shape, { which: 1 }, [x], a.args, a.loops) };
  }

  maxPool2dBackward(gy: Tensor, argmax: Tensor, xShape: readonly number[], p: Pool2dParams): Tensor {
    const a = GpujsBackend.poolArgs(poolBackwardDims('maxPool2dBackward', gy, xShape, p, argmax), p);
    return this.op('maxPoolGrad', K.maxPoolGradK, xShape, {}, [gy, argmax], a.args, a.loops);
  }

  avgPool2d(x: Tensor, p: Pool2dParams): Tensor {
    const a = GpujsBackend.poolArgs(poolDims(x.shape, p), p);
    return this.op('avgPool', K.avgPoolK, a.shape, {}, [x], a.args, a.loops);
  }

  avgPool2dBackward(gy: Tensor, xShape: readonly number[], p: Pool2dParams): Tensor {
    const a = GpujsBackend.poolArgs(poolBackwardDims('avgPool2dBackward', gy, xShape, p), p);
    return this.op('avgPoolGrad', K.avgPoolGradK, xShape, {}, [gy], a.args, a.loops);
  }

  // ---- dropout ----
  dropout(x: Tensor, mask: Tensor): Tensor {
    assertShape('dropout mask', mask.shape, x.shape.slice(1));
    return this.op('dropout', K.dropoutK, x.shape, {}, [x, mask], [mask.size]);
  }

  // ---- multi-step neuron ----
  /** The kernels' neuron arguments: T, n and core's numeric codes (neuronCodes); k itself stays on the device for PLIF. */
  private neuronArgs(cfg: NeuronConfig, x: Tensor, a: Tensor | null): { args: number[]; plif: boolean; T: number } {
    validateNeuronConfig(cfg);
    const plif = cfg.kind === 'plif';
    const { T } = neuronDims(x, a, plif);
    const c = neuronCodes(cfg, undefined);
    return { T, plif, args: [T, x.size / T, c.kind, c.decayInput, c.hard, c.vr, c.vth, c.detach, c.sgCode, c.alpha, plif ? 1 : 0, plif ? 0 : c.k] };
  }

  neuron(cfg: NeuronConfig, x: Tensor, a: Tensor | null): NeuronTraceT {
    const c = this.neuronArgs(cfg, x, a);
    const at = c.plif ? a! : this.dummyA;
    const one = (which: number) => this.op('neuron', K.neuronK, x.shape, { which }, [x, at], c.args, [c.T]);
    return { s: one(0), h: one(1), v: one(2) };
  }

  neuronBackward(cfg: NeuronConfig, x: Tensor, trace: NeuronTraceT, gs: Tensor, a: Tensor | null): { gx: Tensor; ga: Tensor | null } {
    const c = this.neuronArgs(cfg, x, a);
    checkNeuronBackward(x, trace, gs);
    const at = c.plif ? a! : this.dummyA;
    const ins = [x, trace.s, trace.h, trace.v, gs, at];
    const gx = this.op('neuronGrad', K.neuronGradK, x.shape, { which: 0 }, ins, c.args, [c.T]);
    if (!c.plif) return { gx, ga: null };
    const terms = this.op('neuronGrad', K.neuronGradK, x.shape, { which: 1 }, ins, c.args, [c.T]);
    const gk = this.sumAll(terms);
    this.dispose(terms);
    const ga = this.op('plifGradA', K.plifGradAK, [1], {}, [gk, at], []);
    this.dispose(gk);
    return { gx, ga };
  }

  // ---- voting ----
  vote(x: Tensor, m: number): Tensor {
    return this.op('vote', K.voteK, [...x.shape.slice(0, -1), voteClasses(x, m)], {}, [x], [m], [m]);
  }

  voteBackward(gy: Tensor, m: number): Tensor {
    const C = gy.shape[gy.shape.length - 1]!;
    return this.op('voteGrad', K.voteGradK, [...gy.shape.slice(0, -1), C * m], {}, [gy], [m]);
  }

  // ---- loss ----
  mseLossGrad(out: Tensor, labels: Int32Array, form: LossForm): Tensor {
    const { T, N, C } = lossDims(out, labels);
    const lab = this.upload(labels, [N]);
    const grad = this.op('mseGrad', K.mseGradK, out.shape, { rate: form === 'rate' ? 1 : 0 }, [out, lab], [T, N, C], [T]);
    this.dispose(lab);
    return grad;
  }

  // ---- health ----
  countBad(ts: readonly Tensor[], limit: number): Tensor {
    let total: Value | null = null;
    for (const t of ts) {
      const flags = this.run('badFlag', K.badFlagK, t.size, {}, [t], [Number.isFinite(limit) ? limit : -1]);
      const sum = this.sumValue(flags, t.size);
      this.release(flags);
      if (total === null) total = sum;
      else {
        const both = this.runValues('add', K.addK, 1, {}, [total, sum], []);
        this.release(total);
        this.release(sum);
        total = both;
      }
    }
    return total === null ? this.zeros([1]) : this.tensor(total, [1]);
  }

  // ---- optimiser ----
  adam(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: AdamParams): void {
    checkAdam(param, grad, m, v);
    const n = param.size;
    this.replace(m, this.run('adamM', K.adamMK, n, {}, [m, grad], [p.beta1]));
    this.replace(v, this.run('adamV', K.adamVK, n, {}, [v, grad], [p.beta2]));
    const { lrOverBc1, sqrtBc2 } = adamStepScalars(p);
    this.replace(param, this.run('adamP', K.adamPK, n, {}, [param, m, v], [lrOverBc1, sqrtBc2, p.eps]));
  }

  // ---- elementwise helpers ----
  repeatT(x: Tensor, T: number): Tensor {
    return this.op('repeatT', K.repeatTK, [T, ...x.shape], {}, [x], [x.size]);
  }

  sumT(x: Tensor): Tensor {
    const T = x.shape[0]!;
    return this.op('sumT', K.sumTK, x.shape.slice(1), {}, [x], [T, x.size / T], [T]);
  }
}
