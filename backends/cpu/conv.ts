// Conv2d on Float32Array, no im2col buffer, each pass over a range of images or channels (disjoint output
// ranges can run on different threads with bitwise-identical results). Internally channels-last per image:
//  - forward and weight gradient walk the NONZERO inputs only (after a spiking layer the input is binary
//    and mostly zero: a sparse-input gather of the weight rows W^T[(c,ky,kx)][:], contiguous over O);
//  - the input gradient (gy is dense) gathers, for each input pixel, the rows W'[(ky,kx,o)][:] over C.
// General kernel, stride and padding.
import type { ConvDims } from '../../core/backend.js';


/**
 * dst[dstOff + c*rows + r] = src[srcOff + r*cols + c] for the output rows (source columns) c0 <= c < c1;
 * in blocks of 64 source rows, so the strided reads stay in cache.
 */
export function transposeInto(src: Float32Array, rows: number, cols: number, dst: Float32Array, srcOff = 0, dstOff = 0, c0 = 0, c1 = cols): void {
  const R = 64;
  for (let r0 = 0; r0 < rows; r0 += R) {
    const r1 = Math.min(rows, r0 + R);
    for (let c = c0; c < c1; c++) {
      const d = dstOff + c * rows;
      for (let r = r0; r < r1; r++) dst[d + r] = src[srcOff + r * cols + c]!;
    }
  }
}

/**
 * For every nonzero x[b, c, iy, ix] and every kernel tap (ky, kx) that maps it onto an output position p,
 * calls acc[p*O .. p*O+O) += v * rows[((c*K + ky)*K + kx)*O ..]: the shared loop of the forward pass
 * (rows = W^T, acc = y^T) and the weight gradient (rows = gy^T, acc = gW^T, roles swapped).
 */
function scatterNonzero(x: Float32Array, xOff: number, d: ConvDims, a: Float32Array, bm: Float32Array, bmOff: number, weightGrad: boolean, c0: number, c1: number, r0 = 0, r1 = Infinity): void {
  const { H, W, O, K, stride, pad, Ho, Wo } = d;
  for (let c = c0; c < c1; c++) {
    const cOff = xOff + c * H * W;
    for (let iy = 0; iy < H; iy++) {
      // stride 1: taps ky with 0 <= iy + pad - ky < Ho, without per-tap tests
      const kyLo = stride === 1 ? Math.max(0, iy + pad - Ho + 1) : 0;
      const kyHi = stride === 1 ? Math.min(K - 1, iy + pad) : K - 1;
      for (let ix = 0; ix < W; ix++) {
        const v = x[cOff + iy * W + ix]!;
        if (v === 0) continue; // sparse input
        const kxLo = stride === 1 ? Math.max(0, ix + pad - Wo + 1) : 0;
        const kxHi = stride === 1 ? Math.min(K - 1, ix + pad) : K - 1;
        for (let ky = kyLo; ky <= kyHi; ky++) {
          const ny = iy + pad - ky;
          const oy = (ny / stride) | 0;
          if (ny < 0 || oy * stride !== ny || oy >= Ho) continue;
          for (let kx = kxLo; kx <= kxHi; kx++) {
            const nx = ix + pad - kx;
            const ox = (nx / stride) | 0;
            if (nx < 0 || ox * stride !== nx || ox >= Wo) continue;
            const r = (c * K + ky) * K + kx;
            if (r < r0 || r >= r1) continue; // another range's row
            const pOff = bmOff + (oy * Wo + ox) * O;
            const wOff = r * O;
            if (weightGrad) for (let o = 0; o < O; o++) a[wOff + o] += v * bm[pOff + o]!;
            else for (let o = 0; o < O; o++) a[pOff + o] += v * bm[wOff + o]!;
          }
        }
      }
    }
  }
}

/** W^T [(c,ky,kx)][o] from w [o][c][ky][kx]. */
export function convWeightT(w: Float32Array, d: ConvDims, wT: Float32Array): void {
  transposeInto(w, d.O, d.C * d.K * d.K, wT);
}

/** W'[(ky,kx,o)][c] = w[o][c][ky][kx]: the input gradient's weight layout. */
export function convWeightR(w: Float32Array, d: ConvDims, wr: Float32Array): void {
  const { O, C, K } = d;
  for (let o = 0; o < O; o++) for (let c = 0; c < C; c++) for (let q = 0; q < K * K; q++) wr[(q * O + o) * C + c] = w[(o * C + c) * K * K + q]!;
}

/**
 * Whether the input gradient runs by Winograd F(2×2, 3×3) (the WebAssembly kernel convInputGradWinograd):
 * K = 3, stride 1, pad 1, C and O multiples of 4. Measured against the direct kernel, one image at a time
 * at 14×14 and 28×28: 1.7–2.5× faster from 16 to 128 channels, so it runs wherever it applies.
 */
export function winogradApplies(d: ConvDims): boolean {
  return d.K === 3 && d.stride === 1 && d.pad === 1 && d.C % 4 === 0 && d.O % 4 === 0;
}

/** The 2×2 output tiles of an image for Winograd F(2×2, 3×3): ceil(H/2) × ceil(W/2). */
export function winogradTiles(d: ConvDims): number {
  return ((d.H + 1) >> 1) * ((d.W + 1) >> 1);
}

/** Floats of the scratch convInputGradWinograd needs per image, beyond gxT: v [16][tiles][O] and m [16][tiles][C]. */
export function winogradScratch(d: ConvDims): number {
  return 16 * winogradTiles(d) * (d.O + d.C);
}

/**
 * u [16][O][C] = G w'[c][o] G^T (float64, rounded once to float32), w'[i][j] = w[o][c][2-i][2-j], for K = 3:
 * the input gradient's kernel in Winograd F(2×2, 3×3) form, G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1].
 */
