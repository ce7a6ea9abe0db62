// The CPU backend's WebAssembly SIMD kernels as a module: what it exports, whether this runtime can run it,
// compiling its bytes and instantiating it on a shared memory. No I/O: index.ts reads kernels.wasm in Node,
// the browser page fetches it.

/** Bytes at the start of the memory that belong to the module (tensors are allocated above). */
export const KERNEL_RESERVED_BYTES = 65536;
/** Maximum pages of the shared memory the module imports (its declared maximum). */
export const KERNEL_MAX_PAGES = 65536;

export interface WasmKernels {
  /**
   * One image: yT [Ho*Wo][O] = Σ over nonzero x [C][H][W] and taps of x · wT [(c*K+ky)*K+kx][O] (overwritten);
   * lists: a scratch of convForwardListBytes bytes.
   */
  convForwardImage(x: number, wT: number, yT: number, lists: number, C: number, H: number, W: number, O: number, K: number, stride: number, pad: number, Ho: number, Wo: number): void;
  /** Bytes of the lists scratch one convForwardImage call needs. */
  convForwardListBytes(C: number, H: number, W: number, K: number, Ho: number, Wo: number): number;
  /**
   * Rows [r0, r1) of gwT [(c*K+ky)*K+kx][O] (overwritten) = Σ_b Σ_{nonzero x} x · gyT [B][Ho*Wo][O] row; x [B][C][H][W];
   * list: a scratch of convWeightGradListBytes bytes.
   */
  convWeightGrad(x: number, gyT: number, gwT: number, list: number, B: number, C: number, H: number, W: number, O: number, K: number, stride: number, pad: number, Ho: number, Wo: number, r0: number, r1: number): void;
  /** Bytes of the list scratch one convWeightGrad call needs. */
  convWeightGradListBytes(B: number, H: number, W: number, O: number, Ho: number, Wo: number): number;
  /** One image: gxT [H*W][C] (overwritten) = input gradient from gyT [Ho*Wo][O] and wr [(ky*K+kx)*O+o][C]. */
  convInputGradImage(gyT: number, wr: number, gxT: number, C: number, H: number, W: number, O: number, K: number, stride: number, pad: number, Ho: number, Wo: number): void;
  convInputGradWinograd(gyT: number, u: number, gxT: number, v: number, m: number, C: number, H: number, W: number, O: number): void;
  transpose(src: number, dst: number, rows: number, cols: number, c0: number, c1: number): void;
  bnSums(x: number, gy: number, st: number, B: number, C: number, S: number, c0: number, c1: number, grad: number): void;
  bnApply(x: number, gy: number, out: number, st: number, kk: number, B: number, C: number, S: number, c0: number, c1: number, grad: number): void;
  /** Rows [b0, b1), columns [o0, o1) of y [B][O] (overwritten) = Σ_{x[b][i] != 0} x[b][i] · wT[i][:]; x [B][I], wT [I][O]. */
  linearForward(x: number, wT: number, y: number, I: number, O: number, b0: number, b1: number, o0: number, o1: number): void;
  /** Rows [i0, i1) of gwT [I][O] (overwritten) = Σ_b Σ_{x[b][i] != 0} x[b][i] · gy[b][:]. */
  linearWeightGrad(x: number, gy: number, gwT: number, B: number, I: number, O: number, i0: number, i1: number): void;
  /**
   * Rows [b0, b1), columns [i0, i1) of gx [B][I] (overwritten) = gy [B][O] · w [O][I], computed as dot products with the rows
   * of wT = w^T [I][O] (w itself is not read). mask != 0: byte offset of a float32 [maskRows][I]; entries
   * with mask[b % maskRows][i] == 0 are written as 0 (and skipped: rows b and b + maskRows, which share a
   * mask row, are computed together on their kept columns only).
   */
  linearInputGrad(gy: number, wT: number, gx: number, B: number, O: number, I: number, b0: number, b1: number, mask: number, maskRows: number, i0: number, i1: number): void;
  /**
   * core/neuron.ts neuronForwardInto over neurons [lo, hi) of n per step (time-major float32 [T][n]): H, S, V
   * into h, s, v with core's float64 arithmetic; kind 0 IF, 1 LIF, 2 PLIF; decayInput, hard 0 or 1.
   */
  neuronForward(x: number, s: number, h: number, v: number, T: number, n: number, lo: number, hi: number, kind: number, decayInput: number, hard: number, k: number, vr: number, vth: number): void;
  /**
   * core/neuron.ts neuronBackwardInto over neurons [lo, hi) with surrogate sgCode of parameter alpha (dHdV, dHdX:
   * core's chargeGradV, chargeGradX): dL/dX into gx, dL/dH in the float64 scratch gH [n]; returns dL/dk of the range.
   */
  neuronBackward(x: number, s: number, h: number, v: number, gs: number, gx: number, gH: number, T: number, n: number, lo: number, hi: number, kind: number, decayInput: number, hard: number, detach: number, sgCode: number, dHdV: number, dHdX: number, vr: number, vth: number, alpha: number): number;
  /** y[j] = x[j] · mask[j mod n] for j in [lo, hi) (float32 products). */
  dropoutApply(x: number, mask: number, y: number, n: number, lo: number, hi: number): void;
  /** How many of the n float32 values at x are NaN, infinite or above lim in magnitude (lim >= 0, a float32). */
  countOutside(x: number, n: number, lim: number): number;
  /** y[j] = Σ_t x[t*n + j] for the m values from x and y (float32 adds in t order, from 0: kernels.ts sumT's result). */
  sumT(x: number, y: number, T: number, n: number, m: number): void;
  /** Max pooling of planes [p0, p1) of x [P][H][W] into y and am [P][Ho][Wo], the first maximum of each window (no tie draws). */
  maxPool(x: number, y: number, am: number, H: number, W: number, Ho: number, Wo: number, K: number, s: number, p0: number, p1: number): void;
  /** gx of planes [p0, p1) = 0, then each gy added at the input its am picked (the gradient of maxPool). */
  maxPoolBackward(gy: number, am: number, gx: number, H: number, W: number, Ho: number, Wo: number, K: number, s: number, p0: number, p1: number): void;
  /** Adam over values [lo, hi) of p, g, m, v: core/scalar.ts's moments and update in float64. */
  adam(p: number, g: number, m: number, v: number, lo: number, hi: number, b1: number, b2: number, eps: number, stepSize: number, sqrtBc2: number): void;
}

