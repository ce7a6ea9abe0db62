// Float64 reference of every layer op, forward and backward: plain loops, written to be read.
// Shapes are passed explicitly; arrays are flat row-major. These are the oracle for the CPU and gpu.js
// backends (proofs/conformance.ts) and are themselves checked against finite differences (proofs/ops.test.ts).
import { outSize } from '../core/backend.js';

export type F64 = Float64Array;

/** Conv2d without bias. x [B, C, H, W], w [O, C, K, K] -> [B, O, Ho, Wo]. */
export function conv2d(x: F64, xs: readonly number[], w: F64, O: number, K: number, stride: number, pad: number): F64 {
  const [B, C, H, W] = xs as [number, number, number, number];
  const Ho = outSize(H, K, stride, pad);
  const Wo = outSize(W, K, stride, pad);
  const y = new Float64Array(B * O * Ho * Wo);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          let sum = 0;
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < K; ky++)
              for (let kx = 0; kx < K; kx++) {
                const iy = oy * stride - pad + ky;
                const ix = ox * stride - pad + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                sum += x[((b * C + c) * H + iy) * W + ix]! * w[((o * C + c) * K + ky) * K + kx]!;
              }
          y[((b * O + o) * Ho + oy) * Wo + ox] = sum;
        }
  return y;
}

export function conv2dBackward(x: F64, xs: readonly number[], w: F64, O: number, K: number, stride: number, pad: number, gy: F64): { gx: F64; gw: F64 } {
  const [B, C, H, W] = xs as [number, number, number, number];
  const Ho = outSize(H, K, stride, pad);
  const Wo = outSize(W, K, stride, pad);
  const gx = new Float64Array(x.length);
  const gw = new Float64Array(w.length);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          const g = gy[((b * O + o) * Ho + oy) * Wo + ox]!;
          for (let c = 0; c < C; c++)
            for (let ky = 0; ky < K; ky++)
              for (let kx = 0; kx < K; kx++) {
                const iy = oy * stride - pad + ky;
                const ix = ox * stride - pad + kx;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const xi = ((b * C + c) * H + iy) * W + ix;
                const wi = ((o * C + c) * K + ky) * K + kx;
                gx[xi] += g * w[wi]!;
                gw[wi] += g * x[xi]!;
              }
        }
  return { gx, gw };
}

/** y = x W^T. x [B, I], w [O, I] -> [B, O]. */
export function linear(x: F64, B: number, I: number, w: F64, O: number): F64 {
  const y = new Float64Array(B * O);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < O; o++) {
      let s = 0;
      for (let i = 0; i < I; i++) s += x[b * I + i]! * w[o * I + i]!;
      y[b * O + o] = s;
    }
  return y;
}

export function linearBackward(x: F64, B: number, I: number, w: F64, O: number, gy: F64): { gx: F64; gw: F64 } {
  const gx = new Float64Array(B * I);
  const gw = new Float64Array(O * I);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < O; o++) {
      const g = gy[b * O + o]!;
      for (let i = 0; i < I; i++) {
        gx[b * I + i] += g * w[o * I + i]!;
        gw[o * I + i] += g * x[b * I + i]!;
      }
    }
  return { gx, gw };
}

/** Batch norm over x viewed as [B, C, S] (S = product of spatial dims). */
export function batchNormTrain(x: F64, B: number, C: number, S: number, gamma: F64, beta: F64, eps: number): { y: F64; mean: F64; variance: F64; invStd: F64 } {
  const n = B * S;
  const mean = new Float64Array(C);
  const variance = new Float64Array(C);
  const invStd = new Float64Array(C);
  const y = new Float64Array(x.length);
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let b = 0; b < B; b++) for (let i = 0; i < S; i++) s += x[(b * C + c) * S + i]!;
    const m = s / n;
    let q = 0;
    for (let b = 0; b < B; b++) for (let i = 0; i < S; i++) q += (x[(b * C + c) * S + i]! - m) ** 2;
    const v = q / n; // biased variance normalises (PyTorch)
    mean[c] = m;
    variance[c] = v;
    invStd[c] = 1 / Math.sqrt(v + eps);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < S; i++) {
        const j = (b * C + c) * S + i;
        y[j] = gamma[c]! * (x[j]! - m) * invStd[c]! + beta[c]!;
      }
  }
  return { y, mean, variance, invStd };
}

