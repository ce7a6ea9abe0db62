// gpu.js kernel sources. Every tensor is a flat 1-D array (a texture of closest-square size on GL, a
// Float32Array on cpu/webasm) and every kernel writes a flat 1-D output, so no texture dimension can pass
// 16384 (gpu.js packs [n] into about sqrt(n) x sqrt(n)). Each output cell gathers what feeds it: no
// scatter.
//
// Extents (shapes) and neuron parameters are kernel *arguments* (uniforms), not constants, so each kernel
// compiles once per backend and serves every shape (dynamicOutput/dynamicArguments); only `which`/`rate`
// (a variant switch) is a constant. A loop bounded by an argument compiles to
// `for (safeI < loopMaxIterations) { if (!cond) break; }`: the backend sets loopMaxIterations to
// MAX_LOOP (65535) and checks every extent against it before a call, so no loop is ever cut short
// silently. 65535 is also a hard limit of GL here: headless-gl (ANGLE over Mesa) stops any loop, even one
// with a literal bound, after 65535 iterations.
//
// These functions are never called as JavaScript: gpu.js parses their source (Function.prototype.toString)
// and compiles it. So they must not reference module imports (vitest's module runner rewrites imported
// names into `__vi_import_0__.name`, which gpu.js cannot resolve): the shared scalar math of core/scalar.ts
// and the index helpers below are *registered* on the GPU instance with addFunction and named here through
// ambient declarations only.

/** What gpu.js offers a kernel body through `this`. */
export interface KernelThis {
  thread: { x: number };
  constants: Record<string, number>;
}
type Arr = Float32Array;

// ---- registered with addFunction (see backend.ts); ambient here so nothing is imported ----
declare function sigmoid(a: number): number;
declare function chargeGradV(kind: number, k: number): number;
declare function chargeGradX(kind: number, decayInput: number, k: number): number;
declare function chargeGradK(kind: number, decayInput: number, v: number, x: number, vr: number): number;
declare function restPotential(vr: number): number;
declare function sigmoidGradOfOutput(k: number): number;
declare function neuronStep(quantity: number, kind: number, decayInput: number, hard: number, vPrev: number, x: number, k: number, vr: number, vth: number): number;
declare function neuronGradStep(gHNext: number, gS: number, gVLoss: number, h: number, s: number, dHdV: number, hard: number, detach: number, vr: number, vth: number, sgCode: number, alpha: number): number;
declare function mseGrad(d: number, count: number): number;
declare function adamFirstMoment(m: number, g: number, beta1: number): number;
declare function adamSecondMoment(v: number, g: number, beta2: number): number;
declare function adamParam(p: number, m: number, v: number, lrOverBc1: number, sqrtBc2: number, eps: number): number;
declare function runningStat(running: number, batch: number, momentum: number, factor: number): number;
declare function bnInvStd(variance: number, eps: number): number;
declare function bnAffine(centred: number, invStd: number, gamma: number, beta: number): number;
declare function bnInputGrad(k: number, n: number, gy: number, centred: number, invStd: number, sumGy: number, sumGyXhat: number): number;

/**
 * floor(a / b) for integer-valued a >= 0 and b > 0, exact while a < 2^24. A float32 quotient can round
 * up across an integer (e.g. (q b - 1) / b for large q); the two corrections make it exact.
 */
export function idiv(a: number, b: number): number {
  let q = Math.floor((a + 0.5) / b);
  if (a - q * b < 0) {
    q = q - 1;
  }
  if (a - q * b >= b) {
    q = q + 1;
  }
  return q;
}

/** a mod b for integer-valued a >= 0, b > 0 (exact, see idiv). */
export function imod(a: number, b: number): number {
  return a - idiv(a, b) * b;
}

/** The helpers registered before the kernels (core's KERNEL_FUNCTIONS come with them). */
export const INDEX_FUNCTIONS = [idiv, imod];

// ---- storage ----
export function copyK(this: KernelThis, x: Arr): number {
  return x[this.thread.x]!;
}
export function fillK(this: KernelThis): number {
  return this.constants.value!;
}