const KERNEL_NAMES = ['convForwardImage', 'convWeightGrad', 'convInputGradImage', 'linearForward', 'linearWeightGrad', 'linearInputGrad', 'neuronForward', 'neuronBackward', 'countOutside', 'sumT', 'maxPool', 'maxPoolBackward', 'adam', 'convInputGradWinograd', 'transpose', 'bnSums', 'bnApply', 'convWeightGradListBytes', 'convForwardListBytes', 'dropoutApply'] as const;

export type KernelModuleResult = { module: WebAssembly.Module } | { module: null; reason: string };

// (func (result v128) v128.const 0): valid only where the runtime has WebAssembly SIMD
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11,
]);

/** Why this runtime (its WebAssembly object) cannot run the kernels (no WebAssembly, no SIMD, no shared memory), or null when it can. */
export function kernelSupportProblem(wa: typeof WebAssembly | null = typeof WebAssembly === 'object' ? WebAssembly : null): string | null {
  if (wa === null) return 'this runtime has no WebAssembly';
  if (!wa.validate(SIMD_PROBE)) return 'this runtime has no WebAssembly SIMD';
  try {
    new wa.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return 'this runtime has no shared WebAssembly memory (threads)';
  }
  return null;
}

/** Compiles the bytes of kernels.wasm (synchronously), read from `where`; null module with the reason when it cannot. */
export function compileKernelModule(bytes: Uint8Array, where: string): KernelModuleResult {
  const problem = kernelSupportProblem();
  if (problem !== null) return { module: null, reason: problem };
  try {
    return { module: new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>) };
  } catch (e) {
    return { module: null, reason: `WebAssembly kernels at ${where} do not compile: ${(e as Error).message} (run npm run build)` };
  }
}

/** Instantiates the kernels on a shared memory (synchronous; once per thread, all on the same memory). */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): WasmKernels {
  const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const kernels = {} as Record<(typeof KERNEL_NAMES)[number], unknown>;
  for (const name of KERNEL_NAMES) {
    const f = exports[name];
    if (typeof f !== 'function') throw new Error(`WebAssembly kernels: export ${name} missing (run npm run build)`);
    kernels[name] = f;
  }
  return kernels as unknown as WasmKernels;
}
