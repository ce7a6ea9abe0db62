// WebAssembly SIMD kernels of the CPU backend's dense and sparse inner loops.
//
// Memory: imported (env.memory), shared between threads, never grown or allocated here. Arguments are
// BYTE OFFSETS of row-major float32 arrays plus integer dimensions. Each kernel writes only the output
// range it is given, and computes every output element with the same float32 operations in the same
// order whatever range a call covers (vector lanes and scalar tails do identical per-element work), so
// results are bitwise identical for any split of the work between threads.
//
// The per-element math of the neuron and of Adam is not written here: it is core/scalar.ts's, compiled to
// f64x2 lanes into ./equations.generated.ts by scripts/wasm-equations.mjs when npm run build runs.
//
// Layouts (as in conv.ts / linear.ts):
//   conv:   x [C][H][W], wT [(c*K+ky)*K+kx][O], yT / gyT [Ho*Wo][O], wr [(ky*K+kx)*O+o][C], gxT [H*W][C]
//   linear: x [B][I], wT [I][O], w [O][I], y / gy [B][O], gwT [I][O], gx [B][I]

import { adamFirstMoment, adamParam, adamSecondMoment, bnAffine, bnInputGrad, chargeGradK, neuronFire, neuronGradStep, neuronStep, restPotential } from './equations.generated';

// ---------------------------------------------------------------- helpers

/** dst[0..n) += v * src[0..n); for v == 1 the multiply is skipped (same result). */
function axpy(dst: usize, src: usize, v: f32, n: i32): void {
  let k = 0;
  if (v == 1) {
    for (; k + 16 <= n; k += 16) {
      const d = dst + (<usize>k << 2);
      const s = src + (<usize>k << 2);
      v128.store(d, f32x4.add(v128.load(d), v128.load(s)));
      v128.store(d, f32x4.add(v128.load(d, 16), v128.load(s, 16)), 16);
      v128.store(d, f32x4.add(v128.load(d, 32), v128.load(s, 32)), 32);
      v128.store(d, f32x4.add(v128.load(d, 48), v128.load(s, 48)), 48);
    }
    for (; k + 4 <= n; k += 4) {
      const d = dst + (<usize>k << 2);
      v128.store(d, f32x4.add(v128.load(d), v128.load(src + (<usize>k << 2))));
    }
    for (; k < n; k++) {
      const d = dst + (<usize>k << 2);
      store<f32>(d, load<f32>(d) + load<f32>(src + (<usize>k << 2)));
    }
    return;
  }
  const vv = f32x4.splat(v);
  for (; k + 16 <= n; k += 16) {
    const d = dst + (<usize>k << 2);
    const s = src + (<usize>k << 2);
    v128.store(d, f32x4.add(v128.load(d), f32x4.mul(vv, v128.load(s))));
    v128.store(d, f32x4.add(v128.load(d, 16), f32x4.mul(vv, v128.load(s, 16))), 16);
    v128.store(d, f32x4.add(v128.load(d, 32), f32x4.mul(vv, v128.load(s, 32))), 32);
    v128.store(d, f32x4.add(v128.load(d, 48), f32x4.mul(vv, v128.load(s, 48))), 48);
  }
  for (; k + 4 <= n; k += 4) {
    const d = dst + (<usize>k << 2);
    v128.store(d, f32x4.add(v128.load(d), f32x4.mul(vv, v128.load(src + (<usize>k << 2)))));
  }
  for (; k < n; k++) {
    const d = dst + (<usize>k << 2);
    store<f32>(d, load<f32>(d) + v * load<f32>(src + (<usize>k << 2)));
  }
}

/** Horizontal sum of a dot-product accumulator, in a fixed order. */
// @ts-ignore: decorator
@inline function hsum(a: v128): f32 {
  return (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1)) + (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3));
}

/** Σ_{o in [o4, n)} g[o]·w[o] added to s: the scalar tail of a dot product. */
// @ts-ignore: decorator
@inline function dotTail(s: f32, g: usize, w: usize, o4: i32, n: i32): f32 {
  for (let o = o4; o < n; o++) s += load<f32>(g + (<usize>o << 2)) * load<f32>(w + (<usize>o << 2));
  return s;
}

/**
 * Output index of input coordinate i under tap k (stride s, padding p, n outputs), or -1 when that
 * tap does not reach i.
 */
// @ts-ignore: decorator
@inline function tapOut(i: i32, k: i32, s: i32, p: i32, n: i32): i32 {
  const d = i + p - k;
  if (d < 0) return -1;
  if (s == 1) return d < n ? d : -1; // no division at stride 1
  const q = d / s;
  return q * s == d && q < n ? q : -1;
}

// ---------------------------------------------------------------- conv forward / weight gradient

/**
 * For every nonzero x[c][iy][ix] (c in [c0, c1)) and tap (ky, kx) reaching output (oy, ox), whose row
 * r = (c*K+ky)*K+kx is in [r0, r1):
 * forward (grad = false): yT[oy*Wo+ox][:] += x · wT[r][:]
 * weight gradient:        gwT[r][:] += x · gyT[oy*Wo+ox][:]
 */
function scatterNonzero(x: usize, rows: usize, acc: usize, c0: i32, c1: i32, r0: i32, r1: i32, H: i32, W: i32, O: i32, K: i32, stride: i32, pad: i32, Ho: i32, Wo: i32, grad: bool): void {
  const rowB = <usize>O << 2;
  for (let c = c0; c < c1; c++) {
    const xc = x + ((<usize>c * <usize>H * <usize>W) << 2);
    for (let iy = 0; iy < H; iy++) {
      for (let ix = 0; ix < W; ix++) {
        const v = load<f32>(xc + (<usize>(iy * W + ix) << 2));
        if (v == 0) continue; // sparse input: skip zeros
        for (let ky = 0; ky < K; ky++) {
          const oy = tapOut(iy, ky, stride, pad, Ho);
          if (oy < 0) continue;
          for (let kx = 0; kx < K; kx++) {
            const ox = tapOut(ix, kx, stride, pad, Wo);
            if (ox < 0) continue;
            const p = <usize>(oy * Wo + ox) * rowB; // output position row
            const r = (c * K + ky) * K + kx;
            if (r < r0 || r >= r1) continue; // another range's row
            const q = <usize>r * rowB; // weight row
            if (grad) axpy(acc + q, rows + p, v, O);
            else axpy(acc + p, rows + q, v, O);
          }
        }
      }
    }
  }
}

/** Bytes of the lists scratch convForwardImage needs at stride 1: a start per output pixel and 8 per (input, tap). */
export function convForwardListBytes(C: i32, H: i32, W: i32, K: i32, Ho: i32, Wo: i32): i32 {
  return 4 * (Ho * Wo + 1) + 8 * C * H * W * K * K;
}

/**
 * Per output pixel p, the weight rows its nonzero inputs reach it through, in the scatter's order (c, then
 * input raster, so ky, kx increasing): starts [P + 1] (entry indices), then entries of (row byte offset, value
 * bits) from byte 4 (P + 1) on. Two passes over x: counts, then entries.
 */
function fwdLists(x: usize, lists: usize, C: i32, H: i32, W: i32, O: i32, K: i32, pad: i32, Ho: i32, Wo: i32): void {
  const P = Ho * Wo;
  const starts = lists;
  const entries = lists + (<usize>(P + 1) << 2);
  const rowB = O << 2;
  memory.fill(starts, 0, <usize>(P + 1) << 2);
  for (let pass = 0; pass < 2; pass++) {
    if (pass == 1) {
      let sum = 0; // counts -> starts (cursor: starts[p + 1] runs from p's start to its end)
      for (let p = 0; p <= P; p++) {
        const c = load<i32>(starts + (<usize>p << 2));
        store<i32>(starts + (<usize>p << 2), sum);
        sum += c;
      }
    }
    for (let c = 0; c < C; c++) {
      const xc = x + ((<usize>c * <usize>H * <usize>W) << 2);
      for (let iy = 0; iy < H; iy++) {
        for (let ix = 0; ix < W; ix++) {
          const v = load<u32>(xc + (<usize>(iy * W + ix) << 2));
          if ((v << 1) == 0) continue; // zeros skipped, as the scatter skips them
          for (let ky = 0; ky < K; ky++) {
            const oy = iy + pad - ky;
            if (<u32>oy >= <u32>Ho) continue;
            for (let kx = 0; kx < K; kx++) {
              const ox = ix + pad - kx;
              if (<u32>ox >= <u32>Wo) continue;
              const q = starts + (<usize>(oy * Wo + ox + 1) << 2);
              const j = load<i32>(q);
              store<i32>(q, j + 1);
              if (pass == 1) {
                const e = entries + (<usize>j << 3);
                store<i32>(e, ((c * K + ky) * K + kx) * rowB);
                store<u32>(e, v, 4);
              }
            }
          }
        }
      }
    }
  }
}

/** yT row p, columns [o, o + 4·NV) = Σ over p's entries [j0, j1) of v · wT row, in order, NV vectors in registers. */
// @ts-ignore: decorator
@inline function fwdPixel(NV: i32, entries: usize, j0: i32, j1: i32, wT: usize, y: usize, o: i32): void {
  const oB = <usize>o << 2;
  const zero = f32x4.splat(0);
  let a0 = zero, a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
  for (let j = j0; j < j1; j++) {
    const e = entries + (<usize>j << 3);
    const w = wT + <usize>load<i32>(e) + oB;
    const v = load<f32>(e, 4);
    if (v == 1) {
      a0 = f32x4.add(a0, v128.load(w));
      if (NV > 1) { a1 = f32x4.add(a1, v128.load(w, 16)); a2 = f32x4.add(a2, v128.load(w, 32)); a3 = f32x4.add(a3, v128.load(w, 48)); }
      if (NV > 4) { a4 = f32x4.add(a4, v128.load(w, 64)); a5 = f32x4.add(a5, v128.load(w, 80)); a6 = f32x4.add(a6, v128.load(w, 96)); a7 = f32x4.add(a7, v128.load(w, 112)); }
    } else {
      const vv = f32x4.splat(v);
      a0 = f32x4.add(a0, f32x4.mul(vv, v128.load(w)));
      if (NV > 1) { a1 = f32x4.add(a1, f32x4.mul(vv, v128.load(w, 16))); a2 = f32x4.add(a2, f32x4.mul(vv, v128.load(w, 32))); a3 = f32x4.add(a3, f32x4.mul(vv, v128.load(w, 48))); }
      if (NV > 4) { a4 = f32x4.add(a4, f32x4.mul(vv, v128.load(w, 64))); a5 = f32x4.add(a5, f32x4.mul(vv, v128.load(w, 80))); a6 = f32x4.add(a6, f32x4.mul(vv, v128.load(w, 96))); a7 = f32x4.add(a7, f32x4.mul(vv, v128.load(w, 112))); }
    }
  }
  const a = y + oB;
  v128.store(a, a0);
  if (NV > 1) { v128.store(a, a1, 16); v128.store(a, a2, 32); v128.store(a, a3, 48); }
  if (NV > 4) { v128.store(a, a4, 64); v128.store(a, a5, 80); v128.store(a, a6, 96); v128.store(a, a7, 112); }
}