// ---- elementwise ----
/** y[t, j] = x[j]: arguments n (size of x). */
export function repeatTK(this: KernelThis, x: Arr, n: number): number {
  return x[imod(this.thread.x, n)]!;
}
/** y[j] = sum_t x[t, j]: arguments T, n. */
export function sumTK(this: KernelThis, x: Arr, T: number, n: number): number {
  const j = this.thread.x;
  let s = 0;
  for (let t = 0; t < T; t++) {
    s += x[t * n + j]!;
  }
  return s;
}
/** y[t, j] = x[t, j] * mask[j]: arguments n (size of mask). */
export function dropoutK(this: KernelThis, x: Arr, mask: Arr, n: number): number {
  const i = this.thread.x;
  return x[i]! * mask[imod(i, n)]!;
}
/** [a, b]: the values of a (na of them) then those of b, so several tensors read back as one. */
export function concatK(this: KernelThis, a: Arr, b: Arr, na: number): number {
  const i = this.thread.x;
  if (i < na) {
    return a[i]!;
  }
  return b[i - na]!;
}
/** a[0] + b[0]: arguments none (two [1] values). */
export function addK(this: KernelThis, a: Arr, b: Arr): number {
  return a[0]! + b[0]!;
}
/**
 * 1 where x is NaN, infinite or (limit >= 0) beyond ±limit, else 0: the divergence check's flags. A NaN fails
 * every comparison, so the only test that passes is the one that says the value is finite.
 */
export function badFlagK(this: KernelThis, x: Arr, limit: number): number {
  const a = Math.abs(x[this.thread.x]!);
  if (a <= 3.4028234e38) {
    if (limit >= 0 && a > limit) {
      return 1;
    }
    return 0;
  }
  return 1;
}
/** Sum of `chunk` consecutive values per output cell (a reduction stage): arguments n, chunk. */
export function reduceSumK(this: KernelThis, x: Arr, n: number, chunk: number): number {
  const base = this.thread.x * chunk;
  let s = 0;
  for (let q = 0; q < chunk; q++) {
    if (base + q < n) {
      s += x[base + q]!;
    }
  }
  return s;
}

// ---- conv2d over [B, C, H, W] with w [O, C, K, K]: arguments C, H, W, O, K, S, P, Ho, Wo (and B for gw) ----
export function conv2dK(this: KernelThis, x: Arr, w: Arr, C: number, H: number, W: number, O: number, K: number, S: number, P: number, Ho: number, Wo: number): number {
  const i = this.thread.x;
  const ox = imod(i, Wo);
  let r = idiv(i, Wo);
  const oy = imod(r, Ho);
  r = idiv(r, Ho);
  const o = imod(r, O);
  const b = idiv(r, O);
  let sum = 0;
  for (let ch = 0; ch < C; ch++) {
    for (let ky = 0; ky < K; ky++) {
      for (let kx = 0; kx < K; kx++) {
        const iy = oy * S - P + ky;
        const ix = ox * S - P + kx;
        if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
          sum += x[((b * C + ch) * H + iy) * W + ix]! * w[((o * C + ch) * K + ky) * K + kx]!;
        }
      }
    }
  }
  return sum;
}
/** dL/dx in gather form: each input cell sums over the output cells whose window covers it. */
export function conv2dGradXK(this: KernelThis, gy: Arr, w: Arr, C: number, H: number, W: number, O: number, K: number, S: number, P: number, Ho: number, Wo: number): number {
  const i = this.thread.x;
  const ix = imod(i, W);
  let r = idiv(i, W);
  const iy = imod(r, H);
  r = idiv(r, H);
  const ch = imod(r, C);
  const b = idiv(r, C);
  let sum = 0;
  for (let o = 0; o < O; o++) {
    for (let ky = 0; ky < K; ky++) {
      for (let kx = 0; kx < K; kx++) {
        const ty = iy + P - ky;
        const tx = ix + P - kx;
        if (ty >= 0 && tx >= 0) {
          const oy = idiv(ty, S);
          const ox = idiv(tx, S);
          if (oy * S === ty && ox * S === tx && oy < Ho && ox < Wo) {
            sum += gy[((b * O + o) * Ho + oy) * Wo + ox]! * w[((o * C + ch) * K + ky) * K + kx]!;
          }
        }
      }
    }
  }
  return sum;
}
/** dL/dw in gather form: each weight sums over every batch item and output position. */
export function conv2dGradWK(this: KernelThis, x: Arr, gy: Arr, C: number, H: number, W: number, O: number, K: number, S: number, P: number, Ho: number, Wo: number, B: number): number {
  const i = this.thread.x;
  const kx = imod(i, K);
  let r = idiv(i, K);
  const ky = imod(r, K);
  r = idiv(r, K);
  const ch = imod(r, C);
  const o = idiv(r, C);
  let sum = 0;
  for (let b = 0; b < B; b++) {
    for (let oy = 0; oy < Ho; oy++) {
      const iy = oy * S - P + ky;
      if (iy >= 0 && iy < H) {
        for (let ox = 0; ox < Wo; ox++) {
          const ix = ox * S - P + kx;
          if (ix >= 0 && ix < W) {
            sum += gy[((b * O + o) * Ho + oy) * Wo + ox]! * x[((b * C + ch) * H + iy) * W + ix]!;
          }
        }
      }
    }
  }
  return sum;
}

