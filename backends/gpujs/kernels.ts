// gpu.js kernel sources. Every tensor is a flat 1-D array (a texture of closest-square size on GL, a
// Float32Array on cpu/webasm) and every kernel writes a flat 1-D output, so no texture dimension can pass
// 16384 (gpu.js packs [n] into about sqrt(n) x sqrt(n)). Each output cell gathers what feeds it: no
// scatter. Every loop is bounded by a `this.constants` value (never an argument), so gpu.js never caps it
// at loopMaxIterations.
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
declare function charge(kind: number, decayInput: number, v: number, x: number, k: number, vr: number): number;
declare function chargeGradV(kind: number, k: number): number;
declare function chargeGradX(kind: number, decayInput: number, k: number): number;
declare function chargeGradK(kind: number, decayInput: number, v: number, x: number, vr: number): number;
declare function heaviside(x: number): number;
declare function reset(hard: number, h: number, s: number, vr: number, vth: number): number;
declare function resetGradH(hard: number, detach: number, h: number, s: number, vr: number, vth: number, sg: number): number;
declare function surrogateGrad(code: number, x: number, alpha: number): number;

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
export function addK(this: KernelThis, a: Arr, b: Arr): number {
  return a[this.thread.x]! + b[this.thread.x]!;
}
/** y[t, j] = x[j]: constants n (size of x). */
export function repeatTK(this: KernelThis, x: Arr): number {
  return x[imod(this.thread.x, this.constants.n!)]!;
}
/** y[j] = scale * sum_t x[t, j]: constants T, n, scale. */
export function sumTK(this: KernelThis, x: Arr): number {
  const j = this.thread.x;
  let s = 0;
  for (let t = 0; t < this.constants.T!; t++) {
    s += x[t * this.constants.n! + j]!;
  }
  return s * this.constants.scale!;
}
/** y[t, j] = x[t, j] * mask[j]: constants n (size of mask). */
export function dropoutK(this: KernelThis, x: Arr, mask: Arr): number {
  const i = this.thread.x;
  return x[i]! * mask[imod(i, this.constants.n!)]!;
}
/** Sum of `chunk` consecutive values per output cell (a reduction stage): constants n, chunk. */
export function reduceSumK(this: KernelThis, x: Arr): number {
  const base = this.thread.x * this.constants.chunk!;
  let s = 0;
  for (let q = 0; q < this.constants.chunk!; q++) {
    if (base + q < this.constants.n!) {
      s += x[base + q]!;
    }
  }
  return s;
}

