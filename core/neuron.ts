// Multi-step spiking neuron layers (IF, LIF, PLIF): the fused forward over t = 0..T-1 (Eqs. 2-6) and the
// hand-derived backward over t = T-1..0 (Eqs. 8-17). Arrays are time-major [T][n], flattened. One step of
// each is core/scalar.ts neuronStep / neuronGradStep, which the gpu.js kernels compile too.
import { KIND_IF, KIND_LIF, KIND_PLIF, chargeGradK, chargeGradV, chargeGradX, neuronFire, neuronGradStep, neuronStep, reset, restPotential, sigmoid, sigmoidGradOfOutput } from './scalar.js';
import { PAPER_DEFAULTS } from './defaults.js';
import { surrogates, type Surrogate } from './surrogates.js';
import { zerosLike, type FloatArray } from './types.js';

export type NeuronKind = 'if' | 'lif' | 'plif';

export interface NeuronConfig {
  kind: NeuronKind;
  /** Membrane time constant: fixed for LIF, the initial tau0 of PLIF (a0 = -ln(tau0 - 1)). */
  tau: number;
  vThreshold: number;
  /** Hard reset to this potential, or `null` for soft reset (V = H - S Vth). */
  vReset: number | null;
  /** Eq. 6 form H = V + k(X - (V - Vr)) when true; H = V - k(V - Vr) + X when false. */
  decayInput: boolean;
  /** Stop the gradient through S in the reset (Supplementary 6). */
  detachReset: boolean;
  surrogate: Surrogate;
}

/** The paper's neuron (PAPER_DEFAULTS): PLIF, tau0 = 2, Vth = 1, Vr = 0, ATan surrogate, reset detached. */
export const DEFAULT_NEURON: Readonly<NeuronConfig> = Object.freeze({
  kind: 'plif',
  tau: PAPER_DEFAULTS.tau0,
  vThreshold: PAPER_DEFAULTS.vThreshold,
  vReset: PAPER_DEFAULTS.vReset,
  decayInput: true,
  detachReset: PAPER_DEFAULTS.detachReset,
  surrogate: surrogates[PAPER_DEFAULTS.surrogate.name](PAPER_DEFAULTS.surrogate.alpha),
});

/** The paper's defaults overridden by `partial`, validated. */
export function neuronConfig(partial: Partial<NeuronConfig> = {}): NeuronConfig {
  const cfg = { ...DEFAULT_NEURON, ...partial };
  validateNeuronConfig(cfg);
  return cfg;
}

export function validateNeuronConfig(cfg: NeuronConfig): void {
  if (cfg.kind !== 'if' && cfg.kind !== 'lif' && cfg.kind !== 'plif') {
    throw new RangeError(`neuron config: kind must be 'if', 'lif' or 'plif', got ${JSON.stringify(cfg.kind)}`);
  }
  if (typeof cfg.tau !== 'number' || !Number.isFinite(cfg.tau) || cfg.tau <= 1) {
    throw new RangeError(`neuron config: tau must be a finite number > 1 (the time step), got ${cfg.tau}`);
  }
  if (typeof cfg.vThreshold !== 'number' || !Number.isFinite(cfg.vThreshold)) {
    throw new RangeError(`neuron config: vThreshold must be a finite number, got ${cfg.vThreshold}`);
  }
  if (cfg.vReset !== null) {
    if (typeof cfg.vReset !== 'number' || !Number.isFinite(cfg.vReset)) {
      throw new RangeError(`neuron config: vReset must be a finite number or null (soft reset), got ${cfg.vReset}`);
    }
    if (cfg.vThreshold <= cfg.vReset) {
      throw new RangeError(`neuron config: vThreshold (${cfg.vThreshold}) must be greater than vReset (${cfg.vReset})`);
    }
  } else if (cfg.vThreshold <= 0) {
    throw new RangeError(`neuron config: vThreshold must be > 0 with soft reset (vReset null), got ${cfg.vThreshold}`);
  }
  if (typeof cfg.decayInput !== 'boolean') throw new RangeError(`neuron config: decayInput must be a boolean`);
  if (typeof cfg.detachReset !== 'boolean') throw new RangeError(`neuron config: detachReset must be a boolean`);
  const sg = cfg.surrogate;
  if (!sg || typeof sg.grad !== 'function' || typeof sg.code !== 'number' || !(sg.alpha > 0)) {
    throw new RangeError(`neuron config: surrogate must be one of core's surrogates (e.g. surrogates.atan(2))`);
  }
}

/** a0 = -ln(tau0 - 1), so that k(a0) = sigmoid(a0) = 1 / tau0. */
export function initialA(tau0: number): number {
  if (!Number.isFinite(tau0) || tau0 <= 1) throw new RangeError(`tau0 must be a finite number > 1, got ${tau0}`);
  return -Math.log(tau0 - 1);
}