// ---- linear: x [R, I], w [O, I]: arguments R, I, O ----
export function linearK(this: KernelThis, x: Arr, w: Arr, I: number, O: number): number {
  const i = this.thread.x;
  const o = imod(i, O);
  const r = idiv(i, O);
  let sum = 0;
  for (let k = 0; k < I; k++) {
    sum += x[r * I + k]! * w[o * I + k]!;
  }
  return sum;
}
export function linearGradXK(this: KernelThis, gy: Arr, w: Arr, I: number, O: number): number {
  const i = this.thread.x;
  const k = imod(i, I);
  const r = idiv(i, I);
  let sum = 0;
  for (let o = 0; o < O; o++) {
    sum += gy[r * O + o]! * w[o * I + k]!;
  }
  return sum;
}
export function linearGradWK(this: KernelThis, x: Arr, gy: Arr, R: number, I: number, O: number): number {
  const i = this.thread.x;
  const k = imod(i, I);
  const o = idiv(i, I);
  let sum = 0;
  for (let r = 0; r < R; r++) {
    sum += gy[r * O + o]! * x[r * I + k]!;
  }
  return sum;
}

// ---- batch norm over x viewed as [B, C, S]: arguments B, C, S (n = B S) ----
/**
 * Per-channel mean as a float32 pair hi + lo (output [2C]: hi for cells < C, lo for the rest). A float32
 * mean is off by up to ulp(mean)/2, which is a large relative error of x - mean when the variance is
 * small (|x - mean| ~ sqrt(eps)), and batch norm's backward amplifies it; (x - hi) is exact (Sterbenz)
 * and (x - hi) - lo is then accurate to float32 rounding. The lo cells recompute hi in the same order.
 */