// ---- conv2d over [B, C, H, W] with w [O, C, K, K]: constants C, H, W, O, K, S, P, Ho, Wo (and B for gw) ----
export function conv2dK(this: KernelThis, x: Arr, w: Arr): number {
  const i = this.thread.x;
  const ox = imod(i, this.constants.Wo!);
  let r = idiv(i, this.constants.Wo!);
  const oy = imod(r, this.constants.Ho!);
  r = idiv(r, this.constants.Ho!);
  const o = imod(r, this.constants.O!);
  const b = idiv(r, this.constants.O!);
  let sum = 0;
  for (let ch = 0; ch < this.constants.C!; ch++) {
    for (let ky = 0; ky < this.constants.K!; ky++) {
      for (let kx = 0; kx < this.constants.K!; kx++) {
        const iy = oy * this.constants.S! - this.constants.P! + ky;
        const ix = ox * this.constants.S! - this.constants.P! + kx;
        if (iy >= 0 && iy < this.constants.H! && ix >= 0 && ix < this.constants.W!) {
          sum += x[((b * this.constants.C! + ch) * this.constants.H! + iy) * this.constants.W! + ix]! * w[((o * this.constants.C! + ch) * this.constants.K! + ky) * this.constants.K! + kx]!;
        }
      }
    }
  }
  return sum;
}
/** dL/dx in gather form: each input cell sums over the output cells whose window covers it. */
export function conv2dGradXK(this: KernelThis, gy: Arr, w: Arr): number {
  const i = this.thread.x;
  const ix = imod(i, this.constants.W!);
  let r = idiv(i, this.constants.W!);
  const iy = imod(r, this.constants.H!);
  r = idiv(r, this.constants.H!);
  const ch = imod(r, this.constants.C!);
  const b = idiv(r, this.constants.C!);
  let sum = 0;
  for (let o = 0; o < this.constants.O!; o++) {
    for (let ky = 0; ky < this.constants.K!; ky++) {
      for (let kx = 0; kx < this.constants.K!; kx++) {
        const ty = iy + this.constants.P! - ky;
        const tx = ix + this.constants.P! - kx;
        if (ty >= 0 && tx >= 0) {
          const oy = idiv(ty, this.constants.S!);
          const ox = idiv(tx, this.constants.S!);
          if (oy * this.constants.S! === ty && ox * this.constants.S! === tx && oy < this.constants.Ho! && ox < this.constants.Wo!) {
            sum += gy[((b * this.constants.O! + o) * this.constants.Ho! + oy) * this.constants.Wo! + ox]! * w[((o * this.constants.C! + ch) * this.constants.K! + ky) * this.constants.K! + kx]!;
          }
        }
      }
    }
  }
  return sum;
}
/** dL/dw in gather form: each weight sums over every batch item and output position. */
export function conv2dGradWK(this: KernelThis, x: Arr, gy: Arr): number {
  const i = this.thread.x;
  const kx = imod(i, this.constants.K!);
  let r = idiv(i, this.constants.K!);
  const ky = imod(r, this.constants.K!);
  r = idiv(r, this.constants.K!);
  const ch = imod(r, this.constants.C!);
  const o = idiv(r, this.constants.C!);
  let sum = 0;
  for (let b = 0; b < this.constants.B!; b++) {
    for (let oy = 0; oy < this.constants.Ho!; oy++) {
      const iy = oy * this.constants.S! - this.constants.P! + ky;
      if (iy >= 0 && iy < this.constants.H!) {
        for (let ox = 0; ox < this.constants.Wo!; ox++) {
          const ix = ox * this.constants.S! - this.constants.P! + kx;
          if (ix >= 0 && ix < this.constants.W!) {
            sum += gy[((b * this.constants.O! + o) * this.constants.Ho! + oy) * this.constants.Wo! + ox]! * x[((b * this.constants.C! + ch) * this.constants.H! + iy) * this.constants.W! + ix]!;
          }
        }
      }
    }
  }
  return sum;
}

// ---- linear: x [R, I], w [O, I]: constants R, I, O ----
export function linearK(this: KernelThis, x: Arr, w: Arr): number {
  const i = this.thread.x;
  const o = imod(i, this.constants.O!);
  const r = idiv(i, this.constants.O!);
  let sum = 0;
  for (let k = 0; k < this.constants.I!; k++) {
    sum += x[r * this.constants.I! + k]! * w[o * this.constants.I! + k]!;
  }
  return sum;
}
export function linearGradXK(this: KernelThis, gy: Arr, w: Arr): number {
  const i = this.thread.x;
  const k = imod(i, this.constants.I!);
  const r = idiv(i, this.constants.I!);
  let sum = 0;
  for (let o = 0; o < this.constants.O!; o++) {
    sum += gy[r * this.constants.O! + o]! * w[o * this.constants.I! + k]!;
  }
  return sum;
}
export function linearGradWK(this: KernelThis, x: Arr, gy: Arr): number {
  const i = this.thread.x;
  const k = imod(i, this.constants.I!);
  const o = idiv(i, this.constants.I!);
  let sum = 0;
  for (let r = 0; r < this.constants.R!; r++) {
    sum += gy[r * this.constants.O! + o]! * x[r * this.constants.I! + k]!;
  }
  return sum;
}