/** tau = 1 / k(a) = 1 + exp(-a), always > 1. */
export function tauOf(a: number): number {
  return 1 + Math.exp(-a);
}

/** Spikes S, potential after charge H and after reset V, each [T][n]. */
export interface NeuronTrace<A extends FloatArray = FloatArray> {
  s: A;
  h: A;
  v: A;
}

export interface NeuronForwardOptions {
  /** Fire with the smooth primitive sigma(H - Vth) instead of the step: everything becomes differentiable. */
  smooth?: boolean;
  /** Initial potential V_{-1}, length n; default Vr (hard reset) or 0 (soft reset). */
  v0?: FloatArray;
  /** Only neurons lo <= i < hi (of the n per step); the rest of `out` is left as it is. */
  range?: NeuronRange;
}

/** A range of neuron indices: disjoint ranges may run concurrently on shared arrays. */
export interface NeuronRange {
  lo: number;
  hi: number;
}

function rangeOf(r: NeuronRange | undefined, n: number): [number, number] {
  if (!r) return [0, n];
  if (!(Number.isInteger(r.lo) && Number.isInteger(r.hi) && 0 <= r.lo && r.lo <= r.hi && r.hi <= n)) throw new RangeError(`neuron range [${r.lo}, ${r.hi}) outside [0, ${n})`);
  return [r.lo, r.hi];
}

export interface NeuronBackwardOptions {
  /** dL/dV_t from a loss on the potential, [T][n]. */
  gradV?: FloatArray;
  /** The initial potential the forward used, if not the default. */
  v0?: FloatArray;
  /** Only neurons lo <= i < hi; gradA then covers only them. */
  range?: NeuronRange;
}

/** Scalars a kernel needs: numeric codes and constants of a config. */
export function neuronCodes(cfg: NeuronConfig, a: number | undefined) {
  const kind = cfg.kind === 'if' ? KIND_IF : cfg.kind === 'lif' ? KIND_LIF : KIND_PLIF;
  const aUsed = a ?? initialA(cfg.tau);
  if (cfg.kind === 'plif' && !Number.isFinite(aUsed)) throw new RangeError(`PLIF parameter a must be finite, got ${a}`);
  return {
    kind,
    k: kind === KIND_PLIF ? sigmoid(aUsed) : kind === KIND_LIF ? 1 / cfg.tau : 1,
    hard: cfg.vReset === null ? 0 : 1,
    vr: cfg.vReset ?? 0,
    vth: cfg.vThreshold,
    decayInput: cfg.decayInput ? 1 : 0,
    detach: cfg.detachReset ? 1 : 0,
    sgCode: cfg.surrogate.code,
    alpha: cfg.surrogate.alpha,
  };
}

function checkSteps(x: FloatArray, T: number): number {
  if (!Number.isInteger(T) || T <= 0) throw new RangeError(`T must be a positive integer, got ${T}`);
  if (x.length % T !== 0) {
    throw new RangeError(`input length ${x.length} is not a multiple of T = ${T} (expected time-major [T][n])`);
  }
  return x.length / T;
}

function checkLength(name: string, arr: FloatArray | undefined, expected: number): void {
  if (arr !== undefined && arr.length !== expected) {
    throw new RangeError(`${name} has length ${arr.length}, expected ${expected}`);
  }
}

/**
 * Fused multi-step forward (Eqs. 2-6) writing into `out`. Time-outer: each step sweeps the n neurons
 * contiguously, reading V_{t-1} from row t-1 of the trace, so every access is sequential.
 */
export function neuronForwardInto(
  cfg: NeuronConfig,
  x: FloatArray,
  T: number,
  a: number | undefined,
  out: NeuronTrace,
  opts: NeuronForwardOptions = {},
): void {
  validateNeuronConfig(cfg);
  const n = checkSteps(x, T);
  checkLength('s', out.s, x.length);
  checkLength('h', out.h, x.length);
  checkLength('v', out.v, x.length);
  checkLength('v0', opts.v0, n);
  const c = neuronCodes(cfg, a);
  const { kind, decayInput, k, vr, vth, hard } = c;
  const smooth = opts.smooth === true;
  const primitive = cfg.surrogate.primitive;
  const v0 = opts.v0;
  const { s, h, v } = out;
  const [lo, hi] = rangeOf(opts.range, n);
  for (let t = 0; t < T; t++) {
    const o = t * n;
    for (let i = lo; i < hi; i++) {
      const j = o + i;
      const vPrev = t > 0 ? v[j - n]! : v0 ? v0[i]! : restPotential(vr);
      const xj = x[j]!;
      const hj = neuronStep(1, kind, decayInput, hard, vPrev, xj, k, vr, vth); // H_t, Eqs. 2, 5, 6
      h[j] = hj;
      if (smooth) {
        const sj = primitive(hj - vth); // Eq. 3 with the surrogate's primitive for Theta
        s[j] = sj;
        v[j] = reset(hard, hj, sj, vr, vth); // Eq. 4
      } else {
        s[j] = neuronFire(0, hard, hj, vr, vth); // S_t, Eq. 3
        v[j] = neuronFire(2, hard, hj, vr, vth); // V_t, Eq. 4
      }
    }
  }
}