/**
 * One image: yT [Ho*Wo][O] = conv(x [C][H][W]) with weights wT [(c*K+ky)*K+kx][O] (overwritten). At stride 1
 * each output pixel sums its weight rows in registers over a list (lists: convForwardListBytes) in the scatter's
 * order (the same float32 results); other strides scatter.
 */
export function convForwardImage(x: usize, wT: usize, yT: usize, lists: usize, C: i32, H: i32, W: i32, O: i32, K: i32, stride: i32, pad: i32, Ho: i32, Wo: i32): void {
  if (stride != 1) {
    memory.fill(yT, 0, (<usize>Ho * <usize>Wo * <usize>O) << 2);
    scatterNonzero(x, wT, yT, 0, C, 0, C * K * K, H, W, O, K, stride, pad, Ho, Wo, false);
    return;
  }
  fwdLists(x, lists, C, H, W, O, K, pad, Ho, Wo);
  const P = Ho * Wo;
  const entries = lists + (<usize>(P + 1) << 2);
  const rowB = <usize>O << 2;
  for (let p = 0; p < P; p++) {
    const j0 = load<i32>(lists + (<usize>p << 2));
    const j1 = load<i32>(lists + (<usize>(p + 1) << 2));
    const y = yT + <usize>p * rowB;
    let o = 0;
    for (; o + 32 <= O; o += 32) fwdPixel(8, entries, j0, j1, wT, y, o);
    for (; o + 16 <= O; o += 16) fwdPixel(4, entries, j0, j1, wT, y, o);
    for (; o + 4 <= O; o += 4) fwdPixel(1, entries, j0, j1, wT, y, o);
    for (; o < O; o++) {
      let s: f32 = 0;
      for (let j = j0; j < j1; j++) {
        const e = entries + (<usize>j << 3);
        const wv = load<f32>(wT + <usize>load<i32>(e) + (<usize>o << 2));
        const v = load<f32>(e, 4);
        s = v == 1 ? s + wv : s + v * wv;
      }
      store<f32>(y + (<usize>o << 2), s);
    }
  }
}

/** Bytes of gyT an image chunk of the stride-1 weight gradient may span (the chunk's rows stay in cache). */
const WG_CHUNK_BYTES: usize = 256 * 1024;

/** Images per chunk of the stride-1 weight gradient: about WG_CHUNK_BYTES of gyT, at least 1. */
// @ts-ignore: decorator
@inline function wgChunk(P: i32, O: i32): i32 {
  return max(1, <i32>(WG_CHUNK_BYTES / ((<usize>P * <usize>O) << 2)));
}

/** Bytes of the list scratch convWeightGrad needs at stride 1: 12 per input pixel of an image chunk. */
export function convWeightGradListBytes(B: i32, H: i32, W: i32, O: i32, Ho: i32, Wo: i32): i32 {
  return 12 * min(B, wgChunk(Ho * Wo, O)) * H * W;
}

/**
 * The nonzero x[b][c] of images [b0, b1) into list, in (b, iy, ix) order: the gyT row (b, iy + pad, ix + pad)
 * (a row index, possibly outside the image), iy | ix << 16, and the value's bits. Returns the count.
 */
function wgList(x: usize, list: usize, b0: i32, b1: i32, c: i32, C: i32, H: i32, W: i32, pad: i32, Wo: i32, P: i32): i32 {
  let n = 0;
  for (let b = b0; b < b1; b++) {
    const xc = x + ((<usize>(b * C + c) * <usize>H * <usize>W) << 2);
    for (let iy = 0; iy < H; iy++) {
      const row = xc + (<usize>(iy * W) << 2);
      for (let ix = 0; ix < W; ix++) {
        const v = load<u32>(row + (<usize>ix << 2));
        if ((v << 1) == 0) continue; // +0 and -0: zeros skipped, as the scatter skips them
        const e = list + <usize>n * 12;
        store<i32>(e, b * P + (iy + pad) * Wo + ix + pad);
        store<i32>(e, iy | (ix << 16), 4);
        store<u32>(e, v, 8);
        n++;
      }
    }
  }
  return n;
}

/**
 * gwT row (c, ky, kx), columns [o, o + 4·NV): the sums over the list's entries whose tap (ky, kx) lands inside
 * the output, in list order, added to what the row holds (the earlier image chunks). NV vectors in registers.
 */
// @ts-ignore: decorator
@inline function wgTap(NV: i32, list: usize, n: i32, gyT: usize, acc: usize, o: i32, O: i32, ky: i32, kx: i32, pad: i32, Ho: i32, Wo: i32): void {
  const rowB = <usize>O << 2;
  const oB = <usize>o << 2;
  const shift = ky * Wo + kx;
  const a = acc + oB;
  let a0 = v128.load(a), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  if (NV > 1) { a1 = v128.load(a, 16); a2 = v128.load(a, 32); a3 = v128.load(a, 48); }
  if (NV > 4) { a4 = v128.load(a, 64); a5 = v128.load(a, 80); a6 = v128.load(a, 96); a7 = v128.load(a, 112); }
  const dy = pad - ky;
  const dx = pad - kx;
  for (let j = 0; j < n; j++) {
    const e = list + <usize>j * 12;
    const yx = load<i32>(e, 4);
    if (<u32>((yx & 0xffff) + dy) >= <u32>Ho || <u32>((yx >>> 16) + dx) >= <u32>Wo) continue; // tap outside the output
    const g = gyT + <usize>(load<i32>(e) - shift) * rowB + oB;
    const v = load<f32>(e, 8);
    if (v == 1) {
      a0 = f32x4.add(a0, v128.load(g));
      if (NV > 1) { a1 = f32x4.add(a1, v128.load(g, 16)); a2 = f32x4.add(a2, v128.load(g, 32)); a3 = f32x4.add(a3, v128.load(g, 48)); }
      if (NV > 4) { a4 = f32x4.add(a4, v128.load(g, 64)); a5 = f32x4.add(a5, v128.load(g, 80)); a6 = f32x4.add(a6, v128.load(g, 96)); a7 = f32x4.add(a7, v128.load(g, 112)); }
    } else {
      const vv = f32x4.splat(v);
      a0 = f32x4.add(a0, f32x4.mul(vv, v128.load(g)));
      if (NV > 1) { a1 = f32x4.add(a1, f32x4.mul(vv, v128.load(g, 16))); a2 = f32x4.add(a2, f32x4.mul(vv, v128.load(g, 32))); a3 = f32x4.add(a3, f32x4.mul(vv, v128.load(g, 48))); }
      if (NV > 4) { a4 = f32x4.add(a4, f32x4.mul(vv, v128.load(g, 64))); a5 = f32x4.add(a5, f32x4.mul(vv, v128.load(g, 80))); a6 = f32x4.add(a6, f32x4.mul(vv, v128.load(g, 96))); a7 = f32x4.add(a7, f32x4.mul(vv, v128.load(g, 112))); }
    }
  }
  v128.store(a, a0);
  if (NV > 1) { v128.store(a, a1, 16); v128.store(a, a2, 32); v128.store(a, a3, 48); }
  if (NV > 4) { v128.store(a, a4, 64); v128.store(a, a5, 80); v128.store(a, a6, 96); v128.store(a, a7, 112); }
}

/** wgTap for the scalar columns [o, O) (O not a multiple of 4). */
function wgTapScalar(list: usize, n: i32, gyT: usize, acc: usize, o0: i32, O: i32, ky: i32, kx: i32, pad: i32, Ho: i32, Wo: i32): void {
  const rowB = <usize>O << 2;
  const shift = ky * Wo + kx;
  for (let o = o0; o < O; o++) {
    const a = acc + (<usize>o << 2);
    let s = load<f32>(a);
    for (let j = 0; j < n; j++) {
      const e = list + <usize>j * 12;
      const yx = load<i32>(e, 4);
      if (<u32>((yx & 0xffff) + pad - ky) >= <u32>Ho || <u32>((yx >>> 16) + pad - kx) >= <u32>Wo) continue;
      const gv = load<f32>(gyT + <usize>(load<i32>(e) - shift) * rowB + (<usize>o << 2));
      const v = load<f32>(e, 8);
      s = v == 1 ? s + gv : s + v * gv;
    }
    store<f32>(a, s);
  }
}

/**
 * Rows r in [r0, r1) of gwT [(c*K+ky)*K+kx][O] (overwritten) = Σ_b (increasing) Σ_{nonzero x[b][c]} (raster order)
 * x · gyT[b] row; x [B][C][H][W], gyT [B][Ho*Wo][O]. At stride 1 a row's sums run in registers over a list of the
 * channel's nonzeros (list: convWeightGradListBytes), image chunk by chunk, adding in the scatter's order (the
 * same float32 results); other strides scatter.
 */
export function convWeightGrad(x: usize, gyT: usize, gwT: usize, list: usize, B: i32, C: i32, H: i32, W: i32, O: i32, K: i32, stride: i32, pad: i32, Ho: i32, Wo: i32, r0: i32, r1: i32): void {
  if (r1 <= r0) return;
  const rowB = <usize>O << 2;
  const KK = K * K;
  memory.fill(gwT + <usize>r0 * rowB, 0, <usize>(r1 - r0) * rowB);
  const c0 = r0 / KK;
  const c1 = (r1 - 1) / KK + 1;
  if (stride != 1 || H > 0xffff || W > 0xffff) {
    const xImg = (<usize>C * <usize>H * <usize>W) << 2;
    const gImg = (<usize>Ho * <usize>Wo * <usize>O) << 2;
    for (let b = 0; b < B; b++) scatterNonzero(x + <usize>b * xImg, gyT + <usize>b * gImg, gwT, c0, c1, r0, r1, H, W, O, K, stride, pad, Ho, Wo, true);
    return;
  }
  const P = Ho * Wo;
  const chunk = wgChunk(P, O);
  for (let b0 = 0; b0 < B; b0 += chunk) {
    const b1 = min(B, b0 + chunk);
    for (let c = c0; c < c1; c++) {
      const n = wgList(x, list, b0, b1, c, C, H, W, pad, Wo, P);
      if (n == 0) continue;
      for (let r = max(r0, c * KK); r < min(r1, (c + 1) * KK); r++) {
        const ky = (r - c * KK) / K;
        const kx = r - c * KK - ky * K;
        const acc = gwT + <usize>r * rowB;
        let o = 0;
        for (; o + 32 <= O; o += 32) wgTap(8, list, n, gyT, acc, o, O, ky, kx, pad, Ho, Wo);
        for (; o + 16 <= O; o += 16) wgTap(4, list, n, gyT, acc, o, O, ky, kx, pad, Ho, Wo);
        for (; o + 4 <= O; o += 4) wgTap(1, list, n, gyT, acc, o, O, ky, kx, pad, Ho, Wo);
        if (o < O) wgTapScalar(list, n, gyT, acc, o, O, ky, kx, pad, Ho, Wo);
      }
    }
  }
}

// ---------------------------------------------------------------- conv input gradient

/**
 * Adds one tap's contribution to 4 pixels: gx_j[c] (+)= Σ_o gy_j[o] · w[o][c] for j < 4, where pixel j's
 * gradient row is at gx + j*gxStep and its gyT row at gy + j*O*4; w = the tap's wr rows [O][C].
 * first: start from 0 instead of the stored value. Registers: 4 pixels × 8 channels.
 */