// ---- batch norm over x viewed as [B, C, S]: constants B, C, S (n = B S) ----
/** Per-channel mean: output [C]. */
export function bnMeanK(this: KernelThis, x: Arr): number {
  const ch = this.thread.x;
  let s = 0;
  for (let b = 0; b < this.constants.B!; b++) {
    for (let q = 0; q < this.constants.S!; q++) {
      s += x[(b * this.constants.C! + ch) * this.constants.S! + q]!;
    }
  }
  return s / (this.constants.B! * this.constants.S!);
}
/** Per-channel biased variance around `mean`: output [C]. */
export function bnVarK(this: KernelThis, x: Arr, mean: Arr): number {
  const ch = this.thread.x;
  const m = mean[ch]!;
  let s = 0;
  for (let b = 0; b < this.constants.B!; b++) {
    for (let q = 0; q < this.constants.S!; q++) {
      const d = x[(b * this.constants.C! + ch) * this.constants.S! + q]! - m;
      s += d * d;
    }
  }
  return s / (this.constants.B! * this.constants.S!);
}
/** 1 / sqrt(var + eps): constants eps. */
export function invStdK(this: KernelThis, v: Arr): number {
  return 1 / Math.sqrt(v[this.thread.x]! + this.constants.eps!);
}
/** (1 - momentum) running + momentum * batch * factor: constants momentum, factor (n/(n-1) for the variance). */
export function runningK(this: KernelThis, running: Arr, batch: Arr): number {
  const i = this.thread.x;
  return (1 - this.constants.momentum!) * running[i]! + this.constants.momentum! * batch[i]! * this.constants.factor!;
}
/** y = gamma (x - mean) invStd + beta. */
export function bnApplyK(this: KernelThis, x: Arr, gamma: Arr, beta: Arr, mean: Arr, invStd: Arr): number {
  const i = this.thread.x;
  const ch = imod(idiv(i, this.constants.S!), this.constants.C!);
  return gamma[ch]! * (x[i]! - mean[ch]!) * invStd[ch]! + beta[ch]!;
}
/** Per-channel sum of gy (which = 0: dL/dbeta) or of gy * xhat (which = 1: dL/dgamma): output [C]. */
export function bnGradSumK(this: KernelThis, x: Arr, gy: Arr, mean: Arr, invStd: Arr): number {
  const ch = this.thread.x;
  const m = mean[ch]!;
  const is = invStd[ch]!;
  let s = 0;
  for (let b = 0; b < this.constants.B!; b++) {
    for (let q = 0; q < this.constants.S!; q++) {
      const j = (b * this.constants.C! + ch) * this.constants.S! + q;
      if (this.constants.which! > 0) {
        s += gy[j]! * (x[j]! - m) * is;
      } else {
        s += gy[j]!;
      }
    }
  }
  return s;
}
/** dL/dx = gamma invStd (n gy - sum gy - xhat sum gy xhat) / n. */
export function bnGradXK(this: KernelThis, x: Arr, gy: Arr, gamma: Arr, mean: Arr, invStd: Arr, gBeta: Arr, gGamma: Arr): number {
  const i = this.thread.x;
  const ch = imod(idiv(i, this.constants.S!), this.constants.C!);
  const n = this.constants.B! * this.constants.S!;
  const is = invStd[ch]!;
  const xhat = (x[i]! - mean[ch]!) * is;
  return (gamma[ch]! * is * (n * gy[i]! - gBeta[ch]! - xhat * gGamma[ch]!)) / n;
}

// ---- pooling over [BC, H, W], no padding: constants H, W, Ho, Wo, K, S ----
/** Max (which = 0) or the offset ky*K + kx of the first maximum (which = 1). */
export function maxPoolK(this: KernelThis, x: Arr): number {
  const i = this.thread.x;
  const ox = imod(i, this.constants.Wo!);
  const r = idiv(i, this.constants.Wo!);
  const oy = imod(r, this.constants.Ho!);
  const bc = idiv(r, this.constants.Ho!);
  const base = (bc * this.constants.H! + oy * this.constants.S!) * this.constants.W! + ox * this.constants.S!;
  let best = x[base]!;
  let arg = 0;
  for (let ky = 0; ky < this.constants.K!; ky++) {
    for (let kx = 0; kx < this.constants.K!; kx++) {
      const v = x[base + ky * this.constants.W! + kx]!;
      if (v > best) {
        best = v;
        arg = ky * this.constants.K! + kx;
      }
    }
  }
  if (this.constants.which! > 0) {
    return arg;
  }
  return best;
}
/** Max pooling's dL/dx, gathered: the windows covering a cell whose saved winner is that cell. */
export function maxPoolGradK(this: KernelThis, gy: Arr, argmax: Arr): number {
  const i = this.thread.x;
  const ix = imod(i, this.constants.W!);
  const r = idiv(i, this.constants.W!);
  const iy = imod(r, this.constants.H!);
  const bc = idiv(r, this.constants.H!);
  let sum = 0;
  for (let ky = 0; ky < this.constants.K!; ky++) {
    for (let kx = 0; kx < this.constants.K!; kx++) {
      const ty = iy - ky;
      const tx = ix - kx;
      if (ty >= 0 && tx >= 0) {
        const oy = idiv(ty, this.constants.S!);
        const ox = idiv(tx, this.constants.S!);
        if (oy * this.constants.S! === ty && ox * this.constants.S! === tx && oy < this.constants.Ho! && ox < this.constants.Wo!) {
          const o = (bc * this.constants.Ho! + oy) * this.constants.Wo! + ox;
          if (Math.abs(argmax[o]! - (ky * this.constants.K! + kx)) < 0.5) {
            sum += gy[o]!;
          }
        }
      }
    }
  }
  return sum;
}
export function avgPoolK(this: KernelThis, x: Arr): number {
  const i = this.thread.x;
  const ox = imod(i, this.constants.Wo!);
  const r = idiv(i, this.constants.Wo!);
  const oy = imod(r, this.constants.Ho!);
  const bc = idiv(r, this.constants.Ho!);
  const base = (bc * this.constants.H! + oy * this.constants.S!) * this.constants.W! + ox * this.constants.S!;
  let s = 0;
  for (let ky = 0; ky < this.constants.K!; ky++) {
    for (let kx = 0; kx < this.constants.K!; kx++) {
      s += x[base + ky * this.constants.W! + kx]!;
    }
  }
  return s / (this.constants.K! * this.constants.K!);
}
export function avgPoolGradK(this: KernelThis, gy: Arr): number {
  const i = this.thread.x;
  const ix = imod(i, this.constants.W!);
  const r = idiv(i, this.constants.W!);
  const iy = imod(r, this.constants.H!);
  const bc = idiv(r, this.constants.H!);
  let sum = 0;
  for (let ky = 0; ky < this.constants.K!; ky++) {
    for (let kx = 0; kx < this.constants.K!; kx++) {
      const ty = iy - ky;
      const tx = ix - kx;
      if (ty >= 0 && tx >= 0) {
        const oy = idiv(ty, this.constants.S!);
        const ox = idiv(tx, this.constants.S!);
        if (oy * this.constants.S! === ty && ox * this.constants.S! === tx && oy < this.constants.Ho! && ox < this.constants.Wo!) {
          sum += gy[(bc * this.constants.Ho! + oy) * this.constants.Wo! + ox]!;
        }
      }
    }
  }
  return sum / (this.constants.K! * this.constants.K!);
}

