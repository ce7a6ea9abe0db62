// The kernels the CPU backend splits over threads. Each runs over a range [lo, hi) of independent output
// units (images, channels, rows, neuron blocks) and computes every output value with the same arithmetic
// in the same order whatever the range, so a result is bitwise identical for any number of threads.
// The same functions run on the main thread and in the workers (worker.ts); arrays arrive as views of
// the shared memory, plain numbers as `num`, structured settings (a neuron config) as `meta`.
import { neuronBackwardInto, neuronConfig, neuronForwardInto, type NeuronConfig } from '../../core/neuron.js';
import { adamFirstMoment, adamParam, adamSecondMoment, bnAffine, bnInputGrad, bnInvStd, runningStat } from '../../core/scalar.js';
import { surrogates, type SurrogateName } from '../../core/surrogates.js';
import type { ConvDims } from '../../core/backend.js';
import { convForwardImages, convInputGradImages, convWeightGradRows, transposeImages, transposeInto, winogradScratch, winogradTiles } from './conv.js';
import { linearForwardRows, linearInputGradRows, linearWeightGradRows } from './linear.js';
import type { WasmKernels } from './wasm/index.js';
import { neuronBackwardWasm, neuronForwardWasm } from './wasm/neuron.js';

export type { WasmKernels };

/** arr: the arrays; num: numbers; part: the thread running the range (selects a per-thread scratch; a thread may run several ranges of an op); wasm: SIMD kernels where the arrays allow. */
export type Kernel = (arr: Float32Array[], num: number[], lo: number, hi: number, part: number, meta: unknown, wasm: WasmKernels | null) => void;

/** Neuron blocks: dL/da is summed per block of this many neurons, then over blocks in order (the default; cpuBackend's neuronBlock). */
export const NEURON_BLOCK = 4096;

const f64 = (a: Float32Array) => new Float64Array(a.buffer, a.byteOffset, a.length >> 1);
const off = (a: Float32Array) => a.byteOffset;
/** Part `part` of a per-thread scratch of `per` floats a part (a scratch too small for it is an error, not a write past its end). */
function scratchPart(s: Float32Array, per: number, part: number): Float32Array {
  if ((part + 1) * per > s.length) throw new Error(`CPU backend: scratch of ${s.length} floats too small for part ${part} of ${per} floats`);
  return s.subarray(part * per, (part + 1) * per);
}

function dims(n: number[]): ConvDims {
  const [B, C, H, W, O, K, stride, pad, Ho, Wo] = n as [number, number, number, number, number, number, number, number, number, number];
  return { B, C, H, W, O, K, stride, pad, Ho, Wo };
}

export interface NeuronMeta {
  kind: 'if' | 'lif' | 'plif';
  tau: number;
  vThreshold: number;
  vReset: number | null;
  decayInput: boolean;
  detachReset: boolean;
  surrogate: { name: SurrogateName; alpha: number };
}

export function neuronMeta(c: NeuronConfig): NeuronMeta {
  return { kind: c.kind, tau: c.tau, vThreshold: c.vThreshold, vReset: c.vReset, decayInput: c.decayInput, detachReset: c.detachReset, surrogate: { name: c.surrogate.name as SurrogateName, alpha: c.surrogate.alpha } };
}

const cfgCache = new Map<string, NeuronConfig>();
function neuronCfg(meta: unknown): NeuronConfig {
  const key = JSON.stringify(meta);
  let c = cfgCache.get(key);
  if (!c) {
    const m = meta as NeuronMeta;
    c = neuronConfig({ ...m, surrogate: surrogates[m.surrogate.name](m.surrogate.alpha) });
    cfgCache.set(key, c);
  }
  return c;
}

/** Floats of the batch-norm kernels' scratch per channel: 4 float64 statistics, then 1 float64 k. */
export const BN_SCRATCH = 10;

/**
 * Batch norm forward, channel c: from the batch mean m and the sum of squared deviations q (training; the
 * running statistics updated) or from the running statistics (evaluation), the mean and 1/std it normalises
 * by, saved in mean and inv. The one source of these scalars for the TypeScript and WebAssembly kernels.
 */