function tap4(gy: usize, w: usize, gx: usize, gxStep: usize, C: i32, O: i32, first: bool): void {
  const gyStep = <usize>O << 2;
  const wStep = <usize>C << 2;
  const gx1 = gx + gxStep;
  const gx2 = gx1 + gxStep;
  const gx3 = gx2 + gxStep;
  const zero = f32x4.splat(0);
  let c = 0;
  for (; c + 8 <= C; c += 8) {
    const cb = <usize>c << 2;
    let a00 = zero, a01 = zero, a10 = zero, a11 = zero, a20 = zero, a21 = zero, a30 = zero, a31 = zero;
    if (!first) {
      a00 = v128.load(gx + cb); a01 = v128.load(gx + cb, 16);
      a10 = v128.load(gx1 + cb); a11 = v128.load(gx1 + cb, 16);
      a20 = v128.load(gx2 + cb); a21 = v128.load(gx2 + cb, 16);
      a30 = v128.load(gx3 + cb); a31 = v128.load(gx3 + cb, 16);
    }
    let wp = w + cb;
    let g0 = gy;
    const end = gy + gyStep;
    while (g0 < end) {
      const w0 = v128.load(wp);
      const w1 = v128.load(wp, 16);
      const s0 = v128.load32_splat(g0);
      a00 = f32x4.add(a00, f32x4.mul(s0, w0));
      a01 = f32x4.add(a01, f32x4.mul(s0, w1));
      const s1 = v128.load32_splat(g0 + gyStep);
      a10 = f32x4.add(a10, f32x4.mul(s1, w0));
      a11 = f32x4.add(a11, f32x4.mul(s1, w1));
      const s2 = v128.load32_splat(g0 + 2 * gyStep);
      a20 = f32x4.add(a20, f32x4.mul(s2, w0));
      a21 = f32x4.add(a21, f32x4.mul(s2, w1));
      const s3 = v128.load32_splat(g0 + 3 * gyStep);
      a30 = f32x4.add(a30, f32x4.mul(s3, w0));
      a31 = f32x4.add(a31, f32x4.mul(s3, w1));
      wp += wStep;
      g0 += 4;
    }
    v128.store(gx + cb, a00); v128.store(gx + cb, a01, 16);
    v128.store(gx1 + cb, a10); v128.store(gx1 + cb, a11, 16);
    v128.store(gx2 + cb, a20); v128.store(gx2 + cb, a21, 16);
    v128.store(gx3 + cb, a30); v128.store(gx3 + cb, a31, 16);
  }
  for (; c + 4 <= C; c += 4) {
    const cb = <usize>c << 2;
    let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
    if (!first) {
      a0 = v128.load(gx + cb); a1 = v128.load(gx1 + cb); a2 = v128.load(gx2 + cb); a3 = v128.load(gx3 + cb);
    }
    let wp = w + cb;
    for (let o = 0; o < O; o++) {
      const w0 = v128.load(wp);
      const g0 = gy + (<usize>o << 2);
      a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(g0), w0));
      a1 = f32x4.add(a1, f32x4.mul(v128.load32_splat(g0 + gyStep), w0));
      a2 = f32x4.add(a2, f32x4.mul(v128.load32_splat(g0 + 2 * gyStep), w0));
      a3 = f32x4.add(a3, f32x4.mul(v128.load32_splat(g0 + 3 * gyStep), w0));
      wp += wStep;
    }
    v128.store(gx + cb, a0); v128.store(gx1 + cb, a1); v128.store(gx2 + cb, a2); v128.store(gx3 + cb, a3);
  }
  for (; c < C; c++) {
    const cb = <usize>c << 2;
    let a0: f32 = 0, a1: f32 = 0, a2: f32 = 0, a3: f32 = 0;
    if (!first) {
      a0 = load<f32>(gx + cb); a1 = load<f32>(gx1 + cb); a2 = load<f32>(gx2 + cb); a3 = load<f32>(gx3 + cb);
    }
    let wp = w + cb;
    for (let o = 0; o < O; o++) {
      const w0 = load<f32>(wp);
      const g0 = gy + (<usize>o << 2);
      a0 += load<f32>(g0) * w0;
      a1 += load<f32>(g0 + gyStep) * w0;
      a2 += load<f32>(g0 + 2 * gyStep) * w0;
      a3 += load<f32>(g0 + 3 * gyStep) * w0;
      wp += wStep;
    }
    store<f32>(gx + cb, a0); store<f32>(gx1 + cb, a1); store<f32>(gx2 + cb, a2); store<f32>(gx3 + cb, a3);
  }
}

/** tap4 for a single pixel: the same per-element arithmetic. */
function tap1(gy: usize, w: usize, gx: usize, C: i32, O: i32, first: bool): void {
  const wStep = <usize>C << 2;
  const zero = f32x4.splat(0);
  let c = 0;
  for (; c + 8 <= C; c += 8) {
    const cb = <usize>c << 2;
    let a0 = zero, a1 = zero;
    if (!first) {
      a0 = v128.load(gx + cb); a1 = v128.load(gx + cb, 16);
    }
    let wp = w + cb;
    for (let o = 0; o < O; o++) {
      const s = v128.load32_splat(gy + (<usize>o << 2));
      a0 = f32x4.add(a0, f32x4.mul(s, v128.load(wp)));
      a1 = f32x4.add(a1, f32x4.mul(s, v128.load(wp, 16)));
      wp += wStep;
    }
    v128.store(gx + cb, a0); v128.store(gx + cb, a1, 16);
  }
  for (; c + 4 <= C; c += 4) {
    const cb = <usize>c << 2;
    let a0 = first ? zero : v128.load(gx + cb);
    let wp = w + cb;
    for (let o = 0; o < O; o++) {
      a0 = f32x4.add(a0, f32x4.mul(v128.load32_splat(gy + (<usize>o << 2)), v128.load(wp)));
      wp += wStep;
    }
    v128.store(gx + cb, a0);
  }
  for (; c < C; c++) {
    const cb = <usize>c << 2;
    let a0: f32 = first ? 0 : load<f32>(gx + cb);
    let wp = w + cb;
    for (let o = 0; o < O; o++) {
      a0 += load<f32>(gy + (<usize>o << 2)) * load<f32>(wp);
      wp += wStep;
    }
    store<f32>(gx + cb, a0);
  }
}

/** Bit kx set when tap kx reaches input column ix (K <= 32). */
function kxMask(ix: i32, K: i32, stride: i32, pad: i32, Wo: i32): u32 {
  let m: u32 = 0;
  for (let kx = 0; kx < K; kx++) if (tapOut(ix, kx, stride, pad, Wo) >= 0) m |= (<u32>1) << kx;
  return m;
}

/**
 * Input gradient of np (1 or 4) pixels of row iy at columns ix + j*stride, which all have the same set of
 * valid taps (so pixel j reads output column ox + j): Σ over taps (ky, kx increasing) of tap1/tap4.
 */
function gradPixels(np: i32, gyT: usize, wr: usize, gxT: usize, iy: i32, ix: i32, C: i32, W: i32, O: i32, K: i32, stride: i32, pad: i32, Ho: i32, Wo: i32): void {
  const pixB = <usize>C << 2;
  const gx = gxT + <usize>(iy * W + ix) * pixB;
  const gxStep = <usize>stride * pixB;
  const tapB = <usize>O * pixB;
  let first = true;
  for (let ky = 0; ky < K; ky++) {
    const oy = tapOut(iy, ky, stride, pad, Ho);
    if (oy < 0) continue;
    for (let kx = 0; kx < K; kx++) {
      const ox = tapOut(ix, kx, stride, pad, Wo);
      if (ox < 0) continue;
      const gy = gyT + (<usize>(oy * Wo + ox) * <usize>O << 2);
      const w = wr + <usize>(ky * K + kx) * tapB;
      if (np == 4) tap4(gy, w, gx, gxStep, C, O, first);
      else tap1(gy, w, gx, C, O, first);
      first = false;
    }
  }
  if (first) for (let j = 0; j < np; j++) memory.fill(gx + <usize>j * gxStep, 0, pixB); // no tap reaches them
}

/**
 * One image: gxT [H*W][C] (overwritten) = input gradient from gyT [Ho*Wo][O] and wr [(ky*K+kx)*O+o][C].
 * Pixels are taken 4 at a time along a row (every stride-th column, same valid taps) so each loaded
 * weight vector serves 4 pixels; border pixels go one at a time.
 */
export function convInputGradImage(gyT: usize, wr: usize, gxT: usize, C: i32, H: i32, W: i32, O: i32, K: i32, stride: i32, pad: i32, Ho: i32, Wo: i32): void {
  for (let iy = 0; iy < H; iy++) {
    for (let r = 0; r < stride && r < W; r++) {
      let ix = r;
      while (ix < W) {
        let n = 1;
        if (K <= 32 && ix + 3 * stride < W) {
          const m = kxMask(ix, K, stride, pad, Wo);
          while (n < 4 && kxMask(ix + n * stride, K, stride, pad, Wo) == m) n++;
        }
        if (n < 4) n = 1;
        gradPixels(n, gyT, wr, gxT, iy, ix, C, W, O, K, stride, pad, Ho, Wo);
        ix += n * stride;
      }
    }
  }
}

// ---------------------------------------------------------------- conv input gradient by Winograd F(2×2, 3×3)
//
// With K = 3, stride 1 and pad 1 the input gradient is itself a 3×3, pad-1 convolution of gy with the
// kernel w'[c][o][i][j] = w[o][c][2-i][2-j]. Winograd's minimal filtering (Lavin and Gray, 2016) makes
// each 2×2 tile of gx from a 4×4 tile d of gy with 16 products per (o, c) instead of 36:
//   gx tile = A^T [ Σ_o (G w'[c][o] G^T) ⊙ (B^T d_o B) ] A
//   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1]   A^T = [1 1 1 0; 0 1 -1 -1]
// u [16][O][C] = G w' G^T comes prepared (conv.ts winogradWeightsInto); the sums over o are 16 matrix
// products, [tiles][O] · [O][C] for each of the 16 positions ξ of a tile, run by tap4 / tap1 as the direct
// kernel's taps are. C and O are multiples of 4 (vectors of 4 channels in the transforms).

/** The vector of 4 channels at byte ob of gyT row p when ok, else 0 (outside the image: the zero padding). */
// @ts-ignore: decorator
@inline function tapAt(p: usize, ok: bool): v128 {
  return ok ? v128.load(p) : f32x4.splat(0);
}