// ---- voting: x [R, C*M] -> [R, C]: constants M ----
export function voteK(this: KernelThis, x: Arr): number {
  const i = this.thread.x;
  let s = 0;
  for (let m = 0; m < this.constants.M!; m++) {
    s += x[i * this.constants.M! + m]!;
  }
  return s / this.constants.M!;
}
export function voteGradK(this: KernelThis, gy: Arr): number {
  return gy[idiv(this.thread.x, this.constants.M!)]! / this.constants.M!;
}

// ---- MSE loss on out [T, N, C] against one-hot labels [N]: constants T, N, C, rate (1: 'rate', 0: 'per-step') ----
/** dL/dout. */
export function mseGradK(this: KernelThis, out: Arr, labels: Arr): number {
  const i = this.thread.x;
  const cls = imod(i, this.constants.C!);
  const nc = imod(i, this.constants.N! * this.constants.C!);
  const n = idiv(nc, this.constants.C!);
  let y = 0;
  if (Math.abs(labels[n]! - cls) < 0.5) {
    y = 1;
  }
  if (this.constants.rate! > 0) {
    let r = 0;
    for (let t = 0; t < this.constants.T!; t++) {
      r += out[t * this.constants.N! * this.constants.C! + nc]!;
    }
    r = r / this.constants.T!;
    return (2 * (r - y)) / (this.constants.N! * this.constants.C! * this.constants.T!);
  }
  return (2 * (out[i]! - y)) / (this.constants.T! * this.constants.N! * this.constants.C!);
}
/** Loss terms whose sum is the loss: [N*C] for 'rate', [T*N*C] for 'per-step'. */
export function mseTermK(this: KernelThis, out: Arr, labels: Arr): number {
  const i = this.thread.x;
  const cls = imod(i, this.constants.C!);
  const nc = imod(i, this.constants.N! * this.constants.C!);
  const n = idiv(nc, this.constants.C!);
  let y = 0;
  if (Math.abs(labels[n]! - cls) < 0.5) {
    y = 1;
  }
  if (this.constants.rate! > 0) {
    let r = 0;
    for (let t = 0; t < this.constants.T!; t++) {
      r += out[t * this.constants.N! * this.constants.C! + nc]!;
    }
    r = r / this.constants.T!;
    return ((r - y) * (r - y)) / (this.constants.N! * this.constants.C!);
  }
  const d = out[i]! - y;
  return (d * d) / (this.constants.T! * this.constants.N! * this.constants.C!);
}

