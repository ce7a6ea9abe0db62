// The fast CPU backend: Float32 storage in a shared WebAssembly memory (arena.ts, pooled), sparse-input
// conv/linear that skip zero inputs (spikes), the fused multi-step neuron of core, and a pool of worker
// threads (pool.ts) that splits every heavy op over disjoint output ranges. Every output value is computed
// by the same arithmetic in the same order for any thread count, so a seeded run is bitwise reproducible
// with --threads 1 or N.
import {
  assertShape,
  batchNormBackwardDims,
  batchNormDims,
  checkAdam,
  checkNeuronBackward,
  convBackwardDims,
  convDims,
  convOutShape,
  linearBackwardDims,
  linearDims,
  lossDims,
  neuronDims,
  poolBackwardDims,
  poolDims,
  voteClasses,
  type AdamParams,
  type ConvDims,
  type Backend,
  type BatchNormSaved,
  type LossForm,
  type NeuronTraceT,
  type Tensor,
  uploadSize,
} from '../../core/backend.js';
import { gradAFromK, neuronCodes, type NeuronConfig } from '../../core/neuron.js';
import { adamStepScalars } from '../../core/optim.js';
import { mseGrad } from '../../core/scalar.js';
import { Arena } from './arena.js';
import { convWeightR, convWeightT, winogradApplies, winogradScratch, winogradWeightsInto } from './conv.js';
import { BN_SCRATCH, NEURON_BLOCK, neuronMeta, type WasmKernels } from './kernels.js';
import { defaultThreads, KernelPool } from './pool.js';
import { instantiateKernels, loadKernelModule } from './wasm/index.js';
import { CpuStore } from './store.js';

export interface CpuBackendOptions {
  /**
   * Kernel threads (1 = no workers); results are bitwise identical for any count. Default: the machine's
   * cores (os.availableParallelism(), as the CLI; 1 in a browser page). Call destroy() to stop the workers.
   */
  threads?: number;
  /** Use the WebAssembly SIMD kernels where they load (default true); false: the TypeScript kernels. */
  simd?: boolean;
  /** Records the time of the parts of an op (e.g. a conv's weight and input gradients), for profiles. */
  onSection?: (section: string, ms: number) => void;
  /**
   * Neurons per block of the neuron ops (default NEURON_BLOCK): dL/da is summed per block, then over the
   * blocks in order, so the block size fixes that sum's order. For tests that need many blocks cheaply.
   */
  neuronBlock?: number;
}

export interface CpuBackend extends Backend {
  readonly threads: number;
  /** Whether the WebAssembly SIMD kernels are in use (else the TypeScript ones). */
  readonly simd: boolean;
  /** Bytes of the shared memory handed out (its high-water mark). */
  memoryBytes(): number;
  /** Stops the worker threads. */
  destroy(): void;
}

/** A grow-only scratch buffer in the arena (reallocated only when too small). */
class Scratch {
  private buf: Float32Array | null = null;
  constructor(private readonly alloc: (n: number) => Float32Array) {}
  get(n: number): Float32Array {
    if (!this.buf || this.buf.length < n) this.buf = this.alloc(Math.max(n, 16));
    return this.buf;
  }
}

/** The thread count of the options (default: the machine's cores), checked: an integer in 1..256. */
export function threadCount(threads = defaultThreads()): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) throw new RangeError(`threads must be an integer in 1..256, got ${threads}`);
  return threads;
}

/** The largest float32 not above x >= 0, at most the largest finite float32 (x = Infinity gives that). */
export function float32AtMost(x: number): number {
  const MAX = 3.4028234663852886e38;
  if (x >= MAX) return MAX;
  const f = Math.fround(x);
  if (f <= x) return f;
  const b = new Float32Array([f]);
  new Uint32Array(b.buffer)[0]! -= 1; // the next float32 towards zero (x >= 0)
  return b[0]!;
}