export function neuronForward<A extends FloatArray>(
  cfg: NeuronConfig,
  x: A,
  T: number,
  a?: number,
  opts: NeuronForwardOptions = {},
): NeuronTrace<A> {
  const out = { s: zerosLike(x), h: zerosLike(x), v: zerosLike(x) };
  neuronForwardInto(cfg, x, T, a, out, opts);
  return out;
}

/**
 * Hand-derived BPTT through the layer (Eqs. 8-17) writing dL/dX into `gradX` (and dL/dV_{-1} into
 * `gradV0` if given). Returns dL/da summed over neurons and steps (0 for IF/LIF). Time-outer like the
 * forward; dL/dH_{t+1} lives in `scratch` (length >= n, allocated when not given).
 */
export function neuronBackwardInto(
  cfg: NeuronConfig,
  x: FloatArray,
  T: number,
  trace: NeuronTrace,
  gradS: FloatArray,
  a: number | undefined,
  gradX: FloatArray,
  opts: NeuronBackwardOptions & { gradV0?: FloatArray; scratch?: Float64Array } = {},
): { gradA: number; gradK: number } {
  validateNeuronConfig(cfg);
  const n = checkSteps(x, T);
  for (const [name, arr] of [['trace.s', trace.s], ['trace.h', trace.h], ['trace.v', trace.v], ['gradS', gradS], ['gradX', gradX], ['gradV', opts.gradV]] as const) {
    checkLength(name, arr, x.length);
  }
  checkLength('v0', opts.v0, n);
  checkLength('gradV0', opts.gradV0, n);
  const c = neuronCodes(cfg, a);
  const { kind, decayInput, vr, vth, hard, detach, sgCode, alpha } = c;
  const dHdV = chargeGradV(kind, c.k); // Eq. 11
  const dHdX = chargeGradX(kind, decayInput, c.k); // Eq. 14
  const { s, h, v } = trace;
  const { gradV, v0 } = opts;
  const [lo, hi] = rangeOf(opts.range, n);
  const gH = opts.scratch && opts.scratch.length >= n ? opts.scratch : new Float64Array(n); // dL/dH_{t+1}
  gH.fill(0, lo, hi); // zero past the last step
  let gradK = 0;
  for (let t = T - 1; t >= 0; t--) {
    const o = t * n;
    for (let i = lo; i < hi; i++) {
      const j = o + i;
      const g = neuronGradStep(gH[i]!, gradS[j]!, gradV ? gradV[j]! : 0, h[j]!, s[j]!, dHdV, hard, detach, vr, vth, sgCode, alpha); // dL/dH_t, Eqs. 8-13
      gH[i] = g;
      gradX[j] = g * dHdX; // Eq. 14 (Eq. 17 then applies the weights)
      const vPrev = t > 0 ? v[j - n]! : v0 ? v0[i]! : restPotential(vr);
      gradK += g * chargeGradK(kind, decayInput, vPrev, x[j]!, vr); // Eqs. 15-16
    }
  }
  if (opts.gradV0) for (let i = lo; i < hi; i++) opts.gradV0[i] = gH[i]! * dHdV;
  // dk/da = k(1 - k) for k = sigmoid(a); gradK = dL/dk (Eq. 16 before the chain through k)
  return { gradA: gradAFromK(kind, c.k, gradK), gradK };
}

/** dL/da from dL/dk: dk/da = k(1 - k) for k = sigmoid(a) (Eq. 15); 0 unless PLIF. */
export function gradAFromK(kind: number, k: number, gradK: number): number {
  return kind === KIND_PLIF ? gradK * sigmoidGradOfOutput(k) : 0;
}

export function neuronBackward<A extends FloatArray>(
  cfg: NeuronConfig,
  x: A,
  T: number,
  trace: NeuronTrace,
  gradS: A,
  a?: number,
  opts: NeuronBackwardOptions = {},
): { gradX: A; gradA: number; gradV0: A } {
  const gradX = zerosLike(x);
  const gradV0 = zerosLike(x, checkSteps(x, T));
  const { gradA } = neuronBackwardInto(cfg, x, T, trace, gradS, a, gradX, { ...opts, gradV0 });
  return { gradX, gradA, gradV0 };
}
