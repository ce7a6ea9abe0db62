// The WebAssembly neuron loops (backends/cpu/wasm: neuronForwardWasm / neuronBackwardWasm on the real module)
// are bitwise equal to core's neuronForwardInto / neuronBackwardInto, the one source of the recurrence: S, H,
// V, dL/dX, the float64 dL/dH scratch and dL/dk compared bit for bit (-0 and NaN included), over every neuron
// kind, reset, decayInput and detachReset, ranges split between calls, tails of odd length, inputs exactly
// at the threshold.
import { describe, expect, it } from 'vitest';
import { instantiateKernels, KERNEL_MAX_PAGES, KERNEL_RESERVED_BYTES, loadKernelModule } from '../../backends/cpu/wasm/index.js';
import { neuronBackwardWasm, neuronForwardWasm, WASM_SURROGATES } from '../../backends/cpu/wasm/neuron.js';
import { neuronBackwardInto, neuronConfig, neuronForwardInto, type NeuronConfig } from '../../core/neuron.js';
import { surrogates } from '../../core/surrogates.js';

const loaded = loadKernelModule();

/** Seeded uniform [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bits of every element: equal arrays of bits mean bitwise-equal floats, -0 and NaN payloads included. */
const bits = (a: Float32Array | Float64Array) => Array.from(a instanceof Float32Array ? new Uint32Array(a.buffer, a.byteOffset, a.length) : new BigUint64Array(a.buffer, a.byteOffset, a.length), String);

function setup(T: number, n: number) {
  const memory = new WebAssembly.Memory({ initial: 64, maximum: KERNEL_MAX_PAGES, shared: true });
  const wasm = instantiateKernels(loaded.module!, memory);
  let at = KERNEL_RESERVED_BYTES;
  const f32 = (len: number) => {
    const a = new Float32Array(memory.buffer, at, len);
    at += Math.ceil((4 * len) / 16) * 16;
    return a;
  };
  const x = f32(T * n);
  const trace = { s: f32(T * n), h: f32(T * n), v: f32(T * n) };
  const gs = f32(T * n);
  const gx = f32(T * n);
  const scratch = new Float64Array(memory.buffer, at, n);
  return { wasm, x, trace, gs, gx, scratch };
}

/** Inputs with values exactly at the threshold (IF: H = X at t = 0), zeros of both signs, and random ones. */
function fill(x: Float32Array, gs: Float32Array, r: () => number, vth: number): void {
  const special = [0, -0, vth, vth / 2, 1, -1, 0.5];
  for (let i = 0; i < x.length; i++) {
    x[i] = r() < 0.2 ? special[Math.floor(r() * special.length)]! : r() * 4 - 1;
    gs[i] = r() < 0.1 ? (r() < 0.5 ? 0 : -0) : r() * 2 - 1;
  }
}

const configs: NeuronConfig[] = [];
for (const kind of ['if', 'lif', 'plif'] as const)
  for (const decayInput of [true, false])
    for (const vReset of [0, -0.25, null])
      for (const detachReset of [true, false])
        configs.push(neuronConfig({ kind, decayInput, vReset, detachReset, tau: 1.7, vThreshold: 1, surrogate: surrogates.atan(kind === 'lif' ? 3.7 : 2) }));
// the other surrogates the kernels run (WASM_SURROGATES)
for (const surrogate of [surrogates.piecewiseQuadratic(2), surrogates.softSign(3)])
  for (const detachReset of [true, false]) configs.push(neuronConfig({ kind: 'plif', detachReset, tau: 1.7, vThreshold: 1, surrogate }));

describe.skipIf(loaded.module === null)('WebAssembly neuron loops = core/neuron.ts, bit for bit', () => {
  const name = (c: NeuronConfig) => `${c.surrogate.name} ${c.kind} decayInput=${c.decayInput} vReset=${c.vReset} detach=${c.detachReset}`;
  it.each(configs.map((c) => ({ c, label: name(c) })))('$label', ({ c }) => {
    for (const [T, n, seed] of [[1, 7, 1], [4, 37, 2], [9, 64, 3]] as const) {
      const r = rng(seed * 101 + configs.indexOf(c));
      const w = setup(T, n);
      fill(w.x, w.gs, r, c.vThreshold);
      const a = c.kind === 'plif' ? r() * 2 - 1 : undefined;
      // core on copies of the same inputs
      const x = Float32Array.from(w.x);
      const gs = Float32Array.from(w.gs);
      const trace = { s: new Float32Array(T * n), h: new Float32Array(T * n), v: new Float32Array(T * n) };
      neuronForwardInto(c, x, T, a, trace);
      // the WebAssembly loop over two ranges (one of odd length)
      const mid = Math.floor(n / 2) | 1;
      neuronForwardWasm(w.wasm, c, a, w.x, w.trace, T, n, { lo: 0, hi: mid });
      neuronForwardWasm(w.wasm, c, a, w.x, w.trace, T, n, { lo: mid, hi: n });
      for (const q of ['s', 'h', 'v'] as const) expect(bits(w.trace[q]), `${q}, T ${T}, n ${n}`).toEqual(bits(trace[q]));

      const gx = new Float32Array(T * n);
      const scratch = new Float64Array(n);
      const core = neuronBackwardInto(c, x, T, trace, gs, a, gx, { scratch });
      const gk = neuronBackwardWasm(w.wasm, c, a, w.x, w.trace, w.gs, w.gx, w.scratch, T, n, { lo: 0, hi: n });
      expect(bits(w.gx), `gx, T ${T}, n ${n}`).toEqual(bits(gx));
      expect(bits(w.scratch), `dL/dH_0, T ${T}, n ${n}`).toEqual(bits(scratch));
      expect(Object.is(gk, core.gradK) || (Number.isNaN(gk!) && Number.isNaN(core.gradK)), `dL/dk ${gk} vs ${core.gradK}`).toBe(true);
      // split ranges sum dL/dk per range, as the backend's blocks do: each range equals core's over it
      const gx2 = new Float32Array(T * n);
      const part = neuronBackwardInto(c, x, T, trace, gs, a, gx2, { scratch: new Float64Array(n), range: { lo: mid, hi: n } });
      expect(Object.is(neuronBackwardWasm(w.wasm, c, a, w.x, w.trace, w.gs, w.gx, w.scratch, T, n, { lo: mid, hi: n }), part.gradK)).toBe(true);
    }
  });

  it('has no loop for the surrogates with exp (core runs them): the backward returns null', () => {
    const w = setup(2, 4);
    for (const sg of [surrogates.sigmoid(4), surrogates.piecewiseExp(2), surrogates.erf(2)]) {
      expect(WASM_SURROGATES.has(sg.code)).toBe(false);
      expect(neuronBackwardWasm(w.wasm, neuronConfig({ surrogate: sg }), 0, w.x, w.trace, w.gs, w.gx, w.scratch, 2, 4, { lo: 0, hi: 4 })).toBeNull();
    }
  });
});