/** v [16][tiles][O] = B^T d B for every 2×2 tile of output (ty, tx) and channel o; d = gy rows 2ty-1..2ty+2, columns 2tx-1..2tx+2. */
function winogradInput(gyT: usize, v: usize, H: i32, W: i32, O: i32, th: i32, tw: i32): void {
  const rowB = <usize>O << 2;
  const xiB = <usize>(th * tw) * rowB;
  for (let ty = 0; ty < th; ty++) {
    const y0 = 2 * ty - 1;
    const r0 = y0 >= 0, r3 = y0 + 3 < H;
    const r1 = true, r2 = y0 + 2 < H;
    for (let tx = 0; tx < tw; tx++) {
      const x0 = 2 * tx - 1;
      const c0 = x0 >= 0, c3 = x0 + 3 < W;
      const c1 = true, c2 = x0 + 2 < W;
      // row pointers at column x0 (rows or columns outside the image are never read)
      const p0 = gyT + <usize>(y0 * W + x0) * rowB;
      const p1 = p0 + <usize>W * rowB;
      const p2 = p1 + <usize>W * rowB;
      const p3 = p2 + <usize>W * rowB;
      let dst = v + <usize>(ty * tw + tx) * rowB;
      const end = dst + rowB;
      let ob: usize = 0;
      for (; dst < end; dst += 16, ob += 16) {
        // columns j of B^T d: t0 = d0 - d2, t1 = d1 + d2, t2 = d2 - d1, t3 = d1 - d3
        let a = tapAt(p0 + ob, r0 && c0), b = tapAt(p1 + ob, r1 && c0), c = tapAt(p2 + ob, r2 && c0), d = tapAt(p3 + ob, r3 && c0);
        const t00 = f32x4.sub(a, c), t10 = f32x4.add(b, c), t20 = f32x4.sub(c, b), t30 = f32x4.sub(b, d);
        a = tapAt(p0 + rowB + ob, r0 && c1); b = tapAt(p1 + rowB + ob, r1 && c1); c = tapAt(p2 + rowB + ob, r2 && c1); d = tapAt(p3 + rowB + ob, r3 && c1);
        const t01 = f32x4.sub(a, c), t11 = f32x4.add(b, c), t21 = f32x4.sub(c, b), t31 = f32x4.sub(b, d);
        a = tapAt(p0 + 2 * rowB + ob, r0 && c2); b = tapAt(p1 + 2 * rowB + ob, r1 && c2); c = tapAt(p2 + 2 * rowB + ob, r2 && c2); d = tapAt(p3 + 2 * rowB + ob, r3 && c2);
        const t02 = f32x4.sub(a, c), t12 = f32x4.add(b, c), t22 = f32x4.sub(c, b), t32 = f32x4.sub(b, d);
        a = tapAt(p0 + 3 * rowB + ob, r0 && c3); b = tapAt(p1 + 3 * rowB + ob, r1 && c3); c = tapAt(p2 + 3 * rowB + ob, r2 && c3); d = tapAt(p3 + 3 * rowB + ob, r3 && c3);
        const t03 = f32x4.sub(a, c), t13 = f32x4.add(b, c), t23 = f32x4.sub(c, b), t33 = f32x4.sub(b, d);
        // rows i of (B^T d) B, stored at ξ = 4i + j
        v128.store(dst, f32x4.sub(t00, t02));
        v128.store(dst + xiB, f32x4.add(t01, t02));
        v128.store(dst + 2 * xiB, f32x4.sub(t02, t01));
        v128.store(dst + 3 * xiB, f32x4.sub(t01, t03));
        v128.store(dst + 4 * xiB, f32x4.sub(t10, t12));
        v128.store(dst + 5 * xiB, f32x4.add(t11, t12));
        v128.store(dst + 6 * xiB, f32x4.sub(t12, t11));
        v128.store(dst + 7 * xiB, f32x4.sub(t11, t13));
        v128.store(dst + 8 * xiB, f32x4.sub(t20, t22));
        v128.store(dst + 9 * xiB, f32x4.add(t21, t22));
        v128.store(dst + 10 * xiB, f32x4.sub(t22, t21));
        v128.store(dst + 11 * xiB, f32x4.sub(t21, t23));
        v128.store(dst + 12 * xiB, f32x4.sub(t30, t32));
        v128.store(dst + 13 * xiB, f32x4.add(t31, t32));
        v128.store(dst + 14 * xiB, f32x4.sub(t32, t31));
        v128.store(dst + 15 * xiB, f32x4.sub(t31, t33));
      }
    }
  }
}

/** gxT [H*W][C] (overwritten) = A^T m A for every tile and channel, the parts of tiles outside the image dropped. */
function winogradOutput(m: usize, gxT: usize, H: i32, W: i32, C: i32, th: i32, tw: i32): void {
  const rowB = <usize>C << 2;
  const xiB = <usize>(th * tw) * rowB;
  for (let ty = 0; ty < th; ty++) {
    const y = 2 * ty;
    const row1 = y + 1 < H;
    for (let tx = 0; tx < tw; tx++) {
      const x = 2 * tx;
      const col1 = x + 1 < W;
      const q00 = gxT + <usize>(y * W + x) * rowB;
      const q10 = q00 + <usize>W * rowB;
      let src = m + <usize>(ty * tw + tx) * rowB;
      const end = src + rowB;
      let cb: usize = 0;
      for (; src < end; src += 16, cb += 16) {
        // rows of A^T M per column j: s0 = (M0 + M1) + M2, s1 = (M1 - M2) - M3
        let a = v128.load(src), b = v128.load(src + 4 * xiB), c = v128.load(src + 8 * xiB), d = v128.load(src + 12 * xiB);
        const s00 = f32x4.add(f32x4.add(a, b), c), s10 = f32x4.sub(f32x4.sub(b, c), d);
        a = v128.load(src + xiB); b = v128.load(src + 5 * xiB); c = v128.load(src + 9 * xiB); d = v128.load(src + 13 * xiB);
        const s01 = f32x4.add(f32x4.add(a, b), c), s11 = f32x4.sub(f32x4.sub(b, c), d);
        a = v128.load(src + 2 * xiB); b = v128.load(src + 6 * xiB); c = v128.load(src + 10 * xiB); d = v128.load(src + 14 * xiB);
        const s02 = f32x4.add(f32x4.add(a, b), c), s12 = f32x4.sub(f32x4.sub(b, c), d);
        a = v128.load(src + 3 * xiB); b = v128.load(src + 7 * xiB); c = v128.load(src + 11 * xiB); d = v128.load(src + 15 * xiB);
        const s03 = f32x4.add(f32x4.add(a, b), c), s13 = f32x4.sub(f32x4.sub(b, c), d);
        // (A^T M) A
        v128.store(q00 + cb, f32x4.add(f32x4.add(s00, s01), s02));
        if (col1) v128.store(q00 + rowB + cb, f32x4.sub(f32x4.sub(s01, s02), s03));
        if (row1) {
          v128.store(q10 + cb, f32x4.add(f32x4.add(s10, s11), s12));
          if (col1) v128.store(q10 + rowB + cb, f32x4.sub(f32x4.sub(s11, s12), s13));
        }
      }
    }
  }
}

/**
 * One image: gxT [H*W][C] (overwritten) = the input gradient of a K = 3, stride-1, pad-1 conv (Ho = H,
 * Wo = W) from gyT [H*W][O] and u [16][O][C], by Winograd F(2×2, 3×3); v (16 * tiles * O floats) and
 * m (16 * tiles * C floats) are scratch, tiles = ceil(H/2) * ceil(W/2). C and O multiples of 4.
 * Each value of gx: the 16 sums over o (increasing) of tap4/tap1, then the fixed output transform.
 */
export function convInputGradWinograd(gyT: usize, u: usize, gxT: usize, v: usize, m: usize, C: i32, H: i32, W: i32, O: i32): void {
  const th = (H + 1) >> 1, tw = (W + 1) >> 1;
  const tiles = th * tw;
  winogradInput(gyT, v, H, W, O, th, tw);
  const vRow = <usize>O << 2, mRow = <usize>C << 2;
  for (let xi = 0; xi < 16; xi++) {
    const vx = v + <usize>(xi * tiles) * vRow;
    const mx = m + <usize>(xi * tiles) * mRow;
    const ux = u + <usize>xi * <usize>O * mRow;
    let t = 0;
    for (; t + 4 <= tiles; t += 4) tap4(vx + <usize>t * vRow, ux, mx + <usize>t * mRow, mRow, C, O, true);
    for (; t < tiles; t++) tap1(vx + <usize>t * vRow, ux, mx + <usize>t * mRow, C, O, true);
  }
  winogradOutput(m, gxT, H, W, C, th, tw);
}

// ---------------------------------------------------------------- linear

// Cache blocks over the rows of wT (floats; measured at B = 128, I = 6272, O = 2048)
const FORWARD_BLOCK = 32768; // 128 KiB
const INPUT_GRAD_BLOCK = 131072; // 512 KiB: more columns per block leave fewer partial groups of 4 when masked

/** Rows of wT [I][O] in a cache block of about `floats` floats: a multiple of 4, at least 4. */
// @ts-ignore: decorator
@inline function blockRows(O: i32, floats: i32): i32 {
  const r = floats / (O > 0 ? O : 1);
  return r > 4 ? r & ~3 : 4;
}

/**
 * acc [o, o + 4·NV) += Σ over the set bits k of mask (increasing) of v · src row k, v = the float32 at
 * vals + k·vStep (adds only where v == 1), NV vectors in registers; rows are rowB bytes apart.
 */
// @ts-ignore: decorator
@inline function maskedRows(NV: i32, mask: u64, mask2: u64, vals: usize, vStep: usize, src: usize, rowB: usize, acc: usize, o: i32, first: bool): void {
  const oB = <usize>o << 2;
  const a = acc + oB;
  const zero = f32x4.splat(0);
  let a0 = first ? zero : v128.load(a), a1 = zero, a2 = zero, a3 = zero, a4 = zero, a5 = zero, a6 = zero, a7 = zero;
  if (NV > 1 && !first) { a1 = v128.load(a, 16); a2 = v128.load(a, 32); a3 = v128.load(a, 48); }
  if (NV > 4 && !first) { a4 = v128.load(a, 64); a5 = v128.load(a, 80); a6 = v128.load(a, 96); a7 = v128.load(a, 112); }
  let m = mask;
  let base: usize = 0;
  while (true) {
    if (m == 0) {
      if (base != 0 || mask2 == 0) break;
      m = mask2; // the second 64 rows
      base = 64;
      continue;
    }
    const k = base + <usize>ctz(m);
    m &= m - 1;
    const g = src + k * rowB + oB;
    const v = load<f32>(vals + k * vStep);
    if (v == 1) {
      a0 = f32x4.add(a0, v128.load(g));
      if (NV > 1) { a1 = f32x4.add(a1, v128.load(g, 16)); a2 = f32x4.add(a2, v128.load(g, 32)); a3 = f32x4.add(a3, v128.load(g, 48)); }
      if (NV > 4) { a4 = f32x4.add(a4, v128.load(g, 64)); a5 = f32x4.add(a5, v128.load(g, 80)); a6 = f32x4.add(a6, v128.load(g, 96)); a7 = f32x4.add(a7, v128.load(g, 112)); }
    } else {
      const vv = f32x4.splat(v);
      a0 = f32x4.add(a0, f32x4.mul(vv, v128.load(g)));
      if (NV > 1) { a1 = f32x4.add(a1, f32x4.mul(vv, v128.load(g, 16))); a2 = f32x4.add(a2, f32x4.mul(vv, v128.load(g, 32))); a3 = f32x4.add(a3, f32x4.mul(vv, v128.load(g, 48))); }
      if (NV > 4) { a4 = f32x4.add(a4, f32x4.mul(vv, v128.load(g, 64))); a5 = f32x4.add(a5, f32x4.mul(vv, v128.load(g, 80))); a6 = f32x4.add(a6, f32x4.mul(vv, v128.load(g, 96))); a7 = f32x4.add(a7, f32x4.mul(vv, v128.load(g, 112))); }
    }
  }
  v128.store(a, a0);
  if (NV > 1) { v128.store(a, a1, 16); v128.store(a, a2, 32); v128.store(a, a3, 48); }
  if (NV > 4) { v128.store(a, a4, 64); v128.store(a, a5, 80); v128.store(a, a6, 96); v128.store(a, a7, 112); }
}

