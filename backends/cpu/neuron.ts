// Fused multi-step neuron on Float32Array, time-outer: at each step the loop runs over all n neurons
// contiguously (the state V_{t-1} is row t-1 of the trace, dL/dH_{t+1} a length-n buffer), so every
// access is sequential. The per-element math is core/scalar.ts's (the same functions gpu.js compiles).
import { neuronCodes, type NeuronConfig, type NeuronTrace } from '../../core/neuron.js';
import { chargeGradK, chargeGradV, chargeGradX, charge, heaviside, reset, resetGradH, surrogateGrad } from '../../core/scalar.js';

/** Eqs. 2-6 over t = 0..T-1; x, s, h, v are [T][n]. */
export function neuronForwardCpu(cfg: NeuronConfig, x: Float32Array, T: number, a: number | undefined, out: NeuronTrace): void {
  const c = neuronCodes(cfg, a);
  const n = x.length / T;
  const { s, h, v } = out;
  const kind = c.kind;
  const di = c.decayInput;
  const k = c.k;
  const vr = c.vr;
  const vth = c.vth;
  const hard = c.hard;
  for (let i = 0; i < n; i++) {
    const hh = charge(kind, di, vr, x[i]!, k, vr); // V_{-1} = Vr
    const ss = heaviside(hh - vth);
    h[i] = hh;
    s[i] = ss;
    v[i] = reset(hard, hh, ss, vr, vth);
  }
  for (let t = 1; t < T; t++) {
    const o = t * n;
    const p = o - n;
    for (let i = 0; i < n; i++) {
      const hh = charge(kind, di, v[p + i]!, x[o + i]!, k, vr); // Eqs. 5-6
      const ss = heaviside(hh - vth); // Eq. 3
      h[o + i] = hh;
      s[o + i] = ss;
      v[o + i] = reset(hard, hh, ss, vr, vth); // Eq. 4
    }
  }
}

/** Eqs. 8-16 over t = T-1..0; writes dL/dX into gradX, returns dL/da. gH: scratch of length >= n. */
export function neuronBackwardCpu(cfg: NeuronConfig, x: Float32Array, T: number, trace: NeuronTrace, gradS: Float32Array, a: number | undefined, gradX: Float32Array, gH: Float64Array): number {
  const c = neuronCodes(cfg, a);
  const n = x.length / T;
  const { s, h, v } = trace;
  const dHdV = chargeGradV(c.kind, c.k); // Eq. 11
  const dHdX = chargeGradX(c.kind, c.decayInput, c.k); // Eq. 14
  const { kind, decayInput, vr, vth, hard, detach, sgCode, alpha } = c;
  gH.fill(0, 0, n);
  let gradK = 0;
  for (let t = T - 1; t >= 0; t--) {
    const o = t * n;
    for (let i = 0; i < n; i++) {
      const j = o + i;
      const hj = h[j]!;
      const sg = surrogateGrad(sgCode, hj - vth, alpha); // Eq. 13
      const gV = gH[i]! * dHdV; // dL/dV_t through H_{t+1}
      const g = gradS[j]! * sg + gV * resetGradH(hard, detach, hj, s[j]!, vr, vth, sg); // Eqs. 8-10, 12
      gH[i] = g;
      gradX[j] = g * dHdX; // Eq. 17 (before the weights)
      const vPrev = t > 0 ? v[j - n]! : vr;
      gradK += g * chargeGradK(kind, decayInput, vPrev, x[j]!, vr); // Eqs. 15-16
    }
  }
  return c.kind === 2 ? gradK * c.k * (1 - c.k) : 0; // dk/da = k(1 - k)
}