export function batchNormEval(x: F64, B: number, C: number, S: number, gamma: F64, beta: F64, runMean: F64, runVar: F64, eps: number): F64 {
  const y = new Float64Array(x.length);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let i = 0; i < S; i++) {
        const j = (b * C + c) * S + i;
        y[j] = (gamma[c]! * (x[j]! - runMean[c]!)) / Math.sqrt(runVar[c]! + eps) + beta[c]!;
      }
  return y;
}

/** PyTorch's running update: biased mean, unbiased variance n/(n-1). */
export function batchNormRunningUpdate(runMean: F64, runVar: F64, mean: F64, variance: F64, n: number, momentum: number): void {
  for (let c = 0; c < runMean.length; c++) {
    runMean[c] = (1 - momentum) * runMean[c]! + momentum * mean[c]!;
    runVar[c] = (1 - momentum) * runVar[c]! + momentum * variance[c]! * (n > 1 ? n / (n - 1) : 1);
  }
}

/** Backward of training-mode batch norm: xhat = (x - mean) invStd, y = gamma xhat + beta. */
export function batchNormBackward(x: F64, B: number, C: number, S: number, gamma: F64, mean: F64, invStd: F64, gy: F64): { gx: F64; gGamma: F64; gBeta: F64 } {
  const n = B * S;
  const gx = new Float64Array(x.length);
  const gGamma = new Float64Array(C);
  const gBeta = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    let sg = 0;
    let sgx = 0;
    for (let b = 0; b < B; b++)
      for (let i = 0; i < S; i++) {
        const j = (b * C + c) * S + i;
        sg += gy[j]!;
        sgx += gy[j]! * (x[j]! - mean[c]!) * invStd[c]!;
      }
    gBeta[c] = sg;
    gGamma[c] = sgx;
    for (let b = 0; b < B; b++)
      for (let i = 0; i < S; i++) {
        const j = (b * C + c) * S + i;
        const xhat = (x[j]! - mean[c]!) * invStd[c]!;
        gx[j] = (gamma[c]! * invStd[c]! * (n * gy[j]! - sg - xhat * sgx)) / n;
      }
  }
  return { gx, gGamma, gBeta };
}

/**
 * Max pooling over [B, C, H, W], no padding. argmax = ky*K + kx of the winner: the first maximum in the
 * window (row-major), or with tieDraws (one integer per output) the (draw mod c)-th of its c maxima.
 */
export function maxPool2d(x: F64, xs: readonly number[], K: number, stride: number, tieDraws: ArrayLike<number> | null = null): { y: F64; argmax: F64 } {
  const [B, C, H, W] = xs as [number, number, number, number];
  const Ho = outSize(H, K, stride, 0);
  const Wo = outSize(W, K, stride, 0);
  const y = new Float64Array(B * C * Ho * Wo);
  const argmax = new Float64Array(y.length);
  if (tieDraws && tieDraws.length !== y.length) throw new RangeError(`maxPool2d: ${tieDraws.length} tie draws for ${y.length} windows`);
  for (let bc = 0; bc < B * C; bc++)
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++) {
        const at = (q: number) => x[(bc * H + oy * stride + Math.floor(q / K)) * W + ox * stride + (q % K)]!;
        let best = -Infinity;
        let arg = 0;
        let count = 0;
        for (let q = 0; q < K * K; q++) {
          const v = at(q);
          if (v > best) {
            best = v;
            arg = q;
            count = 1;
          } else if (v === best) count++;
        }
        const o = (bc * Ho + oy) * Wo + ox;
        if (tieDraws && count > 1) {
          let pick = tieDraws[o]! % count;
          for (let q = 0; q < K * K; q++)
            if (at(q) === best && pick-- === 0) {
              arg = q;
              break;
            }
        }
        y[o] = best;
        argmax[o] = arg;
      }
  return { y, argmax };
}

export function maxPool2dBackward(gy: F64, argmax: F64, xs: readonly number[], K: number, stride: number): F64 {
  const [B, C, H, W] = xs as [number, number, number, number];
  const Ho = outSize(H, K, stride, 0);
  const Wo = outSize(W, K, stride, 0);
  const gx = new Float64Array(B * C * H * W);
  for (let bc = 0; bc < B * C; bc++)
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++) {
        const o = (bc * Ho + oy) * Wo + ox;
        const a = argmax[o]!;
        const ky = Math.floor(a / K);
        const kx = a - ky * K;
        gx[(bc * H + oy * stride + ky) * W + ox * stride + kx] += gy[o]!;
      }
  return gx;
}