/** maskedRows over all O columns: blocks of 32 and 16 columns in registers, the rest (< 16) by axpy per set bit. */
function maskedRowsAll(mask: u64, mask2: u64, vals: usize, vStep: usize, src: usize, rowB: usize, acc: usize, O: i32, first: bool): void {
  let o = 0;
  for (; o + 32 <= O; o += 32) maskedRows(8, mask, mask2, vals, vStep, src, rowB, acc, o, first);
  for (; o + 16 <= O; o += 16) maskedRows(4, mask, mask2, vals, vStep, src, rowB, acc, o, first);
  if (o == O) return;
  const oB = <usize>o << 2;
  if (first) memory.fill(acc + oB, 0, <usize>(O - o) << 2);
  let m = mask;
  let base: usize = 0;
  while (true) {
    if (m == 0) {
      if (base != 0 || mask2 == 0) break;
      m = mask2; // the second 64 rows
      base = 64;
      continue;
    }
    const k = base + <usize>ctz(m);
    m &= m - 1;
    axpy(acc + oB, src + k * rowB + oB, load<f32>(vals + k * vStep), O - o);
  }
}

/** Bit k set where the float32 at p + k·step (k < n <= 64) is not ±0. */
// @ts-ignore: decorator
@inline function nonzeroMask(p: usize, step: usize, n: i32): u64 {
  let m: u64 = 0;
  for (let k = 0; k < n; k++) if ((load<u32>(p + <usize>k * step) << 1) != 0) m |= (<u64>1) << <u64>k;
  return m;
}

/** Rows of wT per block of the register path of linearForward (a multiple of 64; 128 rows of 2048 floats: 1 MiB). */
const FORWARD_REG_ROWS = 128;

/**
 * Rows b in [b0, b1), columns [o0, o1) of y [B][O] (overwritten) = Σ_{i: x[b][i] != 0} (i increasing) x[b][i] · wT[i][:].
 * Blocked over i so a block of wT stays in cache while the rows pass over it; a split over columns reads each
 * part of wT once. With O >= 128, a row's nonzeros in a block are summed in registers (32 columns at a time,
 * two 64-bit masks); narrower rows scatter (axpy per nonzero): the same float32 adds, i increasing, either way.
 */
export function linearForward(x: usize, wT: usize, y: usize, I: i32, O: i32, b0: i32, b1: i32, o0: i32, o1: i32): void {
  if (b1 <= b0 || o1 <= o0) return;
  const oB = <usize>O << 2;
  const iB = <usize>I << 2;
  const cB = <usize>o0 << 2; // the first column's byte offset in a row
  const W = o1 - o0;
  if (O < 128 || I <= 0) {
    for (let b = b0; b < b1; b++) memory.fill(y + <usize>b * oB + cB, 0, <usize>W << 2);
    const IB = blockRows(O, FORWARD_BLOCK);
    for (let i0 = 0; i0 < I; i0 += IB) {
      const i1 = min(I, i0 + IB);
      for (let b = b0; b < b1; b++) {
        const xr = x + <usize>b * iB;
        const yr = y + <usize>b * oB + cB;
        for (let i = i0; i < i1; i++) {
          const v = load<f32>(xr + (<usize>i << 2));
          if (v != 0) axpy(yr, wT + <usize>i * oB + cB, v, W);
        }
      }
    }
    return;
  }
  for (let i0 = 0; i0 < I; i0 += FORWARD_REG_ROWS) {
    const i1 = min(I, i0 + FORWARD_REG_ROWS);
    for (let b = b0; b < b1; b++) {
      const xr = x + <usize>b * iB;
      const yr = y + <usize>b * oB + cB;
      for (let c = i0; c < i1; c += 128) {
        const n = min(128, i1 - c);
        const first = c == 0;
        const xc = xr + (<usize>c << 2);
        const m = nonzeroMask(xc, 4, min(64, n));
        const m2 = n > 64 ? nonzeroMask(xc + 256, 4, n - 64) : 0;
        if (m == 0 && m2 == 0 && !first) continue;
        maskedRowsAll(m, m2, xc, 4, wT + <usize>c * oB + cB, oB, yr, W, first);
      }
    }
  }
}

/**
 * Rows i in [i0, i1) of gwT [I][O] (overwritten) = Σ_b (increasing) over nonzero x[b][i] of x[b][i] · gy[b][:].
 * With O >= 128, 128 rows b at a time summed in registers (32 columns at a time) in b order; narrower rows
 * scatter (axpy per nonzero): the same float32 adds either way.
 */
export function linearWeightGrad(x: usize, gy: usize, gwT: usize, B: i32, I: i32, O: i32, i0: i32, i1: i32): void {
  if (i1 <= i0) return;
  const oB = <usize>O << 2;
  const iB = <usize>I << 2;
  if (O < 128) {
    // narrow rows (measured: FC100 at B = 128 ran 0.7x as fast in registers): the scatter, same adds
    memory.fill(gwT + <usize>i0 * oB, 0, <usize>(i1 - i0) * oB);
    for (let i = i0; i < i1; i++) {
      const row = gwT + <usize>i * oB;
      const xc = x + (<usize>i << 2);
      for (let b = 0; b < B; b++) {
        const v = load<f32>(xc + <usize>b * iB);
        if (v != 0) axpy(row, gy + <usize>b * oB, v, O);
      }
    }
    return;
  }
  for (let i = i0; i < i1; i++) {
    const row = gwT + <usize>i * oB;
    const xc = x + (<usize>i << 2);
    for (let c = 0; c < max(B, 1); c += 128) {
      const n = min(128, B - c);
      const first = c == 0;
      const m = n > 0 ? nonzeroMask(xc + <usize>c * iB, iB, min(64, n)) : 0;
      const m2 = n > 64 ? nonzeroMask(xc + <usize>(c + 64) * iB, iB, n - 64) : 0;
      if (m == 0 && m2 == 0 && !first) continue;
      maskedRowsAll(m, m2, xc + <usize>c * iB, iB, gy + <usize>c * oB, oB, row, O, first);
    }
  }
}

/** Whether gx[b][i] is computed: no mask (m == 0) or mask row m keeps column i (nonzero). */
// @ts-ignore: decorator
@inline function kept(m: usize, i: i32): bool {
  return m == 0 || load<f32>(m + (<usize>i << 2)) != 0;
}

/** gx row x at column i = v where mask row m keeps it, else 0. */
// @ts-ignore: decorator
@inline function put(x: usize, m: usize, i: i32, v: f32): void {
  store<f32>(x + (<usize>i << 2), kept(m, i) ? v : 0);
}

/**
 * Dot products of 2 gy rows (g0, g1) with the wT rows of 4 columns j0..j3: gx_r[j] = Σ_o g_r[o] · wT[j][o],
 * stored in gx rows x0, x1 (0 where their mask rows m0, m1 drop the column). Registers: 2 × 4 accumulators.
 */
function dot2x4(g0: usize, g1: usize, wT: usize, O: i32, j0: i32, j1: i32, j2: i32, j3: i32, x0: usize, m0: usize, x1: usize, m1: usize): void {
  const oB = <usize>O << 2;
  const w0 = wT + <usize>j0 * oB, w1 = wT + <usize>j1 * oB, w2 = wT + <usize>j2 * oB, w3 = wT + <usize>j3 * oB;
  const zero = f32x4.splat(0);
  let a00 = zero, a01 = zero, a02 = zero, a03 = zero, a10 = zero, a11 = zero, a12 = zero, a13 = zero;
  const o4 = O & ~3;
  const end = <usize>o4 << 2;
  for (let ob: usize = 0; ob < end; ob += 16) {
    const x = v128.load(g0 + ob);
    const y = v128.load(g1 + ob);
    const v0 = v128.load(w0 + ob);
    a00 = f32x4.add(a00, f32x4.mul(x, v0));
    a10 = f32x4.add(a10, f32x4.mul(y, v0));
    const v1 = v128.load(w1 + ob);
    a01 = f32x4.add(a01, f32x4.mul(x, v1));
    a11 = f32x4.add(a11, f32x4.mul(y, v1));
    const v2 = v128.load(w2 + ob);
    a02 = f32x4.add(a02, f32x4.mul(x, v2));
    a12 = f32x4.add(a12, f32x4.mul(y, v2));
    const v3 = v128.load(w3 + ob);
    a03 = f32x4.add(a03, f32x4.mul(x, v3));
    a13 = f32x4.add(a13, f32x4.mul(y, v3));
  }
  put(x0, m0, j0, dotTail(hsum(a00), g0, w0, o4, O));
  put(x0, m0, j1, dotTail(hsum(a01), g0, w1, o4, O));
  put(x0, m0, j2, dotTail(hsum(a02), g0, w2, o4, O));
  put(x0, m0, j3, dotTail(hsum(a03), g0, w3, o4, O));
  put(x1, m1, j0, dotTail(hsum(a10), g1, w0, o4, O));
  put(x1, m1, j1, dotTail(hsum(a11), g1, w1, o4, O));
  put(x1, m1, j2, dotTail(hsum(a12), g1, w2, o4, O));
  put(x1, m1, j3, dotTail(hsum(a13), g1, w3, o4, O));
}

/** dot2x4 for one gy row (its 4 columns all kept). */
function dot1x4(g: usize, wT: usize, O: i32, j0: i32, j1: i32, j2: i32, j3: i32, x: usize): void {
  const oB = <usize>O << 2;
  const w0 = wT + <usize>j0 * oB, w1 = wT + <usize>j1 * oB, w2 = wT + <usize>j2 * oB, w3 = wT + <usize>j3 * oB;
  const zero = f32x4.splat(0);
  let a0 = zero, a1 = zero, a2 = zero, a3 = zero;
  const o4 = O & ~3;
  const end = <usize>o4 << 2;
  for (let ob: usize = 0; ob < end; ob += 16) {
    const v = v128.load(g + ob);
    a0 = f32x4.add(a0, f32x4.mul(v, v128.load(w0 + ob)));
    a1 = f32x4.add(a1, f32x4.mul(v, v128.load(w1 + ob)));
    a2 = f32x4.add(a2, f32x4.mul(v, v128.load(w2 + ob)));
    a3 = f32x4.add(a3, f32x4.mul(v, v128.load(w3 + ob)));
  }
  store<f32>(x + (<usize>j0 << 2), dotTail(hsum(a0), g, w0, o4, O));
  store<f32>(x + (<usize>j1 << 2), dotTail(hsum(a1), g, w1, o4, O));
  store<f32>(x + (<usize>j2 << 2), dotTail(hsum(a2), g, w2, o4, O));
  store<f32>(x + (<usize>j3 << 2), dotTail(hsum(a3), g, w3, o4, O));
}

/**
 * Columns [c0, c1) of two gx rows (x0, x1 from gy rows g0, g1; mask rows m0, m1, 0 = none): the columns
 * either row keeps, 4 at a time, go to dot2x4; columns both drop are written as 0.
 */
