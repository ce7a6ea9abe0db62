// The neuron ops on the WebAssembly SIMD kernels (assembly/kernels.ts neuronForward / neuronBackward): the
// constants of a config computed by core (neuronCodes, chargeGradV, chargeGradX), the loops in WebAssembly
// with core/scalar.ts's per-element float64 arithmetic compiled to f64x2 lanes. Bitwise equal to core's
// neuronForwardInto / neuronBackwardInto: test/cpu/wasm-neuron.test.ts.
import { neuronCodes, type NeuronConfig, type NeuronRange } from '../../../core/neuron.js';
import { chargeGradV, chargeGradX, SG_ATAN, SG_PIECEWISE_QUADRATIC, SG_SOFT_SIGN } from '../../../core/scalar.js';
import type { WasmKernels } from './module.js';

/**
 * Surrogates whose derivative the kernels compute bit for bit as core does: those without Math.exp (the
 * kernels' exp is AssemblyScript's, not the JavaScript engine's). Core's loop runs the others.
 */
export const WASM_SURROGATES: ReadonlySet<number> = new Set([SG_ATAN, SG_PIECEWISE_QUADRATIC, SG_SOFT_SIGN]);

/** Forward over neurons range.lo..hi: s, h, v of x [T][n] (Eqs. 2-6). */
export function neuronForwardWasm(wasm: WasmKernels, cfg: NeuronConfig, a: number | undefined, x: Float32Array, out: { s: Float32Array; h: Float32Array; v: Float32Array }, T: number, n: number, range: NeuronRange): void {
  const c = neuronCodes(cfg, a);
  wasm.neuronForward(x.byteOffset, out.s.byteOffset, out.h.byteOffset, out.v.byteOffset, T, n, range.lo, range.hi, c.kind, c.decayInput, c.hard, c.k, c.vr, c.vth);
}

/**
 * Backward over neurons range.lo..hi (Eqs. 8-16): dL/dX into gx, dL/dH in `scratch` (float64 [n], 8-byte
 * aligned); returns dL/dk of the range, or null for a surrogate not in WASM_SURROGATES (core's loop then runs).
 */
export function neuronBackwardWasm(
  wasm: WasmKernels,
  cfg: NeuronConfig,
  a: number | undefined,
  x: Float32Array,
  trace: { s: Float32Array; h: Float32Array; v: Float32Array },
  gs: Float32Array,
  gx: Float32Array,
  scratch: Float64Array,
  T: number,
  n: number,
  range: NeuronRange,
): number | null {
  if (!WASM_SURROGATES.has(cfg.surrogate.code)) return null;
  const c = neuronCodes(cfg, a);
  return wasm.neuronBackward(
    x.byteOffset,
    trace.s.byteOffset,
    trace.h.byteOffset,
    trace.v.byteOffset,
    gs.byteOffset,
    gx.byteOffset,
    scratch.byteOffset,
    T,
    n,
    range.lo,
    range.hi,
    c.kind,
    c.decayInput,
    c.hard,
    c.detach,
    c.sgCode,
    chargeGradV(c.kind, c.k), // Eq. 11
    chargeGradX(c.kind, c.decayInput, c.k), // Eq. 14
    c.vr,
    c.vth,
    c.alpha,
  );
}
