// y = x W^T on Float32Array with a transposed weight copy, so every inner loop is a contiguous axpy;
// zero inputs (spikes) are skipped. The dense input gradient is blocked over the input features so a
// block of W stays in cache while all rows of the batch pass over it.
import { transposeInto } from './conv.js';
import type { Scratch } from './store.js';

const BLOCK_I = 256;

export function linearForwardInto(x: Float32Array, B: number, I: number, w: Float32Array, O: number, y: Float32Array, wtS: Scratch): void {
  const wT = wtS.get(I * O);
  transposeInto(w, O, I, wT);
  y.fill(0, 0, B * O);
  for (let b = 0; b < B; b++) {
    const xOff = b * I;
    const yOff = b * O;
    for (let i = 0; i < I; i++) {
      const v = x[xOff + i]!;
      if (v === 0) continue; // sparse input gather
      const wOff = i * O;
      for (let o = 0; o < O; o++) y[yOff + o] += v * wT[wOff + o]!;
    }
  }
}

export function linearBackwardInto(x: Float32Array, B: number, I: number, w: Float32Array, O: number, gy: Float32Array, gw: Float32Array, gx: Float32Array | null, gwtS: Scratch): void {
  const gwT = gwtS.get(I * O);
  gwT.fill(0, 0, I * O);
  for (let b = 0; b < B; b++) {
    const xOff = b * I;
    const gOff = b * O;
    for (let i = 0; i < I; i++) {
      const v = x[xOff + i]!;
      if (v === 0) continue;
      const wOff = i * O;
      for (let o = 0; o < O; o++) gwT[wOff + o] += v * gy[gOff + o]!;
    }
  }
  transposeInto(gwT, I, O, gw);
  if (!gx) return;
  gx.fill(0, 0, B * I);
  // gx = gy W, blocked over I (a block of W stays in cache) and four rows of the batch at a time (each
  // loaded W value serves four accumulations).
  for (let i0 = 0; i0 < I; i0 += BLOCK_I) {
    const i1 = Math.min(I, i0 + BLOCK_I);
    let b = 0;
    for (; b + 4 <= B; b += 4) {
      const x0 = b * I;
      const x1 = x0 + I;
      const x2 = x1 + I;
      const x3 = x2 + I;
      const g0o = b * O;
      for (let o = 0; o < O; o++) {
        const g0 = gy[g0o + o]!;
        const g1 = gy[g0o + O + o]!;
        const g2 = gy[g0o + 2 * O + o]!;
        const g3 = gy[g0o + 3 * O + o]!;
        const wOff = o * I;
        for (let i = i0; i < i1; i++) {
          const wv = w[wOff + i]!;
          gx[x0 + i] += g0 * wv;
          gx[x1 + i] += g1 * wv;
          gx[x2 + i] += g2 * wv;
          gx[x3 + i] += g3 * wv;
        }
      }
    }
    for (; b < B; b++) {
      const xOff = b * I;
      const gOff = b * O;
      for (let o = 0; o < O; o++) {
        const g = gy[gOff + o]!;
        if (g === 0) continue;
        const wOff = o * I;
        for (let i = i0; i < i1; i++) gx[xOff + i] += g * w[wOff + i]!;
      }
    }
  }
}
