// Conv2d on Float32Array: per image, im2col in transposed form colT [P][Kc] (P = Ho*Wo output positions,
// Kc = C*K*K), then y^T[p][:] += colT[p][k] * W^T[k][:] skipping zero entries of colT: after a spiking
// layer the input is binary and mostly zero, so this is a sparse-input gather. The weight gradient uses
// the same sparse structure; the input gradient is dense (gy is dense) and accumulates rows of W.
import type { Scratch } from './store.js';

export interface ConvDims {
  B: number;
  C: number;
  H: number;
  W: number;
  O: number;
  K: number;
  stride: number;
  pad: number;
  Ho: number;
  Wo: number;
}

/** colT[p*Kc + (c*K + ky)*K + kx] = x[c, oy*s - pad + ky, ox*s - pad + kx] (0 outside). */
export function im2colTInto(x: Float32Array, xOff: number, d: ConvDims, colT: Float32Array): void {
  const { C, H, W, K, stride, pad, Ho, Wo } = d;
  const Kc = C * K * K;
  for (let oy = 0; oy < Ho; oy++)
    for (let ox = 0; ox < Wo; ox++) {
      let q = (oy * Wo + ox) * Kc;
      const y0 = oy * stride - pad;
      const x0 = ox * stride - pad;
      for (let c = 0; c < C; c++) {
        const cOff = xOff + c * H * W;
        for (let ky = 0; ky < K; ky++) {
          const iy = y0 + ky;
          if (iy < 0 || iy >= H) {
            for (let kx = 0; kx < K; kx++) colT[q++] = 0;
            continue;
          }
          const rOff = cOff + iy * W;
          for (let kx = 0; kx < K; kx++) {
            const ix = x0 + kx;
            colT[q++] = ix >= 0 && ix < W ? x[rOff + ix]! : 0;
          }
        }
      }
    }
}

/** wT[k*O + o] = w[o*Kc + k]. */
export function transposeInto(src: Float32Array, rows: number, cols: number, dst: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const ro = r * cols;
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[ro + c]!;
  }
}

export function conv2dForwardInto(x: Float32Array, w: Float32Array, d: ConvDims, y: Float32Array, colS: Scratch, wtS: Scratch, yTS: Scratch): void {
  const { B, C, H, W, O, K, Ho, Wo } = d;
  const Kc = C * K * K;
  const P = Ho * Wo;
  const wT = wtS.get(Kc * O);
  transposeInto(w, O, Kc, wT);
  const colT = colS.get(P * Kc);
  const yT = yTS.get(P * O);
  for (let b = 0; b < B; b++) {
    im2colTInto(x, b * C * H * W, d, colT);
    yT.fill(0, 0, P * O);
    for (let p = 0; p < P; p++) {
      const cOff = p * Kc;
      const yOff = p * O;
      for (let k = 0; k < Kc; k++) {
        const v = colT[cOff + k]!;
        if (v === 0) continue; // sparse input: spikes are mostly zero
        const wOff = k * O;
        for (let o = 0; o < O; o++) yT[yOff + o] += v * wT[wOff + o]!;
      }
    }
    const yb = b * O * P;
    for (let p = 0; p < P; p++) {
      const yOff = p * O;
      for (let o = 0; o < O; o++) y[yb + o * P + p] = yT[yOff + o]!;
    }
  }
}

/** gw (zeroed by the caller) += weight gradient; gx (if given) = input gradient. */
export function conv2dBackwardInto(
  x: Float32Array,
  w: Float32Array,
  gy: Float32Array,
  d: ConvDims,
  gw: Float32Array,
  gx: Float32Array | null,
  colS: Scratch,
  gyTS: Scratch,
  gwTS: Scratch,
  gcolS: Scratch,
): void {
  const { B, C, H, W, O, K, stride, pad, Ho, Wo } = d;
  const Kc = C * K * K;
  const P = Ho * Wo;
  const colT = colS.get(P * Kc);
  const gyT = gyTS.get(P * O);
  const gwT = gwTS.get(Kc * O);
  gwT.fill(0, 0, Kc * O);
  const gcolT = gx ? gcolS.get(P * Kc) : null;
  for (let b = 0; b < B; b++) {
    const gb = b * O * P;
    for (let o = 0; o < O; o++) for (let p = 0; p < P; p++) gyT[p * O + o] = gy[gb + o * P + p]!;
    im2colTInto(x, b * C * H * W, d, colT);
    // dL/dW^T[k][:] += colT[p][k] gy^T[p][:] (Eq. 17), skipping zero inputs
    for (let p = 0; p < P; p++) {
      const cOff = p * Kc;
      const gOff = p * O;
      for (let k = 0; k < Kc; k++) {
        const v = colT[cOff + k]!;
        if (v === 0) continue;
        const wOff = k * O;
        for (let o = 0; o < O; o++) gwT[wOff + o] += v * gyT[gOff + o]!;
      }
    }
    if (!gx || !gcolT) continue;
    // gcolT[p][:] = sum_o gy^T[p][o] W[o][:], then col2im
    gcolT.fill(0, 0, P * Kc);
    for (let p = 0; p < P; p++) {
      const cOff = p * Kc;
      const gOff = p * O;
      for (let o = 0; o < O; o++) {
        const g = gyT[gOff + o]!;
        if (g === 0) continue;
        const wOff = o * Kc;
        for (let k = 0; k < Kc; k++) gcolT[cOff + k] += g * w[wOff + k]!;
      }
    }
    const xb = b * C * H * W;
    gx.fill(0, xb, xb + C * H * W);
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++) {
        let q = (oy * Wo + ox) * Kc;
        const y0 = oy * stride - pad;
        const x0 = ox * stride - pad;
        for (let c = 0; c < C; c++) {
          const cOff = xb + c * H * W;
          for (let ky = 0; ky < K; ky++) {
            const iy = y0 + ky;
            if (iy < 0 || iy >= H) {
              q += K;
              continue;
            }
            const rOff = cOff + iy * W;
            for (let kx = 0; kx < K; kx++, q++) {
              const ix = x0 + kx;
              if (ix >= 0 && ix < W) gx[rOff + ix] += gcolT[q]!;
            }
          }
        }
      }
  }
  transposeInto(gwT, Kc, O, gw);
}
