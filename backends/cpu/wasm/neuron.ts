// The neuron ops on the WebAssembly SIMD kernels (assembly/kernels.ts neuronForward / neuronBackward): the
// constants of a config computed by core (neuronCodes, chargeGradV, chargeGradX, the ATan surrogate's
// factors), the loops in WebAssembly with core's per-element float64 arithmetic. Bitwise equal to core's
// neuronForwardInto / neuronBackwardInto: test/cpu/wasm-neuron.test.ts.
import { neuronCodes, type NeuronConfig, type NeuronRange } from '../../../core/neuron.js';
import { chargeGradV, chargeGradX, SG_ATAN } from '../../../core/scalar.js';
import type { WasmKernels } from './module.js';

/** Forward over neurons range.lo..hi: s, h, v of x [T][n] (Eqs. 2-6). */
export function neuronForwardWasm(wasm: WasmKernels, cfg: NeuronConfig, a: number | undefined, x: Float32Array, out: { s: Float32Array; h: Float32Array; v: Float32Array }, T: number, n: number, range: NeuronRange): void {
  const c = neuronCodes(cfg, a);
  wasm.neuronForward(x.byteOffset, out.s.byteOffset, out.h.byteOffset, out.v.byteOffset, T, n, range.lo, range.hi, c.kind, c.decayInput, c.hard, c.k, c.vr, c.vth);
}

/**
 * Backward over neurons range.lo..hi (Eqs. 8-16): dL/dX into gx, dL/dH in `scratch` (float64 [n], 8-byte
 * aligned); returns dL/dk of the range, or null for a surrogate other than ATan (core's loop then runs).
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
  if (cfg.surrogate.code !== SG_ATAN) return null;
  const c = neuronCodes(cfg, a);
  // core/scalar.ts atanSurrogateGrad: (alpha / 2) / (1 + u u), u = ((pi / 2) alpha) x
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
    chargeGradV(c.kind, c.k), // Eq. 11
    chargeGradX(c.kind, c.decayInput, c.k), // Eq. 14
    c.vr,
    c.vth,
    (Math.PI / 2) * c.alpha,
    c.alpha / 2,
  );
}