export function bnMeanK(this: KernelThis, x: Arr, B: number, C: number, S: number): number {
  let ch = this.thread.x;
  let wantLo = 0;
  if (ch >= C) {
    ch = ch - C;
    wantLo = 1;
  }
  let s = 0;
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < S; q++) {
      s += x[(b * C + ch) * S + q]!;
    }
  }
  const hi = s / (B * S);
  if (wantLo < 1) {
    return hi;
  }
  let r = 0;
  for (let b2 = 0; b2 < B; b2++) {
    for (let q2 = 0; q2 < S; q2++) {
      r += x[(b2 * C + ch) * S + q2]! - hi;
    }
  }
  return r / (B * S);
}
/** A running mean as a pair (hi = running mean, lo = 0): output [2C]. */
export function meanPairK(this: KernelThis, m: Arr, C: number): number {
  if (this.thread.x < C) {
    return m[this.thread.x]!;
  }
  return 0;
}
/** Per-channel biased variance around the mean pair: output [C]. */
export function bnVarK(this: KernelThis, x: Arr, mean: Arr, B: number, C: number, S: number): number {
  const ch = this.thread.x;
  const hi = mean[ch]!;
  const lo = mean[C + ch]!;
  let s = 0;
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < S; q++) {
      const d = x[(b * C + ch) * S + q]! - hi - lo;
      s += d * d;
    }
  }
  return s / (B * S);
}
/** 1 / sqrt(var + eps) with core's Newton step (bnInvStd), which brings it to float32 rounding on every mode. */
export function invStdK(this: KernelThis, v: Arr, eps: number): number {
  return bnInvStd(v[this.thread.x]!, eps);
}
/** (1 - momentum) running + momentum * batch * factor: arguments momentum, factor (n/(n-1) for the variance). */
export function runningK(this: KernelThis, running: Arr, batch: Arr, momentum: number, factor: number): number {
  const i = this.thread.x;
  return runningStat(running[i]!, batch[i]!, momentum, factor);
}
/** y = gamma (x - mean) invStd + beta (core's bnAffine; mean: the [2C] pair of bnMeanK, subtracted part by part). */
export function bnApplyK(this: KernelThis, x: Arr, gamma: Arr, beta: Arr, mean: Arr, invStd: Arr, C: number, S: number): number {
  const i = this.thread.x;
  const ch = imod(idiv(i, S), C);
  return bnAffine(x[i]! - mean[ch]! - mean[C + ch]!, invStd[ch]!, gamma[ch]!, beta[ch]!);
}
/** Per-channel sum of gy (which = 0: dL/dbeta) or of gy * xhat (which = 1: dL/dgamma): output [C]. */
export function bnGradSumK(this: KernelThis, x: Arr, gy: Arr, mean: Arr, invStd: Arr, B: number, C: number, S: number): number {
  const ch = this.thread.x;
  const hi = mean[ch]!;
  const lo = mean[C + ch]!;
  const is = invStd[ch]!;
  let s = 0;
  for (let b = 0; b < B; b++) {
    for (let q = 0; q < S; q++) {
      const j = (b * C + ch) * S + q;
      if (this.constants.which! > 0) {
        s += gy[j]! * (x[j]! - hi - lo) * is;
      } else {
        s += gy[j]!;
      }
    }
  }
  return s;
}
/** dL/dx = gamma invStd (n gy - sum gy - xhat sum gy xhat) / n. */
export function bnGradXK(this: KernelThis, x: Arr, gy: Arr, gamma: Arr, mean: Arr, invStd: Arr, gBeta: Arr, gGamma: Arr, B: number, C: number, S: number): number {
  const i = this.thread.x;
  const ch = imod(idiv(i, S), C);
  const n = B * S;
  const is = invStd[ch]!;
  return bnInputGrad((gamma[ch]! * is) / n, n, gy[i]!, x[i]! - mean[ch]! - mean[C + ch]!, is, gBeta[ch]!, gGamma[ch]!);
}

// ---- pooling over [BC, H, W], no padding: arguments H, W, Ho, Wo, K, S ----
/** Max (which = 0) or the offset ky*K + kx of the first maximum (which = 1). */
export function maxPoolK(this: KernelThis, x: Arr, H: number, W: number, Ho: number, Wo: number, K: number, S: number): number {
  const i = this.thread.x;
  const ox = imod(i, Wo);
  const r = idiv(i, Wo);
  const oy = imod(r, Ho);
  const bc = idiv(r, Ho);
  const base = (bc * H + oy * S) * W + ox * S;
  let best = x[base]!;
  let arg = 0;
  for (let ky = 0; ky < K; ky++) {
    for (let kx = 0; kx < K; kx++) {
      const v = x[base + ky * W + kx]!;
      if (v > best) {
        best = v;
        arg = ky * K + kx;
      }
    }
  }
  if (this.constants.which! > 0) {
    return arg;
  }
  return best;
}
/**
 * Max pooling with tie draws (one integer d < 2^24 per output): the (d mod c)-th of the window's c maxima
 * in row-major order wins. Max (which = 0) or the winner's offset ky*K + kx (which = 1).
 */
