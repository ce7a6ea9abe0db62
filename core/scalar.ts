// Per-element math of the neuron, one function per equation, written once in the subset of JavaScript
// that gpu.js compiles (number arguments, Math.*, if/return, no closures, objects or module constants).
// core/neuron.ts calls these; the gpu.js backend registers the same functions with addFunction. Integer
// codes select variants; inside a body they are literals (gpu.js cannot see the constants below).

/** Neuron kinds as kernel codes. */
export const KIND_IF = 0;
export const KIND_LIF = 1;
export const KIND_PLIF = 2;

/** Surrogate codes (see core/surrogates.ts). */
export const SG_ATAN = 0;
export const SG_SIGMOID = 1;
export const SG_PIECEWISE_QUADRATIC = 2;
export const SG_PIECEWISE_EXP = 3;
export const SG_SOFT_SIGN = 4;
export const SG_ERF = 5;

/** k(a) = sigmoid(a), the clamp of Eq. 6: tau = 1 / k(a) in (1, inf). */
export function sigmoid(a: number): number {
  return 1 / (1 + Math.exp(-a));
}

/** Charge, Eqs. 5-6. kind 0 (KIND_IF): H = V + X. decayInput 1: H = V + k(X - (V - Vr)); 0: H = V - k(V - Vr) + X. */
export function charge(kind: number, decayInput: number, v: number, x: number, k: number, vr: number): number {
  if (kind === 0) {
    return v + x;
  }
  if (decayInput > 0) {
    return v + k * (x - (v - vr));
  }
  return v - k * (v - vr) + x;
}

/** dH_t/dV_{t-1}, Eq. 11: 1 - k for LIF/PLIF, 1 for IF. */
export function chargeGradV(kind: number, k: number): number {
  if (kind === 0) {
    return 1;
  }
  return 1 - k;
}

/** dH_t/dX_t, Eq. 14: k with decayInput, else 1. */
export function chargeGradX(kind: number, decayInput: number, k: number): number {
  if (kind === 0) {
    return 1;
  }
  if (decayInput > 0) {
    return k;
  }
  return 1;
}

/** dH_t/dk (first factor of Eq. 15): X - (V_{t-1} - Vr) with decayInput, else -(V_{t-1} - Vr). */
export function chargeGradK(kind: number, decayInput: number, v: number, x: number, vr: number): number {
  if (kind === 0) {
    return 0;
  }
  if (decayInput > 0) {
    return x - (v - vr);
  }
  return vr - v;
}

/** Theta of Eq. 3 with Theta(0) = 1. */
export function heaviside(x: number): number {
  if (x >= 0) {
    return 1;
  }
  return 0;
}

/** Reset, Eq. 4 (hard) or V = H - S Vth (soft: hard = 0). */
export function reset(hard: number, h: number, s: number, vr: number, vth: number): number {
  if (hard > 0) {
    return h * (1 - s) + vr * s;
  }
  return h - s * vth;
}

/** dV_t/dH_t, Eq. 12: (1 - S) + (Vr - H) dS/dH for hard reset, 1 - Vth dS/dH for soft; detach drops the dS/dH term. */
export function resetGradH(hard: number, detach: number, h: number, s: number, vr: number, vth: number, sg: number): number {
  let through = sg;
  if (detach > 0) {
    through = 0;
  }
  if (hard > 0) {
    return 1 - s + (vr - h) * through;
  }
  return 1 - vth * through;
}

/** V_{-1} = Vr, the potential before the first step (the note under Eq. 17; soft reset passes Vr = 0). */
export function restPotential(vr: number): number {
  return vr;
}

/** dL/dV_t = dL/dH_{t+1} dH_{t+1}/dV_t (Eqs. 8-9, dH/dV of Eq. 11), plus the gradient of a loss on V_t itself. */
export function gradPotential(gHNext: number, dHdV: number, gVLoss: number): number {
  return gHNext * dHdV + gVLoss;
}

/** dL/dH_t = dL/dS_t dS_t/dH_t (Eq. 10) + dL/dV_t dV_t/dH_t (Eqs. 8-9, 12), with dS_t/dH_t = sg (Eq. 13). */
export function gradCharged(gS: number, gV: number, sg: number, hard: number, detach: number, h: number, s: number, vr: number, vth: number): number {
  return gS * sg + gV * resetGradH(hard, detach, h, s, vr, vth, sg);
}