// ---- Adam (torch.optim.Adam, no weight decay): constants beta1, beta2, eps ----
export function adamMK(this: KernelThis, m: Arr, g: Arr): number {
  const i = this.thread.x;
  return this.constants.beta1! * m[i]! + (1 - this.constants.beta1!) * g[i]!;
}
export function adamVK(this: KernelThis, v: Arr, g: Arr): number {
  const i = this.thread.x;
  return this.constants.beta2! * v[i]! + (1 - this.constants.beta2!) * g[i]! * g[i]!;
}
/** p - (lr / bc1) m / (sqrt(v) / sqrt(bc2) + eps); the step-dependent scalars are arguments (no recompilation). */
export function adamPK(this: KernelThis, p: Arr, m: Arr, v: Arr, lrOverBc1: number, sqrtBc2: number): number {
  const i = this.thread.x;
  return p[i]! - (lrOverBc1 * m[i]!) / (Math.sqrt(v[i]!) / sqrtBc2 + this.constants.eps!);
}

// ---- multi-step neuron over x [T, n] (core/neuron.ts semantics), the loop over T inside the kernel ----
// constants: T, n, kind, decayInput, hard, vr, vth, detach, sgCode, alpha, plif, kFixed, which.
// k = sigmoid(a[0]) for PLIF (a stays on the device), kFixed otherwise.
/** which = 0: S, 1: H, 2: V at the cell's step (the recurrence rerun from t = 0; T is small). */
export function neuronK(this: KernelThis, x: Arr, a: Arr): number {
  const j = this.thread.x;
  const t = idiv(j, this.constants.n!);
  const i = j - t * this.constants.n!;
  let k = this.constants.kFixed!;
  if (this.constants.plif! > 0) {
    k = sigmoid(a[0]!);
  }
  let v = this.constants.vr!;
  let out = 0;
  for (let tt = 0; tt < this.constants.T!; tt++) {
    if (tt <= t) {
      const h = charge(this.constants.kind!, this.constants.decayInput!, v, x[tt * this.constants.n! + i]!, k, this.constants.vr!);
      const s = heaviside(h - this.constants.vth!);
      v = reset(this.constants.hard!, h, s, this.constants.vr!, this.constants.vth!);
      if (tt === t) {
        if (this.constants.which! === 0) {
          out = s;
        } else if (this.constants.which! === 1) {
          out = h;
        } else {
          out = v;
        }
      }
    }
  }
  return out;
}
/**
 * Hand-derived BPTT (Eqs. 8-17) from t = T-1 down to the cell's step. which = 0: dL/dX_t (Eq. 17 before
 * the weights); which = 1: the cell's term dL/dH_t dH_t/dk of dL/dk (Eqs. 15-16), summed by reduceSumK.
 */
export function neuronGradK(this: KernelThis, x: Arr, s: Arr, h: Arr, v: Arr, gs: Arr, a: Arr): number {
  const j = this.thread.x;
  const t = idiv(j, this.constants.n!);
  const i = j - t * this.constants.n!;
  let k = this.constants.kFixed!;
  if (this.constants.plif! > 0) {
    k = sigmoid(a[0]!);
  }
  const dHdV = chargeGradV(this.constants.kind!, k);
  let gH = 0;
  for (let q = 0; q < this.constants.T!; q++) {
    const tt = this.constants.T! - 1 - q;
    if (tt >= t) {
      const jj = tt * this.constants.n! + i;
      const gV = gH * dHdV;
      const hh = h[jj]!;
      const sg = surrogateGrad(this.constants.sgCode!, hh - this.constants.vth!, this.constants.alpha!);
      gH = gs[jj]! * sg + gV * resetGradH(this.constants.hard!, this.constants.detach!, hh, s[jj]!, this.constants.vr!, this.constants.vth!, sg);
    }
  }
  if (this.constants.which! === 0) {
    return gH * chargeGradX(this.constants.kind!, this.constants.decayInput!, k);
  }
  let vPrev = this.constants.vr!;
  if (t > 0) {
    vPrev = v[j - this.constants.n!]!;
  }
  return gH * chargeGradK(this.constants.kind!, this.constants.decayInput!, vPrev, x[j]!, this.constants.vr!);
}
/** dL/da = dL/dk k (1 - k), k = sigmoid(a): output [1]. */
export function plifGradAK(this: KernelThis, gk: Arr, a: Arr): number {
  const k = sigmoid(a[0]!);
  return gk[0]! * k * (1 - k);
}