function rowPair(g0: usize, g1: usize, wT: usize, O: i32, x0: usize, m0: usize, x1: usize, m1: usize, c0: i32, c1: i32): void {
  let n = 0;
  let j0 = 0, j1 = 0, j2 = 0;
  for (let i = c0; i < c1; i++) {
    if (!kept(m0, i) && !kept(m1, i)) {
      store<f32>(x0 + (<usize>i << 2), 0);
      store<f32>(x1 + (<usize>i << 2), 0);
      continue;
    }
    if (n == 0) j0 = i;
    else if (n == 1) j1 = i;
    else if (n == 2) j2 = i;
    else {
      dot2x4(g0, g1, wT, O, j0, j1, j2, i, x0, m0, x1, m1);
      n = -1;
    }
    n++;
  }
  // 1 to 3 columns left: repeat the last one (computed twice, the same bits stored twice)
  if (n == 1) dot2x4(g0, g1, wT, O, j0, j0, j0, j0, x0, m0, x1, m1);
  else if (n == 2) dot2x4(g0, g1, wT, O, j0, j1, j1, j1, x0, m0, x1, m1);
  else if (n == 3) dot2x4(g0, g1, wT, O, j0, j1, j2, j2, x0, m0, x1, m1);
}

/** rowPair for one row: its kept columns, 4 at a time, go to dot1x4. */
function rowSingle(g: usize, wT: usize, O: i32, x: usize, m: usize, c0: i32, c1: i32): void {
  let n = 0;
  let j0 = 0, j1 = 0, j2 = 0;
  for (let i = c0; i < c1; i++) {
    if (!kept(m, i)) {
      store<f32>(x + (<usize>i << 2), 0);
      continue;
    }
    if (n == 0) j0 = i;
    else if (n == 1) j1 = i;
    else if (n == 2) j2 = i;
    else {
      dot1x4(g, wT, O, j0, j1, j2, i, x);
      n = -1;
    }
    n++;
  }
  if (n == 1) dot1x4(g, wT, O, j0, j0, j0, j0, x);
  else if (n == 2) dot1x4(g, wT, O, j0, j1, j1, j1, x);
  else if (n == 3) dot1x4(g, wT, O, j0, j1, j2, j2, x);
}

/**
 * Rows b in [b0, b1), columns [i0, i1) of gx [B][I] (overwritten) = gy [B][O] · w [O][I], as dot products of gy rows with
 * rows of wT = w^T [I][O]. Each element is one dot product: a 4-lane accumulator
 * over o (in order), lanes summed as (0+1)+(2+3), then the scalar tail o >= O & ~3, whatever the row
 * pairing or column gathering below.
 * mask != 0: byte offset of a float32 [maskRows][I]; entries with mask[b % maskRows][i] == 0 are written
 * as 0 (computed only where the paired row keeps the column).
 */
export function linearInputGrad(gy: usize, wT: usize, gx: usize, B: i32, O: i32, I: i32, b0: i32, b1: i32, mask: usize, maskRows: i32, i0: i32, i1: i32): void {
  const oB = <usize>O << 2;
  const iB = <usize>I << 2;
  const mr = maskRows > 0 ? maskRows : 1;
  const IB = blockRows(O, INPUT_GRAD_BLOCK); // a block of wT rows stays in cache while the rows of gy pass over it
  for (let c0 = i0; c0 < i1; c0 += IB) {
    const c1 = min(i1, c0 + IB);
    if (mask == 0) {
      let b = b0;
      for (; b + 2 <= b1; b += 2) rowPair(gy + <usize>b * oB, gy + <usize>(b + 1) * oB, wT, O, gx + <usize>b * iB, 0, gx + <usize>(b + 1) * iB, 0, c0, c1);
      if (b < b1) rowSingle(gy + <usize>b * oB, wT, O, gx + <usize>b * iB, 0, c0, c1);
      continue;
    }
    // rows r and r + maskRows share a mask row: pair them (same kept columns); a row left without
    // such a partner is paired with the previous one left (union of their kept columns)
    let pend = -1;
    for (let r0 = b0; r0 < b1 && r0 < b0 + mr; r0++) {
      const m = mask + <usize>(r0 % mr) * iB;
      let r = r0;
      for (; r + mr < b1; r += 2 * mr) rowPair(gy + <usize>r * oB, gy + <usize>(r + mr) * oB, wT, O, gx + <usize>r * iB, m, gx + <usize>(r + mr) * iB, m, c0, c1);
      if (r >= b1) continue;
      if (pend < 0) {
        pend = r;
        continue;
      }
      rowPair(gy + <usize>pend * oB, gy + <usize>r * oB, wT, O, gx + <usize>pend * iB, mask + <usize>(pend % mr) * iB, gx + <usize>r * iB, m, c0, c1);
      pend = -1;
    }
    if (pend >= 0) rowSingle(gy + <usize>pend * oB, wT, O, gx + <usize>pend * iB, mask + <usize>(pend % mr) * iB, c0, c1);
  }
}

// ---------------------------------------------------------------- multi-step neuron (Eqs. 2-16)
//
// The loops of core/neuron.ts neuronForwardInto / neuronBackwardInto over neurons [lo, hi) of n per step,
// time-major [T][n], two neurons per f64x2 vector (one in the tail). The arithmetic is core/scalar.ts's
// own (neuronStep, neuronFire, neuronGradStep, chargeGradK), compiled to f64x2 lanes by
// scripts/wasm-equations.mjs; values are read from and rounded to float32 as core's typed arrays do.
// Bitwise equal to core's loops: test/cpu/wasm-neuron.test.ts. kind: 0 IF, 1 LIF, 2 PLIF; flags are 0 or 1.

/** `lanes` (2 or 1) float32 values at p as float64 lanes (a missing lane is 0). */
// @ts-ignore: decorator
@inline function loadF32(p: usize, lanes: i32): v128 {
  return f64x2.promote_low_f32x4(lanes == 2 ? v128.load64_zero(p) : v128.load32_zero(p));
}

/** The first `lanes` lanes of a, rounded to float32, stored at p. */
// @ts-ignore: decorator
@inline function storeF32(p: usize, a: v128, lanes: i32): void {
  const r = f32x4.demote_f64x2_zero(a);
  if (lanes == 2) v128.store64_lane(p, r, 0);
  else v128.store32_lane(p, r, 0);
}

// @ts-ignore: decorator
@inline function loadF64(p: usize, lanes: i32): v128 {
  return lanes == 2 ? v128.load(p) : v128.load64_zero(p);
}

// @ts-ignore: decorator
@inline function storeF64(p: usize, a: v128, lanes: i32): void {
  if (lanes == 2) v128.store(p, a);
  else v128.store64_lane(p, a, 0);
}

/** One step forward of `lanes` neurons at byte offset j of step t (first: t = 0, V_{-1} = Vr). */
// @ts-ignore: decorator
@inline function neuronForwardAt(j: usize, first: bool, lanes: i32, x: usize, s: usize, h: usize, v: usize, rowB: usize, kind: i32, decayInput: i32, hard: i32, K: v128, VR: v128, VTH: v128): void {
  const vPrev = first ? restPotential(VR) : loadF32(v + j - rowB, lanes);
  const hv = neuronStep(1, kind, decayInput, hard, vPrev, loadF32(x + j, lanes), K, VR, VTH); // H_t, Eqs. 2, 5, 6
  storeF32(h + j, hv, lanes);
  storeF32(s + j, neuronFire(0, hard, hv, VR, VTH), lanes); // S_t, Eq. 3
  storeF32(v + j, neuronFire(2, hard, hv, VR, VTH), lanes); // V_t, Eq. 4
}

/** Forward over t = 0..T-1 for neurons [lo, hi): H, S and V into h, s, v (core/neuron.ts neuronForwardInto). */
export function neuronForward(x: usize, s: usize, h: usize, v: usize, T: i32, n: i32, lo: i32, hi: i32, kind: i32, decayInput: i32, hard: i32, k: f64, vr: f64, vth: f64): void {
  const K = f64x2.splat(k);
  const VR = f64x2.splat(vr);
  const VTH = f64x2.splat(vth);
  const rowB = <usize>n << 2;
  for (let t = 0; t < T; t++) {
    const o = <usize>t * rowB;
    let i = lo;
    for (; i + 2 <= hi; i += 2) neuronForwardAt(o + (<usize>i << 2), t == 0, 2, x, s, h, v, rowB, kind, decayInput, hard, K, VR, VTH);
    if (i < hi) neuronForwardAt(o + (<usize>i << 2), t == 0, 1, x, s, h, v, rowB, kind, decayInput, hard, K, VR, VTH);
  }
}

/**
 * One step backward of `lanes` neurons at byte offset j of step t: dL/dH_t over the float64 dL/dH_{t+1} at q,
 * dL/dX_t into gx; returns dL/dH_t dH_t/dk (Eqs. 15-16) per lane (0 in a missing lane).
 */
// @ts-ignore: decorator
@inline function neuronBackwardAt(j: usize, q: usize, first: bool, lanes: i32, x: usize, s: usize, h: usize, v: usize, gs: usize, gx: usize, rowB: usize, kind: i32, decayInput: i32, hard: i32, detach: i32, sgCode: i32, DHDV: v128, DHDX: v128, VR: v128, VTH: v128, ALPHA: v128): v128 {
  const zero = f64x2.splat(0); // no loss on V
  const g = neuronGradStep(loadF64(q, lanes), loadF32(gs + j, lanes), zero, loadF32(h + j, lanes), loadF32(s + j, lanes), DHDV, hard, detach, VR, VTH, sgCode, ALPHA); // Eqs. 8-13
  storeF64(q, g, lanes);
  storeF32(gx + j, f64x2.mul(g, DHDX), lanes); // Eq. 14
  const vPrev = first ? restPotential(VR) : loadF32(v + j - rowB, lanes);
  return f64x2.mul(g, chargeGradK(kind, decayInput, vPrev, loadF32(x + j, lanes), VR));
}

/**
 * Backward over t = T-1..0 for neurons [lo, hi) (core/neuron.ts neuronBackwardInto with no loss on V): dL/dH_t
 * into the float64 scratch gH [n] (zeroed first), dL/dX_t into gx; returns dL/dk summed over t (descending)
 * and i (ascending) as core sums it. dHdV and dHdX are core's chargeGradV and chargeGradX of the config.
 */
export function neuronBackward(x: usize, s: usize, h: usize, v: usize, gs: usize, gx: usize, gH: usize, T: i32, n: i32, lo: i32, hi: i32, kind: i32, decayInput: i32, hard: i32, detach: i32, sgCode: i32, dHdV: f64, dHdX: f64, vr: f64, vth: f64, alpha: f64): f64 {
  const DHDV = f64x2.splat(dHdV);
  const DHDX = f64x2.splat(dHdX);
  const VR = f64x2.splat(vr);
  const VTH = f64x2.splat(vth);
  const ALPHA = f64x2.splat(alpha);
  const rowB = <usize>n << 2;
  for (let i = lo; i < hi; i++) store<f64>(gH + (<usize>i << 3), 0.0);
  let gradK: f64 = 0;
  for (let t = T - 1; t >= 0; t--) {
    const o = <usize>t * rowB;
    let i = lo;
    for (; i + 2 <= hi; i += 2) {
      const p = neuronBackwardAt(o + (<usize>i << 2), gH + (<usize>i << 3), t == 0, 2, x, s, h, v, gs, gx, rowB, kind, decayInput, hard, detach, sgCode, DHDV, DHDX, VR, VTH, ALPHA);
      gradK += f64x2.extract_lane(p, 0);
      gradK += f64x2.extract_lane(p, 1);
    }
    if (i < hi) gradK += f64x2.extract_lane(neuronBackwardAt(o + (<usize>i << 2), gH + (<usize>i << 3), t == 0, 1, x, s, h, v, gs, gx, rowB, kind, decayInput, hard, detach, sgCode, DHDV, DHDX, VR, VTH, ALPHA), 0);
  }
  return gradK;
}