// ---- the neuron's time recurrence, one step each way: core/neuron.ts loops them over t for every neuron,
// the gpu.js kernels replay them up to a cell's step ----

/**
 * One step forward from V_{t-1} and X_t: H_t = f(V_{t-1}, X_t) (Eqs. 2, 5, 6), then neuronFire. Returns S_t
 * (quantity = 0), H_t (quantity = 1) or V_t (quantity = 2): V_t is the state the next step reads, H_t and S_t the
 * trace the backward reads. (Not named `which`: gpu.js's cpu mode reads a parameter named as a kernel
 * constant as that constant, and the neuron kernels have a constant `which`.)
 */
export function neuronStep(quantity: number, kind: number, decayInput: number, hard: number, vPrev: number, x: number, k: number, vr: number, vth: number): number {
  const h = charge(kind, decayInput, vPrev, x, k, vr);
  if (quantity === 1) {
    return h;
  }
  return neuronFire(quantity, hard, h, vr, vth);
}

/** The step's second half, from H_t: S_t = Theta(H_t - Vth) (Eq. 3) for quantity = 0, V_t after the reset (Eq. 4) for quantity = 2. */
export function neuronFire(quantity: number, hard: number, h: number, vr: number, vth: number): number {
  const s = heaviside(h - vth);
  if (quantity === 0) {
    return s;
  }
  return reset(hard, h, s, vr, vth);
}

/**
 * One step backward, t = T-1 down to 0: dL/dH_t from dL/dH_{t+1} (0 past the last step), dL/dS_t and a loss
 * on V_t. dL/dV_t = dL/dH_{t+1} dH_{t+1}/dV_t + gVLoss (Eqs. 8-9, 11), dS_t/dH_t = sigma'(H_t - Vth) (Eq. 13),
 * dL/dH_t = dL/dS_t dS_t/dH_t (Eq. 10) + dL/dV_t dV_t/dH_t (Eq. 12). Eqs. 16-17 multiply the result by
 * dH_t/dk and dH_t/dX_t.
 */
export function neuronGradStep(gHNext: number, gS: number, gVLoss: number, h: number, s: number, dHdV: number, hard: number, detach: number, vr: number, vth: number, sgCode: number, alpha: number): number {
  const gV = gradPotential(gHNext, dHdV, gVLoss);
  const sg = surrogateGrad(sgCode, h - vth, alpha);
  return gradCharged(gS, gV, sg, hard, detach, h, s, vr, vth);
}

/** dk/da = k(1 - k) for k = sigmoid(a) (the last factor of Eq. 15). */
export function sigmoidGradOfOutput(k: number): number {
  return k * (1 - k);
}

// Surrogate derivatives sigma'(x), one per surrogate; core/surrogates.ts pairs each with its primitive
// and code in one table.
export function atanSurrogateGrad(x: number, alpha: number): number {
  const u = (Math.PI / 2) * alpha * x;
  return alpha / 2 / (1 + u * u);
}
export function sigmoidSurrogateGrad(x: number, alpha: number): number {
  const sg = sigmoid(alpha * x);
  return alpha * sg * (1 - sg);
}
export function piecewiseQuadraticSurrogateGrad(x: number, alpha: number): number {
  const ax = Math.abs(x);
  if (ax > 1 / alpha) {
    return 0;
  }
  return alpha - alpha * alpha * ax;
}
export function piecewiseExpSurrogateGrad(x: number, alpha: number): number {
  return (alpha / 2) * Math.exp(-alpha * Math.abs(x));
}
export function softSignSurrogateGrad(x: number, alpha: number): number {
  const d = 1 + Math.abs(alpha * x);
  return alpha / (2 * d * d);
}
export function erfSurrogateGrad(x: number, alpha: number): number {
  return (alpha / Math.sqrt(Math.PI)) * Math.exp(-(alpha * x) * (alpha * x));
}

/**
 * sigma'(x) of the surrogate with this code (Eq. 13 uses it for dS/dH). The codes are written as numbers
 * because gpu.js compiles a function's body alone, without the module's constants: 0 SG_ATAN, 1 SG_SIGMOID,
 * 2 SG_PIECEWISE_QUADRATIC, 3 SG_PIECEWISE_EXP, 4 SG_SOFT_SIGN, 5 SG_ERF (proofs/surrogates.test.ts checks
 * every code against its surrogate).
 */