export function avgPool2d(x: F64, xs: readonly number[], K: number, stride: number): F64 {
  const [B, C, H, W] = xs as [number, number, number, number];
  const Ho = outSize(H, K, stride, 0);
  const Wo = outSize(W, K, stride, 0);
  const y = new Float64Array(B * C * Ho * Wo);
  for (let bc = 0; bc < B * C; bc++)
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++) {
        let s = 0;
        for (let ky = 0; ky < K; ky++) for (let kx = 0; kx < K; kx++) s += x[(bc * H + oy * stride + ky) * W + ox * stride + kx]!;
        y[(bc * Ho + oy) * Wo + ox] = s / (K * K);
      }
  return y;
}

export function avgPool2dBackward(gy: F64, xs: readonly number[], K: number, stride: number): F64 {
  const [B, C, H, W] = xs as [number, number, number, number];
  const Ho = outSize(H, K, stride, 0);
  const Wo = outSize(W, K, stride, 0);
  const gx = new Float64Array(B * C * H * W);
  for (let bc = 0; bc < B * C; bc++)
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++)
        for (let ky = 0; ky < K; ky++)
          for (let kx = 0; kx < K; kx++) gx[(bc * H + oy * stride + ky) * W + ox * stride + kx] += gy[(bc * Ho + oy) * Wo + ox]! / (K * K);
  return gx;
}

/** y[t, j] = x[t, j] * mask[j]: one mask per sample, shared by all T steps. Its own vjp. */
export function dropout(x: F64, T: number, mask: F64): F64 {
  const n = mask.length;
  const y = new Float64Array(x.length);
  for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) y[t * n + j] = x[t * n + j]! * mask[j]!;
  return y;
}

/** Voting (Sec. 4 / Tab. S1 APk10s10): mean of M consecutive neurons. x [B, C*M] -> [B, C]. */
export function vote(x: F64, B: number, C: number, M: number): F64 {
  const y = new Float64Array(B * C);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let m = 0; m < M; m++) s += x[(b * C + c) * M + m]!;
      y[b * C + c] = s / M;
    }
  return y;
}

export function voteBackward(gy: F64, B: number, C: number, M: number): F64 {
  const gx = new Float64Array(B * C * M);
  for (let b = 0; b < B; b++) for (let c = 0; c < C; c++) for (let m = 0; m < M; m++) gx[(b * C + c) * M + m] = gy[b * C + c]! / M;
  return gx;
}

/**
 * MSE loss on out [T, N, C] against one-hot labels. 'rate': mean_{n,c} (mean_t o - y)^2 (released code);
 * 'per-step': (1/T) sum_t mean_{n,c} (o_t - y)^2 (Sec. 3.7).
 */
export function mseLoss(out: F64, T: number, N: number, C: number, labels: Int32Array, form: 'rate' | 'per-step'): { loss: number; grad: F64 } {
  const grad = new Float64Array(out.length);
  let loss = 0;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const y = labels[n] === c ? 1 : 0;
      if (form === 'rate') {
        let r = 0;
        for (let t = 0; t < T; t++) r += out[(t * N + n) * C + c]!;
        r /= T;
        loss += (r - y) ** 2 / (N * C);
        for (let t = 0; t < T; t++) grad[(t * N + n) * C + c] = (2 * (r - y)) / (N * C * T);
      } else {
        for (let t = 0; t < T; t++) {
          const d = out[(t * N + n) * C + c]! - y;
          loss += (d * d) / (T * N * C);
          grad[(t * N + n) * C + c] = (2 * d) / (T * N * C);
        }
      }
    }
  return { loss, grad };
}

/** Adam as torch.optim.Adam (no weight decay), in place. */
export function adam(p: F64, g: F64, m: F64, v: F64, lr: number, b1: number, b2: number, eps: number, step: number): void {
  const bc1 = 1 - b1 ** step;
  const bc2 = 1 - b2 ** step;
  for (let i = 0; i < p.length; i++) {
    m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
    v[i] = b2 * v[i]! + (1 - b2) * g[i]! * g[i]!;
    p[i] -= ((lr / bc1) * m[i]!) / (Math.sqrt(v[i]!) / Math.sqrt(bc2) + eps);
  }
}

/** [n] -> [T, n]. */
export function repeatT(x: F64, T: number): F64 {
  const y = new Float64Array(x.length * T);
  for (let t = 0; t < T; t++) y.set(x, t * x.length);
  return y;
}

/** [T, n] -> [n]. */
export function sumT(x: F64, T: number): F64 {
  const n = x.length / T;
  const y = new Float64Array(n);
  for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) y[j] += x[t * n + j]!;
  return y;
}