export function maxPoolTiesK(this: KernelThis, x: Arr, draws: Arr, H: number, W: number, Ho: number, Wo: number, K: number, S: number): number {
  const i = this.thread.x;
  const ox = imod(i, Wo);
  const r = idiv(i, Wo);
  const oy = imod(r, Ho);
  const bc = idiv(r, Ho);
  const base = (bc * H + oy * S) * W + ox * S;
  let best = x[base]!;
  let count = 0;
  for (let ky = 0; ky < K; ky++) {
    for (let kx = 0; kx < K; kx++) {
      const v = x[base + ky * W + kx]!;
      if (v > best) {
        best = v;
        count = 1;
      } else if (v === best) {
        count = count + 1;
      }
    }
  }
  // second pass (loop names differ: gpu.js declares every loop variable in one GLSL scope)
  let pick = imod(draws[i]!, Math.max(count, 1));
  let arg = 0;
  let found = 0;
  for (let jy = 0; jy < K; jy++) {
    for (let jx = 0; jx < K; jx++) {
      if (found < 0.5 && x[base + jy * W + jx]! === best) {
        if (pick < 0.5) {
          arg = jy * K + jx;
          found = 1;
        } else {
          pick = pick - 1;
        }
      }
    }
  }
  if (this.constants.which! > 0) {
    return arg;
  }
  return best;
}
/** Max pooling's dL/dx, gathered: the windows covering a cell whose saved winner is that cell. */
export function maxPoolGradK(this: KernelThis, gy: Arr, argmax: Arr, H: number, W: number, Ho: number, Wo: number, K: number, S: number): number {
  const i = this.thread.x;
  const ix = imod(i, W);
  const r = idiv(i, W);
  const iy = imod(r, H);
  const bc = idiv(r, H);
  let sum = 0;
  for (let ky = 0; ky < K; ky++) {
    for (let kx = 0; kx < K; kx++) {
      const ty = iy - ky;
      const tx = ix - kx;
      if (ty >= 0 && tx >= 0) {
        const oy = idiv(ty, S);
        const ox = idiv(tx, S);
        if (oy * S === ty && ox * S === tx && oy < Ho && ox < Wo) {
          const o = (bc * Ho + oy) * Wo + ox;
          if (Math.abs(argmax[o]! - (ky * K + kx)) < 0.5) {
            sum += gy[o]!;
          }
        }
      }
    }
  }
  return sum;
}
export function avgPoolK(this: KernelThis, x: Arr, H: number, W: number, Ho: number, Wo: number, K: number, S: number): number {
  const i = this.thread.x;
  const ox = imod(i, Wo);
  const r = idiv(i, Wo);
  const oy = imod(r, Ho);
  const bc = idiv(r, Ho);
  const base = (bc * H + oy * S) * W + ox * S;
  let s = 0;
  for (let ky = 0; ky < K; ky++) {
    for (let kx = 0; kx < K; kx++) {
      s += x[base + ky * W + kx]!;
    }
  }
  return s / (K * K);
}
export function avgPoolGradK(this: KernelThis, gy: Arr, H: number, W: number, Ho: number, Wo: number, K: number, S: number): number {
  const i = this.thread.x;
  const ix = imod(i, W);
  const r = idiv(i, W);
  const iy = imod(r, H);
  const bc = idiv(r, H);
  let sum = 0;
  for (let ky = 0; ky < K; ky++) {
    for (let kx = 0; kx < K; kx++) {
      const ty = iy - ky;
      const tx = ix - kx;
      if (ty >= 0 && tx >= 0) {
        const oy = idiv(ty, S);
        const ox = idiv(tx, S);
        if (oy * S === ty && ox * S === tx && oy < Ho && ox < Wo) {
          sum += gy[(bc * Ho + oy) * Wo + ox]!;
        }
      }
    }
  }
  return sum / (K * K);
}

// ---- voting: x [R, C*M] -> [R, C]: arguments M ----
export function voteK(this: KernelThis, x: Arr, M: number): number {
  const i = this.thread.x;
  let s = 0;
  for (let m = 0; m < M; m++) {
    s += x[i * M + m]!;
  }
  return s / M;
}
export function voteGradK(this: KernelThis, gy: Arr, M: number): number {
  return gy[idiv(this.thread.x, M)]! / M;
}

// ---- MSE loss on out [T, N, C] against one-hot labels [N]: arguments T, N, C; constant rate (1: 'rate', 0: 'per-step') ----
/** dL/dout. */
export function mseGradK(this: KernelThis, out: Arr, labels: Arr, T: number, N: number, C: number): number {
  const i = this.thread.x;
  const cls = imod(i, C);
  const nc = imod(i, N * C);
  const n = idiv(nc, C);
  let y = 0;
  if (Math.abs(labels[n]! - cls) < 0.5) {
    y = 1;
  }
  if (this.constants.rate! > 0) {
    let r = 0;
    for (let t = 0; t < T; t++) {
      r += out[t * N * C + nc]!;
    }
    r = r / T;
    return mseGrad(r - y, N * C * T);
  }
  return mseGrad(out[i]! - y, T * N * C);
}