export function cpuBackend(opts: CpuBackendOptions = {}): CpuBackend {
  const threads = threadCount(opts.threads);
  const block = opts.neuronBlock ?? NEURON_BLOCK;
  if (!Number.isInteger(block) || block < 1) throw new RangeError(`neuronBlock must be a positive integer, got ${block}`);
  const self = {} as CpuBackend;
  const arena = new Arena();
  const loaded = opts.simd === false ? null : loadKernelModule().module;
  const wasmModule: WebAssembly.Module | null = loaded;
  const wasm: WasmKernels | null = loaded ? instantiateKernels(loaded, arena.memory) : null;
  const pool = new KernelPool(arena, threads, wasmModule, wasm);
  const st = new CpuStore(self, arena);
  const get = (t: Tensor) => st.get(t);
  let destroyed = false;
  const make = (shape: readonly number[], zero = false) => st.make(shape, zero);
  const scratchAlloc = (n: number) => arena.alloc(n) ?? new Float32Array(n);
  const sWT = new Scratch(scratchAlloc);
  const sA = new Scratch(scratchAlloc);
  const sB = new Scratch(scratchAlloc);
  const sGH = new Scratch(scratchAlloc);
  const sU = new Scratch(scratchAlloc);
  const sBN = new Scratch(scratchAlloc);
  const sPart = new Scratch(scratchAlloc);
  const sCount = new Scratch(scratchAlloc);
  const sList = new Scratch(scratchAlloc);
  const section = opts.onSection;
  const timed = <R>(name: string, f: () => R): R => {
    if (!section) return f();
    const t0 = performance.now();
    const r = f();
    section(name, performance.now() - t0);
    return r;
  };
  const parts = threads;

  const dimList = (d: ConvDims) => [d.B, d.C, d.H, d.W, d.O, d.K, d.stride, d.pad, d.Ho, d.Wo];
  /** Elementwise ops: ranges of at least this many values per thread. */
  const EW = 1 << 15;

  const impl: CpuBackend = {
    name: 'cpu',
    precision: 'float32',
    threads,
    simd: wasm !== null,
    memoryBytes: () => arena.bytesUsed(),
    destroy: () => {
      if (destroyed) return;
      destroyed = true;
      st.close('cpu');
      pool.destroy();
    },
    upload(data, shape) {
      uploadSize(data, shape);
      const t = make(shape);
      get(t).set(data as ArrayLike<number>);
      return t;
    },
    zeros: (shape) => make(shape, true),
    download: (t) => new Float32Array(get(t)),
    read: async (ts) => ts.map((t) => new Float32Array(get(t))),
    dispose: (t) => st.dispose(t),
    liveTensors: () => st.liveCount(),
    reshape: (t, shape) => st.view(t, shape),

    conv2d(x, w, p) {
      const d = convDims(x, w, p);
      const y = make(convOutShape(x, d));
      const wT = sWT.get(d.C * d.K * d.K * d.O);
      convWeightT(get(w), d, wT);
      const listFloats = wasm ? Math.ceil(wasm.convForwardListBytes(d.C, d.H, d.W, d.K, d.Ho, d.Wo) / 4) : 0;
      const yT = sA.get(parts * (d.Ho * d.Wo * d.O + listFloats));
      pool.run('convForward', [get(x), wT, get(y), yT], [...dimList(d), listFloats], d.B);
      return y;
    },
    conv2dBackward(x, w, gy, p, need) {
      const d = convBackwardDims(x, w, gy, p);
      const P = d.Ho * d.Wo;
      const Kc = d.C * d.K * d.K;
      const gw = make(w.shape);
      const gx = need ? make(x.shape) : null;
      const gyT = sB.get(d.B * P * d.O);
      timed('transpose', () => pool.run('transposeImages', [get(gy), gyT], [d.O, P], d.B));
      timed('weight grad', () => {
        const gwT = sWT.get(Kc * d.O);
        const listFloats = wasm ? Math.ceil(wasm.convWeightGradListBytes(d.B, d.H, d.W, d.O, d.Ho, d.Wo) / 4) : 0;
        const list = sList.get(Math.max(1, parts * listFloats));
        pool.run('convWeightGrad', [get(x), gyT, gwT, list], [...dimList(d), listFloats], Kc); // Eq. 17 (dL/dW), split by rows (c, ky, kx)
        pool.run('transpose', [gwT, get(gw)], [Kc, d.O], d.O);
      });
      if (gx)
        timed('input grad', () => {
          const wr = sGH.get(d.K * d.K * d.O * d.C);
          convWeightR(get(w), d, wr);
          // Winograd F(2×2, 3×3) where the SIMD kernels run and the shape allows (the direct kernels otherwise)
          const wino = wasm !== null && winogradApplies(d);
          const u = sU.get(wino ? 16 * d.O * d.C : 1);
          if (wino) winogradWeightsInto(get(w), d, u);
          const gxT = sA.get(parts * (d.H * d.W * d.C + (wino ? winogradScratch(d) : 0)));
          pool.run('convInputGrad', [gyT, wr, get(gx), gxT, u], [...dimList(d), wino ? 1 : 0], d.B);
        });
      return { gx, gw };
    },
    linear(x, w) {
      const { R: B, I, O } = linearDims(x, w);
      const y = make([...x.shape.slice(0, -1), O]);
      const wT = sWT.get(I * O);
      pool.run('transpose', [get(w), wT], [O, I], I, null, { grain: 64 });
      pool.run('linearForward', [get(x), wT, get(y)], [I, O, B], O, null, { grain: 64 }); // by columns: each part of wT read once
      return y;
    },
    linearBackward(x, w, gy, need, inputGradMask?: Tensor | null) {
      const { R: B, I, O } = linearBackwardDims(x, w, gy, inputGradMask);
      const gw = make(w.shape);
      const gx = need ? make(x.shape) : null;
      timed('weight grad', () => {
        const gwT = sA.get(I * O);
        pool.run('linearWeightGrad', [get(x), get(gy), gwT], [B, I, O], I, null, { grain: 16 });
        pool.run('transpose', [gwT, get(gw)], [I, O], O, null, { grain: 16 });
      });
      if (gx)
        timed('input grad', () => {
          let wT = get(w);
          if (wasm) {
            wT = sWT.get(I * O);
            pool.run('transpose', [get(w), wT], [O, I], I, null, { grain: 64 });
          }
          const mask = inputGradMask ? get(inputGradMask) : null;
          const arrays = [get(gy), get(w), wT, get(gx)];
          if (mask) arrays.push(mask);
          pool.run('linearInputGrad', arrays, [B, O, I, mask ? mask.length / I : 0], I, null, { grain: 64 }); // by columns: each part of wT read once
        });
      return { gx, gw };
    },

    batchNorm(x, gamma, beta, runningMean, runningVar, p) {
      const { B, C, S } = batchNormDims(x, gamma, beta, runningMean, runningVar, p);
      const y = make(x.shape);
      const mean = make([C]);
      const inv = make([C]);
      pool.run('bnForward', [get(x), get(gamma), get(beta), get(runningMean), get(runningVar), get(y), get(mean), get(inv), sBN.get(BN_SCRATCH * C)], [B, C, S, p.training ? 1 : 0, p.momentum, p.eps], C);
      return { y, saved: { mean, invStd: inv } };
    },
    batchNormBackward(x, gamma, saved: BatchNormSaved, gy, p) {
      const { B, C, S } = batchNormBackwardDims(x, gamma, saved, gy, p);
      get(saved.mean); // checked, not used: the kernel recomputes the statistics in double
      const gx = make(x.shape);
      const gg = make([C]);
      const gb = make([C]);
      pool.run('bnBackward', [get(x), get(gamma), get(gy), get(gx), get(gg), get(gb), sBN.get(BN_SCRATCH * C)], [B, C, S, p.eps], C);
      return { gx, gGamma: gg, gBeta: gb };
    },

    maxPool2d(x, p, tieDraws) {
      const { BC, H, W, Ho, Wo, shape } = poolDims(x.shape, p);
      if (tieDraws) assertShape('maxPool2d tieDraws', tieDraws.shape, shape);
      const y = make(shape);
      const am = make(shape);
      const arrays = tieDraws ? [get(x), get(y), get(am), get(tieDraws)] : [get(x), get(y), get(am)];
      pool.run('maxPool', arrays, [H, W, Ho, Wo, p.kernel, p.stride], BC, null, { grain: 8 });
      return { y, argmax: am };
    },
    maxPool2dBackward(gy, argmax, xShape, p) {
      const { BC, H, W, Ho, Wo } = poolBackwardDims('maxPool2dBackward', gy, xShape, p, argmax);
      const gx = make(xShape);
      pool.run('maxPoolBackward', [get(gy), get(argmax), get(gx)], [H, W, Ho, Wo, p.kernel, p.stride], BC, null, { grain: 8 });
      return gx;
    },
    avgPool2d(x, p) {
      const { BC, H, W, Ho, Wo, shape } = poolDims(x.shape, p);
      const y = make(shape);
      pool.run('avgPool', [get(x), get(y)], [H, W, Ho, Wo, p.kernel, p.stride], BC, null, { grain: 8 });
      return y;
    },
    avgPool2dBackward(gy, xShape, p) {
      const { BC, H, W, Ho, Wo } = poolBackwardDims('avgPool2dBackward', gy, xShape, p);
      const gx = make(xShape);
      pool.run('avgPoolBackward', [get(gy), get(gx)], [H, W, Ho, Wo, p.kernel, p.stride], BC, null, { grain: 8 });
      return gx;
    },

    dropout(x, mask) {
      assertShape('dropout mask', mask.shape, x.shape.slice(1));
      const y = make(x.shape);
      pool.run('dropout', [get(x), get(mask), get(y)], [mask.size], x.size, null, { grain: EW });
      return y;
    },

    neuron(cfg: NeuronConfig, x, a): NeuronTraceT {
      const { T, n } = neuronDims(x, a, cfg.kind === 'plif');
      const tr = { s: make(x.shape), h: make(x.shape), v: make(x.shape) };
      const av = a ? get(a)[0]! : NaN;
      neuronCodes(cfg, a ? av : undefined); // validates a before the threads start
      pool.run('neuronForward', [get(x), get(tr.s), get(tr.h), get(tr.v)], [T, n, a ? av : NaN, block], Math.ceil(n / block), neuronMeta(cfg)); // Eqs. 2-6
      return tr;
    },
    neuronBackward(cfg, x, trace, gs, a) {
      const { T, n } = neuronDims(x, a, cfg.kind === 'plif');
      checkNeuronBackward(x, trace, gs);
      const gx = make(x.shape);
      const blocks = Math.ceil(n / block);
      const av = a ? get(a)[0]! : NaN;
      const c = neuronCodes(cfg, a ? av : undefined);
      const gH = sGH.get(2 * n);
      const partials = sPart.get(2 * blocks);
      pool.run('neuronBackward', [get(x), get(trace.s), get(trace.h), get(trace.v), get(gs), get(gx), gH, partials], [T, n, a ? av : NaN, block], blocks, neuronMeta(cfg)); // Eqs. 8-16
      let ga: Tensor | null = null;
      if (a && cfg.kind === 'plif') {
        const P = new Float64Array(partials.buffer, partials.byteOffset, blocks);
        let gradK = 0;
        for (let b = 0; b < blocks; b++) gradK += P[b]!; // blocks in order: the same sum for any thread count
        ga = make([1]);
        get(ga)[0] = gradAFromK(c.kind, c.k, gradK); // Eq. 16
      }
      return { gx, ga };
    },

    vote(x, m) {
      const y = make([...x.shape.slice(0, -1), voteClasses(x, m)]);
      const xd = get(x);
      const yd = get(y);
      for (let j = 0; j < yd.length; j++) {
        let s = 0;
        for (let k = 0; k < m; k++) s += xd[j * m + k]!;
        yd[j] = s / m;
      }
      return y;
    },
    voteBackward(gy, m) {
      const C = gy.shape.at(-1)!;
      const gx = make([...gy.shape.slice(0, -1), C * m]);
      const gyd = get(gy);
      const gxd = get(gx);
      for (let j = 0; j < gyd.length; j++) {
        const g = gyd[j]! / m;
        for (let k = 0; k < m; k++) gxd[j * m + k] = g;
      }
      return gx;
    },

    mseLossGrad(out, labels, form: LossForm) {
      const { T, N, C } = lossDims(out, labels);
      const od = get(out);
      const grad = make(out.shape);
      const gd = get(grad);
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          const y = labels[n] === c ? 1 : 0;
          if (form === 'rate') {
            let r = 0;
            for (let t = 0; t < T; t++) r += od[(t * N + n) * C + c]!;
            r /= T;
            const g = mseGrad(r - y, N * C * T);
            for (let t = 0; t < T; t++) gd[(t * N + n) * C + c] = g;
          } else {
            for (let t = 0; t < T; t++) gd[(t * N + n) * C + c] = mseGrad(od[(t * N + n) * C + c]! - y, T * N * C);
          }
        }
      return grad;
    },

    countBad(ts, limit) {
      let bad = 0;
      // the WebAssembly count (SIMD): |x| > limit for a float32 x exactly when |x| > the largest float32 <= limit
      const lim = wasm && limit >= 0 ? float32AtMost(limit) : NaN;
      for (const t of ts) {
        const d = get(t);
        if (!Number.isNaN(lim) && arena.isOwnBuffer(d.buffer)) { // any view of the memory, from before or after it grew
          // split over the threads (an exact count per range, summed here) where a tensor is large
          const scratch = sCount.get(parts);
          const counts = new Int32Array(scratch.buffer, scratch.byteOffset, parts).fill(0);
          pool.run('countOutside', [d, scratch], [lim], d.length, null, { grain: EW });
          for (const c of counts) bad += c;
          continue;
        }
        for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!) || Math.abs(d[i]!) > limit) bad++;
      }
      const y = make([1]);
      get(y)[0] = bad;
      return y;
    },

    adam(param, grad, m, v, p: AdamParams) {
      checkAdam(param, grad, m, v);
      const { lrOverBc1, sqrtBc2 } = adamStepScalars(p);
      pool.run('adam', [get(param), get(grad), get(m), get(v)], [p.lr, p.beta1, p.beta2, p.eps, lrOverBc1, sqrtBc2], param.size, null, { grain: EW });
    },

    repeatT(x, T) {
      const y = make([T, ...x.shape]);
      pool.run('repeatT', [get(x), get(y)], [T, x.size], x.size, null, { grain: EW });
      return y;
    },
    sumT(x) {
      const T = x.shape[0]!;
      const y = make(x.shape.slice(1));
      pool.run('sumT', [get(x), get(y)], [T, y.size], y.size, null, { grain: EW });
      return y;
    },
  };
  return Object.assign(self, impl);
}