function bnChannelForward(c: number, training: number, m: number, q: number, n: number, rm: Float32Array, rv: Float32Array, mean: Float32Array, inv: Float32Array, momentum: number, eps: number): { m: number; is: number } {
  let is: number;
  if (training) {
    const v = q / n;
    is = bnInvStd(v, eps);
    rm[c] = runningStat(rm[c]!, m, momentum, 1);
    rv[c] = runningStat(rv[c]!, v, momentum, n > 1 ? n / (n - 1) : 1);
  } else {
    m = rm[c]!;
    is = bnInvStd(rv[c]!, eps);
  }
  mean[c] = m;
  inv[c] = is;
  return { m, is };
}

/**
 * Batch norm backward, channel c: from q (as above), Σ gy and Σ gy (x - mean), writes dL/dbeta and dL/dgamma
 * and returns 1/std, Σ gy xhat and k = gamma / std / n of bnInputGrad. One source for both kernels.
 */
function bnChannelBackward(c: number, q: number, sumGy: number, sumGyCentred: number, n: number, g: Float32Array, gg: Float32Array, gb: Float32Array, eps: number): { is: number; sgx: number; k: number } {
  const is = bnInvStd(q / n, eps);
  const sgx = sumGyCentred * is;
  gb[c] = sumGy;
  gg[c] = sgx;
  return { is, sgx, k: (g[c]! * is) / n };
}

/**
 * bnForward with the sums and the element pass in WebAssembly (wasm bnSums, bnApply): the same float64
 * operations in the same order as the loop below it, so the same bits.
 */
function bnForwardWasm(wasm: WasmKernels, [x, g, be, rm, rv, y, mean, inv, st]: Float32Array[], B: number, C: number, S: number, training: number, momentum: number, eps: number, lo: number, hi: number): void {
  const s = f64(st!);
  if (training) wasm.bnSums(off(x!), 0, off(st!), B, C, S, lo, hi, 0);
  for (let c = lo; c < hi; c++) {
    const { m, is } = bnChannelForward(c, training, s[4 * c]!, s[4 * c + 1]!, B * S, rm!, rv!, mean!, inv!, momentum, eps);
    s[4 * c] = m;
    s[4 * c + 1] = is;
    s[4 * c + 2] = g![c]!;
    s[4 * c + 3] = be![c]!;
  }
  wasm.bnApply(off(x!), 0, off(y!), off(st!), 0, B, C, S, lo, hi, 0);
}

/** bnBackward with the sums and the element pass in WebAssembly, as bnForwardWasm. */
function bnBackwardWasm(wasm: WasmKernels, [x, g, gy, gx, gg, gb, st]: Float32Array[], B: number, C: number, S: number, eps: number, lo: number, hi: number): void {
  const s = f64(st!);
  wasm.bnSums(off(x!), 0, off(st!), B, C, S, lo, hi, 0);
  wasm.bnSums(off(x!), off(gy!), off(st!), B, C, S, lo, hi, 1);
  for (let c = lo; c < hi; c++) {
    const { is, sgx, k } = bnChannelBackward(c, s[4 * c + 1]!, s[4 * c + 2]!, s[4 * c + 3]!, B * S, g!, gg!, gb!, eps);
    s[4 * c + 1] = is;
    s[4 * c + 3] = sgx;
    s[4 * C + c] = k;
  }
  wasm.bnApply(off(x!), off(gy!), off(gx!), off(st!), off(st!) + 32 * C, B, C, S, lo, hi, 1);
}

