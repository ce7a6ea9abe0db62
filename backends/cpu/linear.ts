// y = x W^T on Float32Array with a transposed weight copy, so every inner loop is a contiguous axpy;
// zero inputs (spikes) are skipped. Each pass covers a range of rows and of output columns (of input features
// for the weight gradient): disjoint ranges can run on different threads, and every output value is computed
// by the same arithmetic in the same order whatever the split.

const BLOCK_I = 256;

/** Rows b0 <= b < b1, columns o0 <= o < o1 of y = x W^T (overwritten), from wT [I][O]; zero inputs skipped. */
export function linearForwardRows(x: Float32Array, wT: Float32Array, y: Float32Array, I: number, O: number, b0: number, b1: number, o0 = 0, o1 = O): void {
  for (let b = b0; b < b1; b++) {
    const xOff = b * I;
    const yOff = b * O;
    y.fill(0, yOff + o0, yOff + o1);
    for (let i = 0; i < I; i++) {
      const v = x[xOff + i]!;
      if (v === 0) continue; // sparse input gather
      const wOff = i * O;
      if (v === 1) for (let o = o0; o < o1; o++) y[yOff + o] += wT[wOff + o]!; // a spike: additions only
      else for (let o = o0; o < o1; o++) y[yOff + o] += v * wT[wOff + o]!;
    }
  }
}

/** Rows i0 <= i < i1 of gwT [I][O] = sum over b (in order) of x[b][i] gy[b] (overwritten); zero inputs skipped. */
export function linearWeightGradRows(x: Float32Array, gy: Float32Array, gwT: Float32Array, B: number, I: number, O: number, i0: number, i1: number): void {
  gwT.fill(0, i0 * O, i1 * O);
  for (let b = 0; b < B; b++) {
    const xOff = b * I;
    const gOff = b * O;
    for (let i = i0; i < i1; i++) {
      const v = x[xOff + i]!;
      if (v === 0) continue;
      const wOff = i * O;
      if (v === 1) for (let o = 0; o < O; o++) gwT[wOff + o] += gy[gOff + o]!;
      else for (let o = 0; o < O; o++) gwT[wOff + o] += v * gy[gOff + o]!;
    }
  }
}

/**
 * Rows b0 <= b < b1, columns c0 <= i < c1 of gx = gy W (overwritten), blocked over I (a block of W stays in
 * cache) and four rows at a time (each loaded W value serves four accumulations). With a dropout mask
 * [maskRows][I], entries whose mask[b % maskRows][i] is 0 are written as 0 (the dropout backward would zero them anyway).
 */
export function linearInputGradRows(gy: Float32Array, w: Float32Array, gx: Float32Array, O: number, I: number, b0: number, b1: number, mask: Float32Array | null, maskRows: number, c0 = 0, c1 = I): void {
  for (let b = b0; b < b1; b++) gx.fill(0, b * I + c0, b * I + c1);
  for (let i0 = c0; i0 < c1; i0 += BLOCK_I) {
    const i1 = Math.min(c1, i0 + BLOCK_I);
    let b = b0;
    for (; b + 4 <= b1; b += 4) {
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
    for (; b < b1; b++) {
      const xOff = b * I;
      const gOff = b * O;
      for (let o = 0; o < O; o++) {
        const g = gy[gOff + o]!;
        const wOff = o * I;
        for (let i = i0; i < i1; i++) gx[xOff + i] += g * w[wOff + i]!;
      }
    }
  }
  if (mask)
    for (let b = b0; b < b1; b++) {
      const mOff = (b % maskRows) * I;
      const xOff = b * I;
      for (let i = c0; i < c1; i++) if (mask[mOff + i] === 0) gx[xOff + i] = 0;
    }
}