// ---- Adam (torch.optim.Adam, no weight decay) ----
export function adamMK(this: KernelThis, m: Arr, g: Arr, beta1: number): number {
  const i = this.thread.x;
  return adamFirstMoment(m[i]!, g[i]!, beta1);
}
export function adamVK(this: KernelThis, v: Arr, g: Arr, beta2: number): number {
  const i = this.thread.x;
  return adamSecondMoment(v[i]!, g[i]!, beta2);
}
/** p - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps); the step-dependent scalars are arguments (no recompilation). */
export function adamPK(this: KernelThis, p: Arr, m: Arr, v: Arr, lrOverBc1: number, sqrtBc2: number, eps: number): number {
  const i = this.thread.x;
  return adamParam(p[i]!, m[i]!, v[i]!, lrOverBc1, sqrtBc2, eps);
}

// ---- multi-step neuron over x [T, n] (core/neuron.ts semantics), the loop over T inside the kernel ----
// Arguments: T, n, the numeric codes of core/neuron.ts neuronCodes(), plif, kFixed; constant: which.
// k = sigmoid(a[0]) for PLIF (a stays on the device), kFixed otherwise. One step each way is core's
// neuronStep / neuronGradStep (core/scalar.ts), the functions core/neuron.ts loops on the CPU.
/** which = 0: S, 1: H, 2: V at the cell's step t (V_{t-1} replayed from t = 0; T is small). */
export function neuronK(this: KernelThis, x: Arr, a: Arr, T: number, n: number, kind: number, decayInput: number, hard: number, vr: number, vth: number, detach: number, sgCode: number, alpha: number, plif: number, kFixed: number): number {
  const j = this.thread.x;
  const t = idiv(j, n);
  const i = j - t * n;
  let k = kFixed;
  if (plif > 0) {
    k = sigmoid(a[0]!);
  }
  let v = restPotential(vr);
  for (let tt = 0; tt < T; tt++) {
    if (tt < t) {
      v = neuronStep(2, kind, decayInput, hard, v, x[tt * n + i]!, k, vr, vth); // V_tt, Eqs. 2-6
    }
  }
  // a literal quantity in each branch: gpu.js types a function's arguments from its call sites
  if (this.constants.which! === 0) {
    return neuronStep(0, kind, decayInput, hard, v, x[j]!, k, vr, vth);
  }
  if (this.constants.which! === 1) {
    return neuronStep(1, kind, decayInput, hard, v, x[j]!, k, vr, vth);
  }
  return neuronStep(2, kind, decayInput, hard, v, x[j]!, k, vr, vth);
}
/**
 * Hand-derived BPTT (Eqs. 8-17) from t = T-1 down to the cell's step. which = 0: dL/dX_t (Eq. 17 before
 * the weights); which = 1: the cell's term dL/dH_t dH_t/dk of dL/dk (Eqs. 15-16), summed by reduceSumK.
 */
export function neuronGradK(this: KernelThis, x: Arr, s: Arr, h: Arr, v: Arr, gs: Arr, a: Arr, T: number, n: number, kind: number, decayInput: number, hard: number, vr: number, vth: number, detach: number, sgCode: number, alpha: number, plif: number, kFixed: number): number {
  const j = this.thread.x;
  const t = idiv(j, n);
  const i = j - t * n;
  let k = kFixed;
  if (plif > 0) {
    k = sigmoid(a[0]!);
  }
  const dHdV = chargeGradV(kind, k);
  let gH = 0;
  for (let q = 0; q < T; q++) {
    const tt = T - 1 - q;
    if (tt >= t) {
      const jj = tt * n + i;
      gH = neuronGradStep(gH, gs[jj]!, 0, h[jj]!, s[jj]!, dHdV, hard, detach, vr, vth, sgCode, alpha); // dL/dH_tt, Eqs. 8-13
    }
  }
  if (this.constants.which! === 0) {
    return gH * chargeGradX(kind, decayInput, k);
  }
  let vPrev = restPotential(vr);
  if (t > 0) {
    vPrev = v[j - n]!;
  }
  return gH * chargeGradK(kind, decayInput, vPrev, x[j]!, vr);
}
/** dL/da = dL/dk k (1 - k), k = sigmoid(a): output [1]. */
export function plifGradAK(this: KernelThis, gk: Arr, a: Arr): number {
  const k = sigmoid(a[0]!);
  return gk[0]! * sigmoidGradOfOutput(k);
}