export const kernels: Record<string, Kernel> = {
  // ---- conv: num = ConvDims ----
  /** yT: per part, Ho*Wo*O floats, then num[10] floats of the SIMD kernel's lists. */
  convForward([x, wT, y, yT], n, lo, hi, part, _m, wasm) {
    const d = dims(n);
    const per = d.Ho * d.Wo * d.O;
    const s = scratchPart(yT!, per + n[10]!, part);
    if (wasm) {
      const xs = d.C * d.H * d.W;
      const lists = off(s) + 4 * per;
      for (let b = lo; b < hi; b++) {
        wasm.convForwardImage(off(x!) + 4 * b * xs, off(wT!), off(s), lists, d.C, d.H, d.W, d.O, d.K, d.stride, d.pad, d.Ho, d.Wo);
        wasm.transpose(off(s), off(y!) + 4 * b * per, d.Ho * d.Wo, d.O, 0, d.O);
      }
    } else convForwardImages(x!, wT!, d, y!, lo, hi, s);
  },
  transposeImages([gy, gyT], [O, P], lo, hi, _p, _m, wasm) {
    if (wasm) for (let b = lo; b < hi; b++) wasm.transpose(off(gy!) + 4 * b * O! * P!, off(gyT!) + 4 * b * O! * P!, O!, P!, 0, P!);
    else transposeImages(gy!, O!, P!, gyT!, lo, hi);
  },
  /** Rows lo..hi of gwT [(c*K+ky)*K+kx][O]; list: the SIMD kernel's scratch, num[10] floats per part. */
  convWeightGrad([x, gyT, gwT, list], n, lo, hi, part, _m, wasm) {
    const d = dims(n);
    if (wasm) wasm.convWeightGrad(off(x!), off(gyT!), off(gwT!), off(scratchPart(list!, n[10]!, part)), d.B, d.C, d.H, d.W, d.O, d.K, d.stride, d.pad, d.Ho, d.Wo, lo, hi);
    else convWeightGradRows(x!, gyT!, d, gwT!, lo, hi);
  },
  /** num[10] = 1: by Winograd from u (conv.ts winogradWeightsInto) where the SIMD kernels run; wr (the direct kernels) otherwise. */
  convInputGrad([gyT, wr, gx, gxT, u], n, lo, hi, part, _m, wasm) {
    const d = dims(n);
    const wino = wasm !== null && n[10] === 1;
    const image = d.H * d.W * d.C;
    const s = scratchPart(gxT!, image + (n[10] === 1 ? winogradScratch(d) : 0), part); // parts as the caller sized them
    if (wasm) {
      const P = d.Ho * d.Wo;
      const v = off(s) + 4 * image; // Winograd's scratch after the image: v [16][tiles][O], then m [16][tiles][C]
      const m = v + 4 * 16 * winogradTiles(d) * d.O;
      for (let b = lo; b < hi; b++) {
        if (wino) wasm.convInputGradWinograd(off(gyT!) + 4 * b * P * d.O, off(u!), off(s), v, m, d.C, d.H, d.W, d.O);
        else wasm.convInputGradImage(off(gyT!) + 4 * b * P * d.O, off(wr!), off(s), d.C, d.H, d.W, d.O, d.K, d.stride, d.pad, d.Ho, d.Wo);
        wasm.transpose(off(s), off(gx!) + 4 * b * image, d.H * d.W, d.C, 0, d.C);
      }
    } else convInputGradImages(gyT!, wr!, d, gx!, lo, hi, s);
  },

  // ---- linear ----
  /** dst [cols][rows] = src [rows][cols]^T, output rows lo..hi. */
  transpose([src, dst], [rows, cols], lo, hi, _p, _m, wasm) {
    if (wasm) wasm.transpose(off(src!), off(dst!), rows!, cols!, lo, hi);
    else transposeInto(src!, rows!, cols!, dst!, 0, 0, lo, hi);
  },
  /** Columns lo..hi of y [B][O], every row: a split reads each part of wT once. */
  linearForward([x, wT, y], [I, O, B], lo, hi, _p, _m, wasm) {
    if (wasm) wasm.linearForward(off(x!), off(wT!), off(y!), I!, O!, 0, B!, lo, hi);
    else linearForwardRows(x!, wT!, y!, I!, O!, 0, B!, lo, hi);
  },
  linearWeightGrad([x, gy, gwT], [B, I, O], lo, hi, _p, _m, wasm) {
    if (wasm) wasm.linearWeightGrad(off(x!), off(gy!), off(gwT!), B!, I!, O!, lo, hi);
    else linearWeightGradRows(x!, gy!, gwT!, B!, I!, O!, lo, hi);
  },
  /** arrays [gy, w, wT, gx] or [gy, w, wT, gx, mask]; num = [B, O, I, maskRows]. */
  /** Columns lo..hi of gx [B][I], every row: a split reads each part of the weight once. */
  linearInputGrad([gy, w, wT, gx, mask], [B, O, I, maskRows], lo, hi, _p, _m, wasm) {
    if (wasm) wasm.linearInputGrad(off(gy!), off(wT!), off(gx!), B!, O!, I!, 0, B!, mask ? off(mask) : 0, maskRows!, lo, hi);
    else linearInputGradRows(gy!, w!, gx!, O!, I!, 0, B!, mask ?? null, maskRows!, lo, hi);
  },

  // ---- batch norm over channels lo..hi: x [B][C][S] ----
  /** num = [B, C, S, training, momentum, eps]; stats in double. */
  bnForward([x, g, be, rm, rv, y, mean, inv, st], [B, C, S, training, momentum, eps], lo, hi, _p, _m, wasm) {
    const n = B! * S!;
    if (wasm) return bnForwardWasm(wasm, [x!, g!, be!, rm!, rv!, y!, mean!, inv!, st!], B!, C!, S!, training!, momentum!, eps!, lo, hi);
    for (let c = lo; c < hi; c++) {
      let m = 0;
      let q = 0;
      if (training) {
        for (let b = 0; b < B!; b++) {
          const o = (b * C! + c) * S!;
          for (let i = 0; i < S!; i++) m += x![o + i]!;
        }
        m /= n;
        for (let b = 0; b < B!; b++) {
          const o = (b * C! + c) * S!;
          for (let i = 0; i < S!; i++) {
            const dv = x![o + i]! - m;
            q += dv * dv;
          }
        }
      }
      const { m: mc, is } = bnChannelForward(c, training!, m, q, n, rm!, rv!, mean!, inv!, momentum!, eps!);
      const gc = g![c]!;
      const bc = be![c]!;
      for (let b = 0; b < B!; b++) {
        const o = (b * C! + c) * S!;
        for (let i = 0; i < S!; i++) y![o + i] = bnAffine(x![o + i]! - mc, is, gc, bc);
      }
    }
  },
  /** num = [B, C, S, eps]. */
  bnBackward([x, g, gy, gx, gg, gb, st], [B, C, S, eps], lo, hi, _p, _m, wasm) {
    const n = B! * S!;
    if (wasm) return bnBackwardWasm(wasm, [x!, g!, gy!, gx!, gg!, gb!, st!], B!, C!, S!, eps!, lo, hi);
    for (let c = lo; c < hi; c++) {
      // The statistics are recomputed in double: with a batch variance near eps the three terms of gx
      // nearly cancel and a float32-rounded mean would be amplified (the saved tensors are float32).
      let m = 0;
      for (let b = 0; b < B!; b++) {
        const o = (b * C! + c) * S!;
        for (let i = 0; i < S!; i++) m += x![o + i]!;
      }
      m /= n;
      let q = 0;
      for (let b = 0; b < B!; b++) {
        const o = (b * C! + c) * S!;
        for (let i = 0; i < S!; i++) {
          const dv = x![o + i]! - m;
          q += dv * dv;
        }
      }
      let sg = 0;
      let sgc = 0;
      for (let b = 0; b < B!; b++) {
        const o = (b * C! + c) * S!;
        for (let i = 0; i < S!; i++) {
          const gv = gy![o + i]!;
          sg += gv;
          sgc += gv * (x![o + i]! - m);
        }
      }
      const { is, sgx, k } = bnChannelBackward(c, q, sg, sgc, n, g!, gg!, gb!, eps!);
      for (let b = 0; b < B!; b++) {
        const o = (b * C! + c) * S!;
        for (let i = 0; i < S!; i++) gx![o + i] = bnInputGrad(k, n, gy![o + i]!, x![o + i]! - m, is, sg, sgx);
      }
    }
  },

  // ---- multi-step neuron over neuron blocks lo..hi (core's fused loops, Eqs. 2-16) ----
  /** num = [T, n, a, neurons per block]. */
  neuronForward([x, s, h, v], [T, n, aNum, block], lo, hi, _p, meta, wasm) {
    const a = Number.isNaN(aNum) ? undefined : aNum;
    const range = { lo: lo * block!, hi: Math.min(n!, hi * block!) };
    if (wasm) return neuronForwardWasm(wasm, neuronCfg(meta), a, x!, { s: s!, h: h!, v: v! }, T!, n!, range); // the same loop in WebAssembly
    neuronForwardInto(neuronCfg(meta), x!, T!, a, { s: s!, h: h!, v: v! }, { range }); // Eqs. 2-6
  },
  /** num = [T, n, a, neurons per block]; gradK of each block into partials (float64 [blocks]); gH is float64 [n]. */
  neuronBackward([x, s, h, v, gs, gx, gH, partials], [T, n, aNum, block], lo, hi, _p, meta, wasm) {
    const a = Number.isNaN(aNum) ? undefined : aNum;
    const cfg = neuronCfg(meta);
    const P = f64(partials!);
    const scratch = f64(gH!);
    for (let blk = lo; blk < hi; blk++) {
      const range = { lo: blk * block!, hi: Math.min(n!, (blk + 1) * block!) };
      const w = wasm ? neuronBackwardWasm(wasm, cfg, a, x!, { s: s!, h: h!, v: v! }, gs!, gx!, scratch, T!, n!, range) : null; // the same loop in WebAssembly (ATan)
      P[blk] = w ?? neuronBackwardInto(cfg, x!, T!, { s: s!, h: h!, v: v! }, gs!, a, gx!, { scratch, range }).gradK; // Eqs. 8-16
    }
  },

  // ---- pooling over planes lo..hi: num = [H, W, Ho, Wo, K, stride] ----
  /**
   * Max pooling: the first of a window's c maxima wins, or with tie draws d (one per output) the (d mod c)-th.
   */
  maxPool([x, y, am, d], [H, W, Ho, Wo, K, s], lo, hi, _p, _m, wasm) {
    if (wasm && !d) return wasm.maxPool(off(x!), off(y!), off(am!), H!, W!, Ho!, Wo!, K!, s!, lo, hi); // the same comparisons in WebAssembly
    for (let bc = lo; bc < hi; bc++) {
      const base = bc * H! * W!;
      let q = bc * Ho! * Wo!;
      for (let oy = 0; oy < Ho!; oy++)
        for (let ox = 0; ox < Wo!; ox++, q++) {
          let best = -Infinity;
          let arg = 0;
          let count = 0;
          for (let ky = 0; ky < K!; ky++) {
            const r = base + (oy * s! + ky) * W! + ox * s!;
            for (let kx = 0; kx < K!; kx++) {
              const v = x![r + kx]!;
              if (v > best) {
                best = v;
                arg = ky * K! + kx;
                count = 1;
              } else if (v === best) count++;
            }
          }
          if (count > 1 && d) {
            let pick = d[q]! % count;
            search: for (let ky = 0; ky < K!; ky++) {
              const r = base + (oy * s! + ky) * W! + ox * s!;
              for (let kx = 0; kx < K!; kx++)
                if (x![r + kx] === best && pick-- === 0) {
                  arg = ky * K! + kx;
                  break search;
                }
            }
          }
          y![q] = best;
          am![q] = arg;
        }
    }
  },
  maxPoolBackward([gy, am, gx], [H, W, Ho, Wo, K, s], lo, hi, _p, _m, wasm) {
    if (wasm) return wasm.maxPoolBackward(off(gy!), off(am!), off(gx!), H!, W!, Ho!, Wo!, K!, s!, lo, hi); // the same sums in WebAssembly
    gx!.fill(0, lo * H! * W!, hi * H! * W!);
    for (let bc = lo; bc < hi; bc++) {
      const base = bc * H! * W!;
      let q = bc * Ho! * Wo!;
      for (let oy = 0; oy < Ho!; oy++)
        for (let ox = 0; ox < Wo!; ox++, q++) {
          const a = am![q]!;
          const ky = (a / K!) | 0;
          gx![base + (oy * s! + ky) * W! + ox * s! + (a - ky * K!)] += gy![q]!;
        }
    }
  },
  avgPool([x, y], [H, W, Ho, Wo, K, s], lo, hi) {
    const inv = 1 / (K! * K!);
    for (let bc = lo; bc < hi; bc++) {
      const base = bc * H! * W!;
      let q = bc * Ho! * Wo!;
      for (let oy = 0; oy < Ho!; oy++)
        for (let ox = 0; ox < Wo!; ox++, q++) {
          let sum = 0;
          for (let ky = 0; ky < K!; ky++) {
            const r = base + (oy * s! + ky) * W! + ox * s!;
            for (let kx = 0; kx < K!; kx++) sum += x![r + kx]!;
          }
          y![q] = sum * inv;
        }
    }
  },
  avgPoolBackward([gy, gx], [H, W, Ho, Wo, K, s], lo, hi) {
    const inv = 1 / (K! * K!);
    gx!.fill(0, lo * H! * W!, hi * H! * W!);
    for (let bc = lo; bc < hi; bc++) {
      const base = bc * H! * W!;
      let q = bc * Ho! * Wo!;
      for (let oy = 0; oy < Ho!; oy++)
        for (let ox = 0; ox < Wo!; ox++, q++) {
          const g = gy![q]! * inv;
          for (let ky = 0; ky < K!; ky++) {
            const r = base + (oy * s! + ky) * W! + ox * s!;
            for (let kx = 0; kx < K!; kx++) gx![r + kx] += g;
          }
        }
    }
  },

  // ---- elementwise over lo..hi ----
  /** y = x * mask[j mod n]. num = [n]. */
  /** y = x · mask, the mask [n] repeated over the leading dimension (a segment per repetition, no modulo per value). */
  dropout([x, mask, y], [n], lo, hi, _p, _m, wasm) {
    if (wasm) return wasm.dropoutApply(off(x!), off(mask!), off(y!), n!, lo, hi); // the same products in WebAssembly
    let j = lo;
    let m = lo % n!;
    while (j < hi) {
      const end = Math.min(hi, j + n! - m);
      for (; j < end; j++, m++) y![j] = x![j]! * mask![m]!;
      m = 0;
    }
  },
  /** num = [lr, beta1, beta2, eps, stepSize, sqrtBc2]. */
  adam([p, g, m, v], [, b1, b2, eps, stepSize, sqrtBc2], lo, hi, _p, _m, wasm) {
    if (wasm) return wasm.adam(off(p!), off(g!), off(m!), off(v!), lo, hi, b1!, b2!, eps!, stepSize!, sqrtBc2!); // the same arithmetic in WebAssembly
    for (let i = lo; i < hi; i++) {
      const gi = g![i]!;
      const mi = adamFirstMoment(m![i]!, gi, b1!);
      const vi = adamSecondMoment(v![i]!, gi, b2!);
      m![i] = mi;
      v![i] = vi;
      p![i] = adamParam(p![i]!, mi, vi, stepSize!, sqrtBc2!, eps!);
    }
  },
  /**
   * How many of x[lo..hi) lie outside [-lim, lim] (NaN and infinities included; lim a float32 >= 0), as an
   * int32 added to counts[part] (a thread may run several ranges; the backend zeroes counts). num = [lim].
   */
  countOutside([x, counts], [lim], lo, hi, part, _m, wasm) {
    let bad = 0;
    if (wasm) bad = wasm.countOutside(off(x!) + 4 * lo, hi - lo, lim!);
    else for (let i = lo; i < hi; i++) if (!(Math.abs(x![i]!) <= lim!)) bad++;
    new Int32Array(counts!.buffer, counts!.byteOffset, counts!.length)[part] += bad;
  },
  /** y[j] = sum_t x[t*n + j]. num = [T, n]. */
  sumT([x, y], [T, n], lo, hi, _p, _m, wasm) {
    if (wasm) return wasm.sumT(off(x!) + 4 * lo, off(y!) + 4 * lo, T!, n!, hi - lo); // the same adds in WebAssembly
    y!.fill(0, lo, hi);
    for (let t = 0; t < T!; t++) {
      const o = t * n!;
      for (let j = lo; j < hi; j++) y![j] += x![o + j]!;
    }
  },
  /** y[t*n + j] = x[j]. num = [T, n]. */
  repeatT([x, y], [T, n], lo, hi) {
    for (let t = 0; t < T!; t++) y!.set(x!.subarray(lo, hi), t * n! + lo);
  },
};