// ---------------------------------------------------------------- dropout

/** y[j] = x[j] · mask[j mod n] for j in [lo, hi): one float32 product each, four per f32x4. */
export function dropoutApply(x: usize, mask: usize, y: usize, n: i32, lo: i32, hi: i32): void {
  let j = lo;
  let m = lo % n;
  while (j < hi) {
    const end = min(hi, j + n - m);
    for (; j + 4 <= end; j += 4, m += 4) v128.store(y + (<usize>j << 2), f32x4.mul(v128.load(x + (<usize>j << 2)), v128.load(mask + (<usize>m << 2))));
    for (; j < end; j++, m++) store<f32>(y + (<usize>j << 2), load<f32>(x + (<usize>j << 2)) * load<f32>(mask + (<usize>m << 2)));
    m = 0;
  }
}

// ---------------------------------------------------------------- health check

/**
 * How many of x[0..n) are not within [-lim, lim]: NaN, an infinity, or a magnitude above lim (lim >= 0;
 * float32 max counts exactly the non-finite values). An exact count, whatever the order of the lanes.
 */
export function countOutside(x: usize, n: i32, lim: f32): i32 {
  const L = f32x4.splat(lim);
  let acc = i32x4.splat(0);
  let k = 0;
  for (; k + 4 <= n; k += 4) {
    // inside: |x| <= lim (false for NaN); the mask is -1 where outside
    const inside = f32x4.le(f32x4.abs(v128.load(x + (<usize>k << 2))), L);
    acc = i32x4.sub(acc, v128.not(inside));
  }
  let bad = i32x4.extract_lane(acc, 0) + i32x4.extract_lane(acc, 1) + i32x4.extract_lane(acc, 2) + i32x4.extract_lane(acc, 3);
  for (; k < n; k++) if (!(Mathf.abs(load<f32>(x + (<usize>k << 2))) <= lim)) bad++;
  return bad;
}

// ---------------------------------------------------------------- sum over time

/**
 * y[j] = sum over t of x[t*n + j], for j in [0, m) of the arrays starting at x and y: float32 adds in t order
 * from 0, as kernels.ts sumT (each of its float64 adds of two float32 values, rounded to float32, is the
 * float32 add). Four vectors at a time, then one, then single values.
 */
export function sumT(x: usize, y: usize, T: i32, n: i32, m: i32): void {
  const row = <usize>n << 2;
  let j = 0;
  for (; j + 16 <= m; j += 16) {
    const p = x + (<usize>j << 2);
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let t = 0; t < T; t++) {
      const q = p + <usize>t * row;
      a0 = f32x4.add(a0, v128.load(q));
      a1 = f32x4.add(a1, v128.load(q, 16));
      a2 = f32x4.add(a2, v128.load(q, 32));
      a3 = f32x4.add(a3, v128.load(q, 48));
    }
    const d = y + (<usize>j << 2);
    v128.store(d, a0);
    v128.store(d, a1, 16);
    v128.store(d, a2, 32);
    v128.store(d, a3, 48);
  }
  for (; j + 4 <= m; j += 4) {
    const p = x + (<usize>j << 2);
    let a = f32x4.splat(0);
    for (let t = 0; t < T; t++) a = f32x4.add(a, v128.load(p + <usize>t * row));
    v128.store(y + (<usize>j << 2), a);
  }
  for (; j < m; j++) {
    const p = x + (<usize>j << 2);
    let a: f32 = 0;
    for (let t = 0; t < T; t++) a += load<f32>(p + <usize>t * row);
    store<f32>(y + (<usize>j << 2), a);
  }
}

// ---------------------------------------------------------------- max pooling

/**
 * Max pooling of planes [p0, p1): x [P][H][W] -> y, am [P][Ho][Wo], without tie draws. Each output is the
 * first of its window's maxima in row-major order (v > best from -Infinity, as kernels.ts maxPool: a
 * window of NaNs gives -Infinity at index 0) and am its index ky*K + kx, as a float. Windows of 2x2 with
 * stride 2 take four outputs per f32x4 with the same compare-and-select sequence per lane.
 */
export function maxPool(x: usize, y: usize, am: usize, H: i32, W: i32, Ho: i32, Wo: i32, K: i32, s: i32, p0: i32, p1: i32): void {
  const NEG = f32x4.splat(-Infinity);
  const A1 = f32x4.splat(1);
  const A2 = f32x4.splat(2);
  const A3 = f32x4.splat(3);
  const fast = K == 2 && s == 2;
  for (let p = p0; p < p1; p++) {
    const xb = x + (<usize>(p * H * W) << 2);
    const ob = <usize>(p * Ho * Wo) << 2;
    for (let oy = 0; oy < Ho; oy++) {
      let ox = 0;
      const row = ob + (<usize>(oy * Wo) << 2);
      if (fast) {
        const r0 = xb + (<usize>(oy * 2 * W) << 2);
        const r1 = r0 + (<usize>W << 2);
        for (; ox + 4 <= Wo; ox += 4) {
          const q0 = r0 + (<usize>(ox * 2) << 2);
          const q1 = r1 + (<usize>(ox * 2) << 2);
          const a = v128.load(q0);
          const b = v128.load(q0, 16);
          const c = v128.load(q1);
          const d = v128.load(q1, 16);
          let best = NEG;
          let arg = f32x4.splat(0);
          const t0 = v128.shuffle<f32>(a, b, 0, 2, 4, 6); // (ky, kx) = (0, 0)
          let m = f32x4.gt(t0, best);
          best = v128.bitselect(t0, best, m);
          const t1 = v128.shuffle<f32>(a, b, 1, 3, 5, 7); // (0, 1)
          m = f32x4.gt(t1, best);
          best = v128.bitselect(t1, best, m);
          arg = v128.bitselect(A1, arg, m);
          const t2 = v128.shuffle<f32>(c, d, 0, 2, 4, 6); // (1, 0)
          m = f32x4.gt(t2, best);
          best = v128.bitselect(t2, best, m);
          arg = v128.bitselect(A2, arg, m);
          const t3 = v128.shuffle<f32>(c, d, 1, 3, 5, 7); // (1, 1)
          m = f32x4.gt(t3, best);
          best = v128.bitselect(t3, best, m);
          arg = v128.bitselect(A3, arg, m);
          v128.store(y + row + (<usize>ox << 2), best);
          v128.store(am + row + (<usize>ox << 2), arg);
        }
      }
      for (; ox < Wo; ox++) {
        let best: f32 = -Infinity;
        let arg = 0;
        for (let ky = 0; ky < K; ky++) {
          const r = xb + (<usize>((oy * s + ky) * W + ox * s) << 2);
          for (let kx = 0; kx < K; kx++) {
            const v = load<f32>(r + (<usize>kx << 2));
            if (v > best) {
              best = v;
              arg = ky * K + kx;
            }
          }
        }
        store<f32>(y + row + (<usize>ox << 2), best);
        store<f32>(am + row + (<usize>ox << 2), <f32>arg);
      }
    }
  }
}

/**
 * The gradient of max pooling over planes [p0, p1): gx [P][H][W] = 0, then each gy [P][Ho][Wo] added to
 * the input its am picked, in the order of kernels.ts maxPoolBackward (0 + g, so a -0 arrives as +0).
 * Windows of 2x2 with stride 2 do not overlap: four outputs per f32x4, each of the 16 inputs under them
 * getting 0 + g or 0 from a lane select.
 */
export function maxPoolBackward(gy: usize, am: usize, gx: usize, H: i32, W: i32, Ho: i32, Wo: i32, K: i32, s: i32, p0: i32, p1: i32): void {
  memory.fill(gx + (<usize>(p0 * H * W) << 2), 0, <usize>((p1 - p0) * H * W) << 2);
  const Z = f32x4.splat(0);
  const fast = K == 2 && s == 2;
  for (let p = p0; p < p1; p++) {
    const gb = gx + (<usize>(p * H * W) << 2);
    const ob = <usize>(p * Ho * Wo) << 2;
    for (let oy = 0; oy < Ho; oy++) {
      let ox = 0;
      const row = ob + (<usize>(oy * Wo) << 2);
      if (fast) {
        const r0 = gb + (<usize>(oy * 2 * W) << 2);
        const r1 = r0 + (<usize>W << 2);
        for (; ox + 4 <= Wo; ox += 4) {
          const g = v128.load(gy + row + (<usize>ox << 2));
          const a = v128.load(am + row + (<usize>ox << 2));
          const t0 = f32x4.add(Z, v128.and(g, f32x4.eq(a, f32x4.splat(0)))); // 0 + g where the tap was picked, else 0 + 0
          const t1 = f32x4.add(Z, v128.and(g, f32x4.eq(a, f32x4.splat(1))));
          const t2 = f32x4.add(Z, v128.and(g, f32x4.eq(a, f32x4.splat(2))));
          const t3 = f32x4.add(Z, v128.and(g, f32x4.eq(a, f32x4.splat(3))));
          const q0 = r0 + (<usize>(ox * 2) << 2);
          const q1 = r1 + (<usize>(ox * 2) << 2);
          v128.store(q0, v128.shuffle<f32>(t0, t1, 0, 4, 1, 5));
          v128.store(q0, v128.shuffle<f32>(t0, t1, 2, 6, 3, 7), 16);
          v128.store(q1, v128.shuffle<f32>(t2, t3, 0, 4, 1, 5));
          v128.store(q1, v128.shuffle<f32>(t2, t3, 2, 6, 3, 7), 16);
        }
      }
      for (; ox < Wo; ox++) {
        const a = <i32>load<f32>(am + row + (<usize>ox << 2));
        const ky = a / K;
        const at = gb + (<usize>((oy * s + ky) * W + ox * s + (a - ky * K)) << 2);
        store<f32>(at, load<f32>(at) + load<f32>(gy + row + (<usize>ox << 2)));
      }
    }
  }
}

// ---------------------------------------------------------------- Adam

/** Adam on `lanes` values at byte offset j (core/scalar.ts adamFirstMoment, adamSecondMoment, adamParam). */
// @ts-ignore: decorator
@inline function adamAt(j: usize, lanes: i32, p: usize, g: usize, m: usize, v: usize, B1: v128, B2: v128, E: v128, S: v128, Q: v128): void {
  const gj = loadF32(g + j, lanes);
  const mj = adamFirstMoment(loadF32(m + j, lanes), gj, B1);
  const vj = adamSecondMoment(loadF32(v + j, lanes), gj, B2);
  storeF32(m + j, mj, lanes);
  storeF32(v + j, vj, lanes);
  storeF32(p + j, adamParam(loadF32(p + j, lanes), mj, vj, S, Q, E), lanes); // m' and v' before their rounding
}

/**
 * Adam over values [lo, hi), as kernels.ts adam: core/scalar.ts's moments and update in float64 from the
 * float32 values, compiled to f64x2 lanes by scripts/wasm-equations.mjs, two values per vector.
 */