export function winogradWeightsInto(w: Float32Array, d: ConvDims, u: Float32Array): void {
  const { O, C } = d;
  const g = new Float64Array(9);
  const gw = new Float64Array(12);
  for (let o = 0; o < O; o++)
    for (let c = 0; c < C; c++) {
      const base = (o * C + c) * 9;
      for (let q = 0; q < 9; q++) g[q] = w[base + 8 - q]!; // g[i][j] = w[2-i][2-j]
      for (let j = 0; j < 3; j++) {
        const a = g[j]!, b = g[3 + j]!, e = g[6 + j]!;
        gw[j] = a;
        gw[3 + j] = 0.5 * (a + b + e);
        gw[6 + j] = 0.5 * (a - b + e);
        gw[9 + j] = e;
      }
      for (let p = 0; p < 4; p++) {
        const a = gw[3 * p]!, b = gw[3 * p + 1]!, e = gw[3 * p + 2]!;
        const at = (q: number) => ((4 * p + q) * O + o) * C + c;
        u[at(0)] = a;
        u[at(1)] = 0.5 * (a + b + e);
        u[at(2)] = 0.5 * (a - b + e);
        u[at(3)] = e;
      }
    }
}

/** Forward of images b0 <= b < b1: y[b] (overwritten); yT is a scratch of Ho*Wo*O. */
export function convForwardImages(x: Float32Array, wT: Float32Array, d: ConvDims, y: Float32Array, b0: number, b1: number, yT: Float32Array): void {
  const { C, H, W, O, Ho, Wo } = d;
  const P = Ho * Wo;
  for (let b = b0; b < b1; b++) {
    yT.fill(0, 0, P * O);
    scatterNonzero(x, b * C * H * W, d, yT, wT, 0, false, 0, C);
    transposeInto(yT, P, O, y, 0, b * O * P);
  }
}

/** gy [B][O][P] -> gyT [B][P][O] for images b0 <= b < b1. */
export function transposeImages(gy: Float32Array, O: number, P: number, gyT: Float32Array, b0: number, b1: number): void {
  for (let b = b0; b < b1; b++) transposeInto(gy, O, P, gyT, b * O * P, b * O * P);
}

/** Weight gradient rows r0 <= r < r1 of gwT[(c,ky,kx)][o] (overwritten), summed over images in order. */
export function convWeightGradRows(x: Float32Array, gyT: Float32Array, d: ConvDims, gwT: Float32Array, r0: number, r1: number): void {
  const { B, C, H, W, O, K, Ho, Wo } = d;
  const P = Ho * Wo;
  if (r1 <= r0) return;
  gwT.fill(0, r0 * O, r1 * O);
  const c0 = Math.floor(r0 / (K * K));
  const c1 = Math.floor((r1 - 1) / (K * K)) + 1;
  for (let b = 0; b < B; b++) scatterNonzero(x, b * C * H * W, d, gwT, gyT, b * P * O, true, c0, c1, r0, r1); // Eq. 17: dL/dW = sum over steps (and positions) of dL/dY times the input
}

/** Input gradient of images b0 <= b < b1: gx[b] (overwritten) from gyT and W'; gxT is a scratch of H*W*C. */
export function convInputGradImages(gyT: Float32Array, wr: Float32Array, d: ConvDims, gx: Float32Array, b0: number, b1: number, gxT: Float32Array): void {
  const { C, H, W, O, K, stride, pad, Ho, Wo } = d;
  const P = Ho * Wo;
  for (let b = b0; b < b1; b++) {
    const gyOff = b * P * O;
    gxT.fill(0, 0, H * W * C);
    for (let iy = 0; iy < H; iy++)
      for (let ix = 0; ix < W; ix++) {
        const gOff = (iy * W + ix) * C;
        for (let ky = 0; ky < K; ky++) {
          const ny = iy + pad - ky;
          if (ny < 0) break;
          const oy = (ny / stride) | 0;
          if (oy * stride !== ny || oy >= Ho) continue;
          for (let kx = 0; kx < K; kx++) {
            const nx = ix + pad - kx;
            if (nx < 0) break;
            const ox = (nx / stride) | 0;
            if (ox * stride !== nx || ox >= Wo) continue;
            const pOff = gyOff + (oy * Wo + ox) * O;
            const qOff = (ky * K + kx) * O * C;
            let o = 0;
            for (; o + 4 <= O; o += 4) {
              const g0 = gyT[pOff + o]!;
              const g1 = gyT[pOff + o + 1]!;
              const g2 = gyT[pOff + o + 2]!;
              const g3 = gyT[pOff + o + 3]!;
              const r0 = qOff + o * C;
              const r1 = r0 + C;
              const r2 = r1 + C;
              const r3 = r2 + C;
              for (let c = 0; c < C; c++) gxT[gOff + c] += g0 * wr[r0 + c]! + g1 * wr[r1 + c]! + g2 * wr[r2 + c]! + g3 * wr[r3 + c]!;
            }
            for (; o + 2 <= O; o += 2) {
              const g0 = gyT[pOff + o]!;
              const g1 = gyT[pOff + o + 1]!;
              const r0 = qOff + o * C;
              const r1 = r0 + C;
              for (let c = 0; c < C; c++) gxT[gOff + c] += g0 * wr[r0 + c]! + g1 * wr[r1 + c]!;
            }
            if (o < O) {
              const g0 = gyT[pOff + o]!;
              const r0 = qOff + o * C;
              for (let c = 0; c < C; c++) gxT[gOff + c] += g0 * wr[r0 + c]!;
            }
          }
        }
      }
    transposeInto(gxT, H * W, C, gx, 0, b * C * H * W);
  }
}