export function surrogateGrad(code: number, x: number, alpha: number): number {
  if (code === 0) {
    return atanSurrogateGrad(x, alpha);
  }
  if (code === 1) {
    return sigmoidSurrogateGrad(x, alpha);
  }
  if (code === 2) {
    return piecewiseQuadraticSurrogateGrad(x, alpha);
  }
  if (code === 3) {
    return piecewiseExpSurrogateGrad(x, alpha);
  }
  if (code === 4) {
    return softSignSurrogateGrad(x, alpha);
  }
  return erfSurrogateGrad(x, alpha);
}

// ---- the per-element math of the layers around the neuron, written once for every backend ----

/** MSE gradient of one output: 2 (o - y) / count, with o the rate (or one step's output) and count = T N C (Sec. 3.7). */
export function mseGrad(d: number, count: number): number {
  return (2 * d) / count;
}

/** Adam's first moment (torch.optim.Adam): m' = beta1 m + (1 - beta1) g. */
export function adamFirstMoment(m: number, g: number, beta1: number): number {
  return beta1 * m + (1 - beta1) * g;
}

/** Adam's second moment: v' = beta2 v + (1 - beta2) g^2. */
export function adamSecondMoment(v: number, g: number, beta2: number): number {
  return beta2 * v + (1 - beta2) * g * g;
}

/** Adam's update with the bias corrections as arguments: p - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps). */
export function adamParam(p: number, m: number, v: number, lrOverBc1: number, sqrtBc2: number, eps: number): number {
  return p - (lrOverBc1 * m) / (Math.sqrt(v) / sqrtBc2 + eps);
}

/** A BN running statistic (PyTorch): (1 - momentum) running + momentum batch factor (factor n/(n-1) for the variance). */
export function runningStat(running: number, batch: number, momentum: number, factor: number): number {
  return (1 - momentum) * running + momentum * batch * factor;
}

/**
 * BN's 1 / sqrt(var + eps), refined by one Newton step r (3 - u r^2) / 2 (multiplies and adds only): float32
 * rounding even where sqrt and division are not (GL's carry ~1e-5 relative error, which the backward's
 * cancelling terms would carry to dL/dx at ~1e-4 |gy|); in float64 the step changes nothing that survives
 * the rounding to float32.
 */
export function bnInvStd(variance: number, eps: number): number {
  const u = variance + eps;
  const r = 1 / Math.sqrt(u);
  return r * (1.5 - 0.5 * u * r * r);
}

/** BN's output, gamma xhat + beta with xhat = (x - mean) invStd: centred = x - mean. */
export function bnAffine(centred: number, invStd: number, gamma: number, beta: number): number {
  return gamma * centred * invStd + beta;
}

/**
 * dL/dx of training-mode BN: k (n gy - sum gy - (x - mean) invStd sum(gy xhat)), k = gamma invStd / n, the
 * sums over the channel's n values (sumGy = dL/dbeta, sumGyXhat = dL/dgamma).
 */
export function bnInputGrad(k: number, n: number, gy: number, centred: number, invStd: number, sumGy: number, sumGyXhat: number): number {
  return k * (n * gy - sumGy - centred * invStd * sumGyXhat);
}

/** The functions a kernel backend registers, in dependency order. */
export const KERNEL_FUNCTIONS = [
  sigmoid,
  charge,
  chargeGradV,
  chargeGradX,
  chargeGradK,
  heaviside,
  reset,
  resetGradH,
  restPotential,
  gradPotential,
  gradCharged,
  sigmoidGradOfOutput,
  atanSurrogateGrad,
  sigmoidSurrogateGrad,
  piecewiseQuadraticSurrogateGrad,
  piecewiseExpSurrogateGrad,
  softSignSurrogateGrad,
  erfSurrogateGrad,
  surrogateGrad,
  neuronFire,
  neuronStep,
  neuronGradStep,
  mseGrad,
  adamFirstMoment,
  adamSecondMoment,
  adamParam,
  runningStat,
  bnInvStd,
  bnAffine,
  bnInputGrad,
];