export function adam(p: usize, g: usize, m: usize, v: usize, lo: i32, hi: i32, b1: f64, b2: f64, eps: f64, stepSize: f64, sqrtBc2: f64): void {
  const B1 = f64x2.splat(b1);
  const B2 = f64x2.splat(b2);
  const E = f64x2.splat(eps);
  const S = f64x2.splat(stepSize);
  const Q = f64x2.splat(sqrtBc2);
  let i = lo;
  for (; i + 2 <= hi; i += 2) adamAt(<usize>i << 2, 2, p, g, m, v, B1, B2, E, S, Q);
  if (i < hi) adamAt(<usize>i << 2, 1, p, g, m, v, B1, B2, E, S, Q);
}

// ---------------------------------------------------------------- transpose

/**
 * dst [cols][rows] = src [rows][cols]^T, rows c in [c0, c1) of dst (columns of src): 4×4 tiles through
 * registers (four row loads, eight lane shuffles, four stores), in blocks of 64 src rows; edges one value
 * at a time. Moves values only, so the result is bitwise the scalar transpose's.
 */
export function transpose(src: usize, dst: usize, rows: i32, cols: i32, c0: i32, c1: i32): void {
  const sRow = <usize>cols << 2;
  const dRow = <usize>rows << 2;
  for (let r0 = 0; r0 < rows; r0 += 64) {
    const r1 = min(rows, r0 + 64);
    let c = c0;
    for (; c + 4 <= c1; c += 4) {
      const s = src + (<usize>c << 2);
      const d0 = dst + <usize>c * dRow;
      const d1 = d0 + dRow, d2 = d1 + dRow, d3 = d2 + dRow;
      let r = r0;
      for (; r + 4 <= r1; r += 4) {
        const p = s + <usize>r * sRow;
        const a = v128.load(p), b = v128.load(p + sRow), e = v128.load(p + 2 * sRow), f = v128.load(p + 3 * sRow);
        const t0 = i32x4.shuffle(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
        const t1 = i32x4.shuffle(a, b, 2, 6, 3, 7); // a2 b2 a3 b3
        const t2 = i32x4.shuffle(e, f, 0, 4, 1, 5);
        const t3 = i32x4.shuffle(e, f, 2, 6, 3, 7);
        const rb = <usize>r << 2;
        v128.store(d0 + rb, i32x4.shuffle(t0, t2, 0, 1, 4, 5)); // a0 b0 e0 f0
        v128.store(d1 + rb, i32x4.shuffle(t0, t2, 2, 3, 6, 7));
        v128.store(d2 + rb, i32x4.shuffle(t1, t3, 0, 1, 4, 5));
        v128.store(d3 + rb, i32x4.shuffle(t1, t3, 2, 3, 6, 7));
      }
      for (; r < r1; r++) {
        const p = s + <usize>r * sRow;
        const rb = <usize>r << 2;
        store<u32>(d0 + rb, load<u32>(p));
        store<u32>(d1 + rb, load<u32>(p, 4));
        store<u32>(d2 + rb, load<u32>(p, 8));
        store<u32>(d3 + rb, load<u32>(p, 12));
      }
    }
    for (; c < c1; c++) {
      const d = dst + <usize>c * dRow;
      for (let r = r0; r < r1; r++) store<u32>(d + (<usize>r << 2), load<u32>(src + <usize>r * sRow + (<usize>c << 2)));
    }
  }
}

// ---------------------------------------------------------------- batch norm
//
// x, y, gy, gx [B][C][S]; per-channel float64 sums, each channel's sum one chain in the TypeScript
// kernel's order (b, then i increasing): two channels per f64x2 (one per lane) and two vectors in flight,
// so four chains overlap and every lane adds what the TypeScript loop adds, in its order. The element math
// is core/scalar.ts's bnAffine and bnInputGrad, compiled to f64x2 lanes. Bitwise kernels.ts bnForward /
// bnBackward (test/cpu/bn-wasm.test.ts). st: float64 per channel, 4 values at st + 32 c.

/** x at channel planes p0 (lane 0) and p1 (lane 1), as float64. */
// @ts-ignore: decorator
@inline function planePair(p0: usize, p1: usize): v128 {
  return f64x2.promote_low_f32x4(f32x4.replace_lane(v128.load32_zero(p0), 1, load<f32>(p1)));
}

/**
 * Channels ca, cb, cc, cd (repeats allowed): st[c][0] = mean = Σ x / n, st[c][1] = Σ (x - mean)^2, or with
 * grad: st[c][2] = Σ gy, st[c][3] = Σ gy (x - st[c][0]) (the mean read from st).
 */
function bnSums4(x: usize, gy: usize, st: usize, B: i32, C: i32, S: i32, ca: i32, cb: i32, cc: i32, cd: i32, grad: bool): void {
  const planeB = <usize>S << 2;
  const imageB = <usize>C * planeB;
  const zero = f64x2.splat(0);
  const stA = st + (<usize>ca << 5), stB = st + (<usize>cb << 5), stC = st + (<usize>cc << 5), stD = st + (<usize>cd << 5);
  if (!grad) {
    let s0 = zero, s1 = zero;
    for (let b = 0; b < B; b++) {
      const base = x + <usize>b * imageB;
      const pa = base + <usize>ca * planeB, pb = base + <usize>cb * planeB, pc = base + <usize>cc * planeB, pd = base + <usize>cd * planeB;
      for (let i: usize = 0; i < planeB; i += 4) {
        s0 = f64x2.add(s0, planePair(pa + i, pb + i));
        s1 = f64x2.add(s1, planePair(pc + i, pd + i));
      }
    }
    const n = f64x2.splat(<f64>B * <f64>S);
    const m0 = f64x2.div(s0, n), m1 = f64x2.div(s1, n);
    let q0 = zero, q1 = zero;
    for (let b = 0; b < B; b++) {
      const base = x + <usize>b * imageB;
      const pa = base + <usize>ca * planeB, pb = base + <usize>cb * planeB, pc = base + <usize>cc * planeB, pd = base + <usize>cd * planeB;
      for (let i: usize = 0; i < planeB; i += 4) {
        const d0 = f64x2.sub(planePair(pa + i, pb + i), m0);
        const d1 = f64x2.sub(planePair(pc + i, pd + i), m1);
        q0 = f64x2.add(q0, f64x2.mul(d0, d0));
        q1 = f64x2.add(q1, f64x2.mul(d1, d1));
      }
    }
    store<f64>(stA, f64x2.extract_lane(m0, 0)); store<f64>(stA, f64x2.extract_lane(q0, 0), 8);
    store<f64>(stB, f64x2.extract_lane(m0, 1)); store<f64>(stB, f64x2.extract_lane(q0, 1), 8);
    store<f64>(stC, f64x2.extract_lane(m1, 0)); store<f64>(stC, f64x2.extract_lane(q1, 0), 8);
    store<f64>(stD, f64x2.extract_lane(m1, 1)); store<f64>(stD, f64x2.extract_lane(q1, 1), 8);
    return;
  }
  const m0 = f64x2.replace_lane(f64x2.splat(load<f64>(stA)), 1, load<f64>(stB));
  const m1 = f64x2.replace_lane(f64x2.splat(load<f64>(stC)), 1, load<f64>(stD));
  let g0 = zero, g1 = zero, h0 = zero, h1 = zero;
  for (let b = 0; b < B; b++) {
    const off = <usize>b * imageB;
    const oa = off + <usize>ca * planeB, ob = off + <usize>cb * planeB, oc = off + <usize>cc * planeB, od = off + <usize>cd * planeB;
    for (let i: usize = 0; i < planeB; i += 4) {
      const gv0 = planePair(gy + oa + i, gy + ob + i);
      const gv1 = planePair(gy + oc + i, gy + od + i);
      g0 = f64x2.add(g0, gv0);
      g1 = f64x2.add(g1, gv1);
      h0 = f64x2.add(h0, f64x2.mul(gv0, f64x2.sub(planePair(x + oa + i, x + ob + i), m0)));
      h1 = f64x2.add(h1, f64x2.mul(gv1, f64x2.sub(planePair(x + oc + i, x + od + i), m1)));
    }
  }
  store<f64>(stA, f64x2.extract_lane(g0, 0), 16); store<f64>(stA, f64x2.extract_lane(h0, 0), 24);
  store<f64>(stB, f64x2.extract_lane(g0, 1), 16); store<f64>(stB, f64x2.extract_lane(h0, 1), 24);
  store<f64>(stC, f64x2.extract_lane(g1, 0), 16); store<f64>(stC, f64x2.extract_lane(h1, 0), 24);
  store<f64>(stD, f64x2.extract_lane(g1, 1), 16); store<f64>(stD, f64x2.extract_lane(h1, 1), 24);
}

/**
 * The per-channel sums of channels [c0, c1) into st (see bnSums4): the mean and the sum of squared
 * deviations, or (grad) the sums of gy and of gy (x - mean) with the mean already in st.
 */
export function bnSums(x: usize, gy: usize, st: usize, B: i32, C: i32, S: i32, c0: i32, c1: i32, grad: i32): void {
  let c = c0;
  for (; c + 4 <= c1; c += 4) bnSums4(x, gy, st, B, C, S, c, c + 1, c + 2, c + 3, grad != 0);
  if (c + 2 <= c1) {
    bnSums4(x, gy, st, B, C, S, c, c + 1, c, c + 1, grad != 0);
    c += 2;
  }
  if (c < c1) bnSums4(x, gy, st, B, C, S, c, c, c, c, grad != 0);
}

/**
 * Channels [c0, c1): y = bnAffine(x - mean, invStd, gamma, beta) with st[c] = [mean, invStd, gamma, beta]
 * (forward), or (grad) gx = bnInputGrad(k, n, gy, x - mean, invStd, sumGy, sumGyXhat) with
 * st[c] = [mean, invStd, sumGy, sumGyXhat] and k[c] at kk + 8 c; two values per f64x2.
 */
export function bnApply(x: usize, gy: usize, out: usize, st: usize, kk: usize, B: i32, C: i32, S: i32, c0: i32, c1: i32, grad: i32): void {
  const planeB = <usize>S << 2;
  const n = f64x2.splat(<f64>B * <f64>S);
  for (let c = c0; c < c1; c++) {
    const sc = st + (<usize>c << 5);
    const m = f64x2.splat(load<f64>(sc)), is = f64x2.splat(load<f64>(sc, 8)), a = f64x2.splat(load<f64>(sc, 16)), e = f64x2.splat(load<f64>(sc, 24));
    const k = grad != 0 ? f64x2.splat(load<f64>(kk + (<usize>c << 3))) : m;
    for (let b = 0; b < B; b++) {
      const o = (<usize>b * <usize>C + <usize>c) * planeB;
      let i: usize = 0;
      for (; i + 8 <= planeB; i += 8) {
        const cen = f64x2.sub(loadF32(x + o + i, 2), m);
        storeF32(out + o + i, grad != 0 ? bnInputGrad(k, n, loadF32(gy + o + i, 2), cen, is, a, e) : bnAffine(cen, is, a, e), 2);
      }
      if (i < planeB) {
        const cen = f64x2.sub(loadF32(x + o + i, 1), m);
        storeF32(out + o + i, grad != 0 ? bnInputGrad(k, n, loadF32(gy + o + i, 1), cen, is, a, e) : bnAffine(cen, is, a, e), 1);
      }
    }
  }
}
