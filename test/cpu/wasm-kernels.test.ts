// The WebAssembly SIMD kernels (backends/cpu/wasm) against plain float64 loops written here, on the real
// module (built by `npm run build`): values within the float32 rounding bound of each sum, bitwise
// identical results however an output range is split between calls, no write outside the given output
// range (all other memory, including the module's reserved low memory, is compared word by word), and
// the dropout mask of linearInputGrad zeroing exactly the masked entries.
import { beforeAll, describe, expect, it } from 'vitest';
import type { ConvDims } from '../../core/backend.js';
import { instantiateKernels, KERNEL_MAX_PAGES, KERNEL_RESERVED_BYTES, loadKernelModule, type WasmKernels } from '../../backends/cpu/wasm/index.js';
import { linearForwardRows, linearWeightGradRows } from '../../backends/cpu/linear.js';
import { convForwardImages, convWeightGradRows, winogradApplies, winogradScratch, winogradWeightsInto } from '../../backends/cpu/conv.js';

const GUARD_BITS = 0x7fc0dead; // a NaN: any guard value read by a kernel shows up in its results
const PAGES = 256; // 16 MiB, enough for every case below

/** Seeded uniform [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Fill = { kind: 'spikes'; density: number } | { kind: 'dense' };

function values(n: number, r: () => number, fill: Fill): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = fill.kind === 'spikes' ? (r() < fill.density ? 1 : 0) : r() * 2 - 1;
  return a;
}

/** Relative bound of float32 rounding in a sum of n products, any order: gamma_n = n u / (1 - n u). */
function gamma(n: number): number {
  const u = 2 ** -24;
  return (n * u) / (1 - n * u);
}

/** Float32 array placed in the shared memory, with guard words around it. */
interface Buf {
  off: number; // byte offset
  n: number;
  f32: Float32Array;
  u32: Uint32Array;
}

class Arena {
  top = KERNEL_RESERVED_BYTES;
  constructor(readonly memory: WebAssembly.Memory) {}

  reset(): void {
    this.top = KERNEL_RESERVED_BYTES;
    new Uint32Array(this.memory.buffer, KERNEL_RESERVED_BYTES).fill(GUARD_BITS);
  }

  alloc(n: number): Buf {
    const off = this.top + 64; // 64 guard bytes before, 16-byte aligned
    this.top = off + Math.ceil((n * 4) / 16) * 16 + 64;
    if (this.top > this.memory.buffer.byteLength) throw new Error('test arena too small');
    return { off, n, f32: new Float32Array(this.memory.buffer, off, n), u32: new Uint32Array(this.memory.buffer, off, n) };
  }

  put(data: Float32Array): Buf {
    const b = this.alloc(data.length);
    b.f32.set(data);
    return b;
  }

  /** Runs f and checks that it changed no memory word outside the byte ranges [start, end) of `allowed`. */
  writesOnly(allowed: Array<[number, number]>, f: () => void): void {
    const all = new Uint32Array(this.memory.buffer, 0, this.top);
    const before = all.slice();
    f();
    let bad = -1;
    for (let i = 0; i < before.length; i++) {
      if (all[i] === before[i]) continue;
      const byte = i * 4;
      if (!allowed.some(([s, e]) => byte >= s && byte < e)) {
        bad = byte;
        break;
      }
    }
    expect(bad, `memory written at byte ${bad} outside the output range`).toBe(-1);
  }

  guard(b: Buf): void {
    b.u32.fill(GUARD_BITS);
  }
}

/** Checks a float32 result against a float64 reference, within gamma(terms + 1) of the sum of |terms|. */
function expectClose(name: string, got: Float32Array, want: Float64Array, absSum: Float64Array, terms: number): void {
  const g = gamma(terms + 1);
  for (let i = 0; i < want.length; i++) {
    const tol = g * absSum[i]! + 1e-30;
    const err = Math.abs(got[i]! - want[i]!);
    if (!(err <= tol)) expect.fail(`${name}[${i}] = ${got[i]}, want ${want[i]} (error ${err}, bound ${tol})`);
  }
}

/** Random cut points splitting [lo, hi) into consecutive ranges. */
function splits(lo: number, hi: number, r: () => number): Array<[number, number]> {
  const cuts = new Set<number>([lo, hi]);
  const k = 1 + Math.floor(r() * 4);
  for (let j = 0; j < k; j++) cuts.add(lo + Math.floor(r() * (hi - lo + 1)));
  const s = [...cuts].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (let j = 0; j + 1 < s.length; j++) out.push([s[j]!, s[j + 1]!]);
  return out;
}

const sameBits = (a: Buf, b: Buf) => expect(Array.from(a.u32)).toEqual(Array.from(b.u32));

let k: WasmKernels;
let arena: Arena;

beforeAll(() => {
  const loaded = loadKernelModule();
  if (!loaded.module) throw new Error(`WebAssembly kernels did not load: ${loaded.reason}`);
  const memory = new WebAssembly.Memory({ initial: PAGES, maximum: KERNEL_MAX_PAGES, shared: true });
  k = instantiateKernels(loaded.module, memory);
  arena = new Arena(memory);
});

// WebAssembly.Module's static reflection (the project's WebAssembly declarations leave it out)
const reflect = WebAssembly.Module as unknown as {
  imports(m: WebAssembly.Module): Array<{ module: string; name: string; kind: string }>;
  exports(m: WebAssembly.Module): Array<{ name: string; kind: string }>;
};

describe('module', () => {
  it('imports only a shared env.memory, exports the seventeen kernels and the sizes of the conv scratch, and writes nothing when instantiated', () => {
    const loaded = loadKernelModule();
    if (!loaded.module) throw new Error(loaded.reason);
    expect(reflect.imports(loaded.module)).toEqual([{ module: 'env', name: 'memory', kind: 'memory' }]);
    expect(reflect.exports(loaded.module).map((e) => e.name).sort()).toEqual(
      ['adam', 'bnApply', 'bnSums', 'convForwardImage', 'convForwardListBytes', 'convInputGradImage', 'convInputGradWinograd', 'convWeightGrad', 'convWeightGradListBytes', 'countOutside', 'dropoutApply', 'linearForward', 'linearInputGrad', 'linearWeightGrad', 'maxPool', 'maxPoolBackward', 'neuronBackward', 'neuronForward', 'sumT', 'transpose'],
    );
    // a fresh instance on the shared memory (as each worker makes) leaves every byte, the low 64 KiB included, as it was
    arena.reset();
    new Uint32Array(arena.memory.buffer, 0, KERNEL_RESERVED_BYTES / 4).fill(GUARD_BITS);
    arena.writesOnly([], () => instantiateKernels(loaded.module!, arena.memory));
    // a memory that is not shared does not fit its import
    expect(() => instantiateKernels(loaded.module!, new WebAssembly.Memory({ initial: 1, maximum: KERNEL_MAX_PAGES }))).toThrow();
  });
});

// ------------------------------------------------------------------------------------------ conv

type Conv = ConvDims;

function convCases(): Array<{ d: Conv; fill: Fill; seed: number }> {
  const out: Array<{ d: Conv; fill: Fill; seed: number }> = [];
  let seed = 1;
  const r = rng(12345);
  const pick = <T>(a: readonly T[]) => a[Math.floor(r() * a.length)]!;
  for (const K of [1, 2, 3])
    for (const stride of [1, 2])
      for (const pad of [0, 1])
        for (const fill of [{ kind: 'spikes', density: 0.1 + 0.3 * r() }, { kind: 'dense' }] as Fill[]) {
          const C = pick([3, 5, 13]);
          const O = pick([1, 6, 7, 10]);
          const H = pick([5, 6, 7, 9]);
          const W = pick([9, 10, 13]);
          const Ho = Math.floor((H + 2 * pad - K) / stride) + 1;
          const Wo = Math.floor((W + 2 * pad - K) / stride) + 1;
          out.push({ d: { B: 3, C, H, W, O, K, stride, pad, Ho, Wo }, fill, seed: seed++ });
        }
  // wide outputs (the weight gradient's blocks of 32, 16 and 4 columns and its scalar tail) over several image
  // chunks of its stride-1 kernel (about 256 KiB of gyT each: 6 images at 14x14 with 48 columns)
  for (const [B, C, H, W, O, K, pad, density] of [
    [13, 3, 14, 14, 48, 3, 1, 0.2],
    [5, 2, 9, 10, 37, 3, 1, 0.5],
    [4, 2, 7, 7, 16, 2, 0, 0.3],
  ] as const) {
    const Ho = H + 2 * pad - K + 1;
    const Wo = W + 2 * pad - K + 1;
    out.push({ d: { B, C, H, W, O, K, stride: 1, pad, Ho, Wo }, fill: { kind: 'spikes', density }, seed: seed++ });
    out.push({ d: { B, C, H, W, O, K, stride: 1, pad, Ho, Wo }, fill: { kind: 'dense' }, seed: seed++ });
  }
  return out;
}

const label = (d: Conv, f: Fill) => `C${d.C} ${d.H}x${d.W} O${d.O} K${d.K} s${d.stride} p${d.pad} ${f.kind === 'spikes' ? `spikes ${f.density.toFixed(2)}` : 'dense'}`;

/** Input row/column of output o under tap k, or -1. */
const inAt = (o: number, k: number, d: Conv, n: number) => {
  const i = o * d.stride - d.pad + k;
  return i >= 0 && i < n ? i : -1;
};

describe('conv kernels', () => {
  for (const { d, fill, seed } of convCases()) {
    const { B, C, H, W, O, K, Ho, Wo } = d;
    const P = Ho * Wo;
    const KK = K * K;

    it(`convForwardImage ${label(d, fill)}`, () => {
      arena.reset();
      const r = rng(seed);
      const x = arena.put(values(C * H * W, r, fill));
      const wT = arena.put(values(C * KK * O, r, { kind: 'dense' }));
      const yT = arena.alloc(P * O);
      const lists = arena.alloc(k.convForwardListBytes(C, H, W, K, Ho, Wo) / 4);
      arena.writesOnly([[yT.off, yT.off + P * O * 4], [lists.off, lists.off + lists.n * 4]], () => k.convForwardImage(x.off, wT.off, yT.off, lists.off, C, H, W, O, K, d.stride, d.pad, Ho, Wo));
      if (fill.kind === 'spikes') {
        // on spikes, the same bits as the TypeScript scatter (adds only, in the same order)
        const ts = new Float32Array(P * O);
        convForwardImages(x.f32, wT.f32, { ...d, B: 1 }, new Float32Array(O * P), 0, 1, ts);
        expect(Buffer.from(yT.f32.buffer, yT.f32.byteOffset, yT.f32.byteLength).equals(Buffer.from(ts.buffer))).toBe(true);
      }
      const want = new Float64Array(P * O);
      const abs = new Float64Array(P * O);
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++)
          for (let o = 0; o < O; o++) {
            let s = 0;
            let a = 0;
            for (let c = 0; c < C; c++)
              for (let ky = 0; ky < K; ky++)
                for (let kx = 0; kx < K; kx++) {
                  const iy = inAt(oy, ky, d, H);
                  const ix = inAt(ox, kx, d, W);
                  if (iy < 0 || ix < 0) continue;
                  const t = x.f32[(c * H + iy) * W + ix]! * wT.f32[((c * K + ky) * K + kx) * O + o]!;
                  s += t;
                  a += Math.abs(t);
                }
            want[(oy * Wo + ox) * O + o] = s;
            abs[(oy * Wo + ox) * O + o] = a;
          }
      expectClose('yT', yT.f32, want, abs, C * KK);
    });

    it(`convWeightGrad ${label(d, fill)}`, () => {
      arena.reset();
      const r = rng(seed);
      const x = arena.put(values(B * C * H * W, r, fill));
      const gyT = arena.put(values(B * P * O, r, { kind: 'dense' }));
      const rowB = O * 4; // bytes of one row (c, ky, kx)
      const list = arena.alloc(k.convWeightGradListBytes(B, H, W, O, Ho, Wo) / 4 + 1);
      const gw = arena.alloc(C * KK * O);
      arena.writesOnly([[gw.off, gw.off + C * KK * rowB], [list.off, list.off + list.n * 4]], () => k.convWeightGrad(x.off, gyT.off, gw.off, list.off, B, C, H, W, O, K, d.stride, d.pad, Ho, Wo, 0, C * KK));
      const want = new Float64Array(C * KK * O);
      const abs = new Float64Array(C * KK * O);
      for (let c = 0; c < C; c++)
        for (let ky = 0; ky < K; ky++)
          for (let kx = 0; kx < K; kx++)
            for (let o = 0; o < O; o++) {
              let s = 0;
              let a = 0;
              for (let b = 0; b < B; b++)
                for (let oy = 0; oy < Ho; oy++)
                  for (let ox = 0; ox < Wo; ox++) {
                    const iy = inAt(oy, ky, d, H);
                    const ix = inAt(ox, kx, d, W);
                    if (iy < 0 || ix < 0) continue;
                    const t = x.f32[((b * C + c) * H + iy) * W + ix]! * gyT.f32[(b * P + oy * Wo + ox) * O + o]!;
                    s += t;
                    a += Math.abs(t);
                  }
              const i = ((c * K + ky) * K + kx) * O + o;
              want[i] = s;
              abs[i] = a;
            }
      expectClose('gwT', gw.f32, want, abs, B * P);

      // on spikes (inputs 0 and 1: adds only, each rounded once either way) the same bits as the TypeScript
      // scatter, which adds in the same order; with other inputs it rounds v·gy and the add together in float64
      if (fill.kind === 'spikes') {
        const ts = new Float32Array(C * KK * O);
        convWeightGradRows(x.f32, gyT.f32, d, ts, 0, C * KK);
        expect(Buffer.from(gw.f32.buffer, gw.f32.byteOffset, gw.f32.byteLength).equals(Buffer.from(ts.buffer))).toBe(true);
      }

      // the same bits for any split of the rows (c, ky, kx); nothing outside [r0, r1) written
      const r2 = rng(seed + 1000);
      for (let trial = 0; trial < 3; trial++) {
        const parts = arena.alloc(C * KK * O);
        arena.guard(parts);
        for (const [r0, r1] of splits(0, C * KK, r2))
          arena.writesOnly([[parts.off + r0 * rowB, parts.off + r1 * rowB], [list.off, list.off + list.n * 4]], () => k.convWeightGrad(x.off, gyT.off, parts.off, list.off, B, C, H, W, O, K, d.stride, d.pad, Ho, Wo, r0, r1));
        sameBits(parts, gw);
      }
    });

    it(`convInputGradImage ${label(d, fill)}`, () => {
      arena.reset();
      const r = rng(seed);
      const gyT = arena.put(values(P * O, r, fill.kind === 'spikes' ? fill : { kind: 'dense' }));
      const wr = arena.put(values(KK * O * C, r, { kind: 'dense' }));
      const gxT = arena.alloc(H * W * C);
      arena.writesOnly([[gxT.off, gxT.off + H * W * C * 4]], () => k.convInputGradImage(gyT.off, wr.off, gxT.off, C, H, W, O, K, d.stride, d.pad, Ho, Wo));
      const want = new Float64Array(H * W * C);
      const abs = new Float64Array(H * W * C);
      for (let iy = 0; iy < H; iy++)
        for (let ix = 0; ix < W; ix++)
          for (let c = 0; c < C; c++) {
            let s = 0;
            let a = 0;
            for (let oy = 0; oy < Ho; oy++)
              for (let ox = 0; ox < Wo; ox++) {
                const ky = iy - oy * d.stride + d.pad;
                const kx = ix - ox * d.stride + d.pad;
                if (ky < 0 || ky >= K || kx < 0 || kx >= K) continue;
                for (let o = 0; o < O; o++) {
                  const t = gyT.f32[(oy * Wo + ox) * O + o]! * wr.f32[((ky * K + kx) * O + o) * C + c]!;
                  s += t;
                  a += Math.abs(t);
                }
              }
            want[(iy * W + ix) * C + c] = s;
            abs[(iy * W + ix) * C + c] = a;
          }
      expectClose('gxT', gxT.f32, want, abs, KK * O);
    });
  }
});

// ------------------------------------------------------------------------ conv input gradient by Winograd

// F(2×2, 3×3) with every entry replaced by its absolute value: |B^T|, |G|, |A^T|. The rounding bound of a
// Winograd result is the float32 gamma of its operation count times the same computation on absolute values
// (|A^T| Σ_o (|G| |g| |G^T|) ⊙ (|B^T| |d| |B|) |A|): each transformed value is a short signed sum (at most 2
// roundings in, 4 out), u is rounded once, and each product sum runs over O.
const absBT = [[1, 0, 1, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 1, 0, 1]];
const absG = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], [0, 0, 1]];
const absAT = [[1, 1, 1, 0], [0, 1, 1, 1]];

describe('convInputGradWinograd (3×3, stride 1, pad 1)', () => {
  const cases: Array<[C: number, O: number, H: number, W: number]> = [
    [4, 4, 1, 1],
    [4, 8, 2, 3],
    [8, 4, 5, 5],
    [12, 16, 6, 7],
    [16, 12, 14, 14],
    [8, 20, 3, 8],
    [4, 4, 7, 2],
  ];
  cases.forEach(([C, O, H, W], i) => {
    it(`C ${C}, O ${O}, ${H}×${W}: the direct sum within the Winograd rounding bound; writes gxT and its scratch only`, () => {
      arena.reset();
      const r = rng(900 + i);
      const d: Conv = { B: 1, C, H, W, O, K: 3, stride: 1, pad: 1, Ho: H, Wo: W };
      const P = H * W;
      const gyT = arena.put(values(P * O, r, { kind: 'dense' }));
      const w = values(O * C * 9, r, { kind: 'dense' }); // [O][C][3][3]
      const u = arena.alloc(16 * O * C);
      winogradWeightsInto(w, d, u.f32);
      const tiles = ((H + 1) >> 1) * ((W + 1) >> 1);
      expect(winogradScratch(d)).toBe(16 * tiles * (O + C));
      const v = arena.alloc(16 * tiles * O);
      const m = arena.alloc(16 * tiles * C);
      const gxT = arena.alloc(P * C);
      arena.writesOnly(
        [[gxT.off, gxT.off + P * C * 4], [v.off, v.off + v.n * 4], [m.off, m.off + m.n * 4]],
        () => k.convInputGradWinograd(gyT.off, u.off, gxT.off, v.off, m.off, C, H, W, O),
      );
      const gy = (o: number, y: number, x: number) => (y >= 0 && y < H && x >= 0 && x < W ? gyT.f32[(y * W + x) * O + o]! : 0);
      const want = new Float64Array(P * C);
      const bound = new Float64Array(P * C);
      for (let iy = 0; iy < H; iy++)
        for (let ix = 0; ix < W; ix++)
          for (let c = 0; c < C; c++) {
            // the direct sum: gx[c][iy][ix] = Σ_o Σ_{ky,kx} gy[o][iy-ky+1][ix-kx+1] w[o][c][ky][kx]
            let s = 0;
            for (let o = 0; o < O; o++)
              for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) s += gy(o, iy - ky + 1, ix - kx + 1) * w[(o * C + c) * 9 + ky * 3 + kx]!;
            want[(iy * W + ix) * C + c] = s;
            // the same through the transforms on absolute values, for this pixel of its tile
            const y0 = (iy & ~1) - 1, x0 = (ix & ~1) - 1, pi = iy & 1, pj = ix & 1;
            let a = 0;
            for (let o = 0; o < O; o++) {
              const g = (gi: number, gj: number) => Math.abs(w[(o * C + c) * 9 + (2 - gi) * 3 + (2 - gj)]!);
              for (let p = 0; p < 4; p++)
                for (let q = 0; q < 4; q++) {
                  const wa = absAT[pi]![p]! * absAT[pj]![q]!;
                  if (wa === 0) continue;
                  let uAbs = 0;
                  for (let gi = 0; gi < 3; gi++) for (let gj = 0; gj < 3; gj++) uAbs += absG[p]![gi]! * g(gi, gj) * absG[q]![gj]!;
                  let vAbs = 0;
                  for (let di = 0; di < 4; di++) for (let dj = 0; dj < 4; dj++) vAbs += absBT[p]![di]! * Math.abs(gy(o, y0 + di, x0 + dj)) * absBT[q]![dj]!;
                  a += wa * uAbs * vAbs;
                }
            }
            bound[(iy * W + ix) * C + c] = a;
          }
      expectClose('gxT', gxT.f32, want, bound, O + 8);
    });
  });

  it('applies to 3×3 kernels of stride 1 and padding 1 whose channel counts are multiples of 4, only', () => {
    const d = (K: number, stride: number, pad: number, C: number, O: number): Conv => ({ B: 1, C, H: 5, W: 5, O, K, stride, pad, Ho: 5, Wo: 5 });
    expect(winogradApplies(d(3, 1, 1, 4, 8))).toBe(true);
    expect(winogradApplies(d(3, 1, 1, 128, 128))).toBe(true);
    for (const [K, stride, pad, C, O] of [[1, 1, 1, 4, 4], [2, 1, 1, 4, 4], [5, 1, 1, 4, 4], [3, 2, 1, 4, 4], [3, 1, 0, 4, 4], [3, 1, 2, 4, 4], [3, 1, 1, 6, 4], [3, 1, 1, 4, 6], [3, 1, 1, 2, 4], [3, 1, 1, 4, 1]])
      expect(winogradApplies(d(K!, stride!, pad!, C!, O!)), `K ${K}, stride ${stride}, pad ${pad}, C ${C}, O ${O}`).toBe(false);
  });

  it('u holds G g G^T of the flipped kernel: a kernel with one nonzero tap gives a row and a column of G', () => {
    // w[0][0] = 1 at (ky, kx) = (0, 2): the flipped kernel has it at (2, 0), so u[4p+q] = G[p][2] G[q][0]
    const d: Conv = { B: 1, C: 1, H: 2, W: 2, O: 1, K: 3, stride: 1, pad: 1, Ho: 2, Wo: 2 };
    const w = new Float32Array(9);
    w[2] = 1;
    const u = new Float32Array(16);
    winogradWeightsInto(w, d, u);
    const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]];
    expect(Array.from(u)).toEqual(Array.from({ length: 16 }, (_, xi) => G[xi >> 2]![2]! * G[xi & 3]![0]!));
  });
});

// ---------------------------------------------------------------------------------------------- transpose

describe('transpose', () => {
  const shapes: Array<[rows: number, cols: number]> = [[1, 1], [4, 4], [3, 5], [8, 12], [67, 9], [130, 70], [5, 131]];
  shapes.forEach(([rows, cols], i) => {
    it(`[${rows}][${cols}]: every word moved bit for bit (NaN payloads and -0 included), any split of the dst rows, nothing else written`, () => {
      arena.reset();
      const r = rng(700 + i);
      const src = arena.alloc(rows * cols);
      for (let j = 0; j < src.n; j++) src.u32[j] = (r() * 2 ** 32) >>> 0; // any bits: NaNs with payloads, denormals, -0
      src.u32[0] = 0x80000000;
      const dst = arena.alloc(rows * cols);
      for (const [c0, c1] of splits(0, cols, r))
        arena.writesOnly([[dst.off + c0 * rows * 4, dst.off + c1 * rows * 4]], () => k.transpose(src.off, dst.off, rows, cols, c0, c1));
      const want = new Uint32Array(rows * cols);
      for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) want[x * rows + y] = src.u32[y * cols + x]!;
      expect(Array.from(dst.u32)).toEqual(Array.from(want));
    });
  });
});

// ------------------------------------------------------------------------------------ batch norm sums

describe('bnSums', () => {
  it.each([[3, 7, 5], [2, 4, 1], [1, 2, 9], [4, 1, 3]] as const)('B %i, C %i, S %i: float64 sums bit for bit the TypeScript loop\'s order, each channel in its own slots', (B, C, S) => {
    arena.reset();
    const r = rng(B * 100 + C * 10 + S);
    // magnitudes over 2^-30..2^30, so that float64 sums round and their order shows in the bits
    const spread = (n: number) => Float32Array.from({ length: n }, () => (r() * 2 - 1) * 2 ** Math.floor(r() * 60 - 30));
    const x = arena.put(spread(B * C * S));
    const gy = arena.put(spread(B * C * S));
    const st = arena.alloc(8 * C);
    const st64 = new Float64Array(arena.memory.buffer, st.off, 4 * C);
    arena.writesOnly([[st.off, st.off + 32 * C]], () => k.bnSums(x.off, 0, st.off, B, C, S, 0, C, 0));
    arena.writesOnly([[st.off, st.off + 32 * C]], () => k.bnSums(x.off, gy.off, st.off, B, C, S, 0, C, 1));
    const n = B * S;
    for (let c = 0; c < C; c++) {
      let s = 0;
      for (let b = 0; b < B; b++) for (let i = 0; i < S; i++) s += x.f32[(b * C + c) * S + i]!;
      const m = s / n;
      let q = 0;
      let sg = 0;
      let sgx = 0;
      for (let b = 0; b < B; b++)
        for (let i = 0; i < S; i++) {
          const o = (b * C + c) * S + i;
          const dv = x.f32[o]! - m;
          q += dv * dv;
          sg += gy.f32[o]!;
          sgx += gy.f32[o]! * dv;
        }
      expect([st64[4 * c], st64[4 * c + 1], st64[4 * c + 2], st64[4 * c + 3]], `channel ${c}`).toEqual([m, q, sg, sgx]);
    }
  });
});

// ---------------------------------------------------------------------------------------- linear

const linearShapes: Array<[B: number, I: number, O: number]> = [
  [5, 13, 7],
  [7, 37, 33],
  [3, 6, 1],
  [6, 37, 2051], // O large enough for several cache blocks over i (and a partial one) in linearForward
  [3, 29, 8195], // ... and in linearInputGrad
  [1, 9, 5],
  [150, 11, 135], // linearWeightGrad in registers (O >= 128): two chunks of 128 rows b, blocks of 32 columns and a tail of 7
  [70, 9, 176], // ... 64 < B < 128 (the second mask word), blocks of 32 and one of 16
  [4, 300, 130], // linearForward in registers: blocks of 128 rows i (the last of 44), a tail of 2 columns
];

describe('linear kernels', () => {
  let seed = 500;
  for (const [B, I, O] of linearShapes)
    for (const fill of [{ kind: 'spikes', density: 0.25 }, { kind: 'dense' }] as Fill[]) {
      const s = seed++;
      const name = `B${B} I${I} O${O} ${fill.kind}`;

      it(`linearForward ${name}`, () => {
        arena.reset();
        const r = rng(s);
        const x = arena.put(values(B * I, r, fill));
        const wT = arena.put(values(I * O, r, { kind: 'dense' }));
        const y = arena.alloc(B * O);
        arena.writesOnly([[y.off, y.off + B * O * 4]], () => k.linearForward(x.off, wT.off, y.off, I, O, 0, B, 0, O));
        const want = new Float64Array(B * O);
        const abs = new Float64Array(B * O);
        for (let b = 0; b < B; b++)
          for (let o = 0; o < O; o++)
            for (let i = 0; i < I; i++) {
              const t = x.f32[b * I + i]! * wT.f32[i * O + o]!;
              want[b * O + o] += t;
              abs[b * O + o] += Math.abs(t);
            }
        expectClose('y', y.f32, want, abs, I);
        if (fill.kind === 'spikes') {
          // on spikes, the same bits as the TypeScript kernel (adds only, i increasing)
          const ts = new Float32Array(B * O);
          linearForwardRows(x.f32, wT.f32, ts, I, O, 0, B);
          expect(Buffer.from(y.f32.buffer, y.f32.byteOffset, y.f32.byteLength).equals(Buffer.from(ts.buffer))).toBe(true);
        }
        for (let trial = 0; trial < 3; trial++) {
          const parts = arena.alloc(B * O);
          arena.guard(parts);
          for (const [b0, b1] of splits(0, B, r))
            arena.writesOnly([[parts.off + b0 * O * 4, parts.off + b1 * O * 4]], () => k.linearForward(x.off, wT.off, parts.off, I, O, b0, b1, 0, O));
          sameBits(parts, y);
        }
        // split by columns (as the backend splits it): the same bits, nothing outside [o0, o1) of each row written
        for (let trial = 0; trial < 3; trial++) {
          const parts = arena.alloc(B * O);
          arena.guard(parts);
          for (const [o0, o1] of splits(0, O, r))
            arena.writesOnly(
              Array.from({ length: B }, (_, b): [number, number] => [parts.off + (b * O + o0) * 4, parts.off + (b * O + o1) * 4]),
              () => k.linearForward(x.off, wT.off, parts.off, I, O, 0, B, o0, o1),
            );
          sameBits(parts, y);
        }
      });

      it(`linearWeightGrad ${name}`, () => {
        arena.reset();
        const r = rng(s);
        const x = arena.put(values(B * I, r, fill));
        const gy = arena.put(values(B * O, r, { kind: 'dense' }));
        const gw = arena.alloc(I * O);
        arena.writesOnly([[gw.off, gw.off + I * O * 4]], () => k.linearWeightGrad(x.off, gy.off, gw.off, B, I, O, 0, I));
        const want = new Float64Array(I * O);
        const abs = new Float64Array(I * O);
        for (let i = 0; i < I; i++)
          for (let o = 0; o < O; o++)
            for (let b = 0; b < B; b++) {
              const t = x.f32[b * I + i]! * gy.f32[b * O + o]!;
              want[i * O + o] += t;
              abs[i * O + o] += Math.abs(t);
            }
        expectClose('gwT', gw.f32, want, abs, B);
        if (fill.kind === 'spikes') {
          // on spikes, the same bits as the TypeScript kernel (adds only, b increasing)
          const ts = new Float32Array(I * O);
          linearWeightGradRows(x.f32, gy.f32, ts, B, I, O, 0, I);
          expect(Buffer.from(gw.f32.buffer, gw.f32.byteOffset, gw.f32.byteLength).equals(Buffer.from(ts.buffer))).toBe(true);
        }
        for (let trial = 0; trial < 3; trial++) {
          const parts = arena.alloc(I * O);
          arena.guard(parts);
          for (const [i0, i1] of splits(0, I, r))
            arena.writesOnly([[parts.off + i0 * O * 4, parts.off + i1 * O * 4]], () => k.linearWeightGrad(x.off, gy.off, parts.off, B, I, O, i0, i1));
          sameBits(parts, gw);
        }
      });

      it(`linearInputGrad ${name}`, () => {
        arena.reset();
        const r = rng(s);
        const gy = arena.put(values(B * O, r, fill));
        const wv = values(O * I, r, { kind: 'dense' });
        const w = arena.put(wv);
        const wTv = new Float32Array(I * O);
        for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) wTv[i * O + o] = wv[o * I + i]!;
        const wT = arena.put(wTv);
        const gx = arena.alloc(B * I);
        arena.writesOnly([[gx.off, gx.off + B * I * 4]], () => k.linearInputGrad(gy.off, wT.off, gx.off, B, O, I, 0, B, 0, 0, 0, I));
        const want = new Float64Array(B * I);
        const abs = new Float64Array(B * I);
        for (let b = 0; b < B; b++)
          for (let i = 0; i < I; i++)
            for (let o = 0; o < O; o++) {
              const t = gy.f32[b * O + o]! * w.f32[o * I + i]!;
              want[b * I + i] += t;
              abs[b * I + i] += Math.abs(t);
            }
        expectClose('gx', gx.f32, want, abs, O);
        for (let trial = 0; trial < 3; trial++) {
          const parts = arena.alloc(B * I);
          arena.guard(parts);
          for (const [b0, b1] of splits(0, B, r))
            arena.writesOnly([[parts.off + b0 * I * 4, parts.off + b1 * I * 4]], () => k.linearInputGrad(gy.off, wT.off, parts.off, B, O, I, b0, b1, 0, 0, 0, I));
          sameBits(parts, gx);
        }
        const columns = (buf: { off: number }, i0: number, i1: number) => Array.from({ length: B }, (_, b): [number, number] => [buf.off + (b * I + i0) * 4, buf.off + (b * I + i1) * 4]);
        // split by columns (as the backend splits it): the same bits, nothing outside [i0, i1) of each row written
        for (let trial = 0; trial < 3; trial++) {
          const parts = arena.alloc(B * I);
          arena.guard(parts);
          for (const [i0, i1] of splits(0, I, r)) arena.writesOnly(columns(parts, i0, i1), () => k.linearInputGrad(gy.off, wT.off, parts.off, B, O, I, 0, B, 0, 0, i0, i1));
          sameBits(parts, gx);
        }

        // dropout mask [maskRows][I] (values 0 or 2, row b % maskRows): masked entries are exactly +0, the
        // others the same bits as without the mask, for any split
        for (const maskRows of [1, 2, B]) {
          const mv = new Float32Array(maskRows * I);
          for (let j = 0; j < mv.length; j++) mv[j] = r() < 0.5 ? 0 : 2;
          const mask = arena.put(mv);
          const masked = arena.alloc(B * I);
          arena.guard(masked);
          for (const [b0, b1] of splits(0, B, r))
            arena.writesOnly([[masked.off + b0 * I * 4, masked.off + b1 * I * 4]], () => k.linearInputGrad(gy.off, wT.off, masked.off, B, O, I, b0, b1, mask.off, maskRows, 0, I));
          // ... and by columns
          const byColumns = arena.alloc(B * I);
          arena.guard(byColumns);
          for (const [i0, i1] of splits(0, I, r)) arena.writesOnly(columns(byColumns, i0, i1), () => k.linearInputGrad(gy.off, wT.off, byColumns.off, B, O, I, 0, B, mask.off, maskRows, i0, i1));
          sameBits(byColumns, masked);
          for (let b = 0; b < B; b++)
            for (let i = 0; i < I; i++) {
              const j = b * I + i;
              const m = mv[(b % maskRows) * I + i]!;
              if (m === 0) expect(masked.u32[j], `masked gx[${b}][${i}]`).toBe(0);
              else expect(masked.u32[j], `unmasked gx[${b}][${i}]`).toBe(gx.u32[j]);
            }
        }
      });
    }
});

// ------------------------------------------------------------------------------------------ sum over time

describe('sumT', () => {
  // n values per step, and the range [lo, hi) summed: the 16-value blocks, the 4-value vectors and the single values
  const cases: Array<[number, number, number, number]> = [
    [1, 5, 0, 5],
    [3, 7, 1, 6],
    [8, 37, 0, 37],
    [8, 100, 3, 97],
    [5, 64, 16, 64],
  ];
  it.each(cases)('T %i, n %i, values [%i, %i): float32 adds in t order from 0, bit for bit; nothing else written', (T, n, lo, hi) => {
    arena.reset();
    const r = rng(T * 1000 + n);
    const data = Float32Array.from({ length: T * n }, () => (r() < 0.1 ? -0 : r() < 0.2 ? 1 : (r() * 2 - 1) * 2 ** Math.floor(r() * 40 - 20)));
    const x = arena.put(data);
    const y = arena.alloc(n);
    arena.writesOnly([[y.off + 4 * lo, y.off + 4 * hi]], () => k.sumT(x.off + 4 * lo, y.off + 4 * lo, T, n, hi - lo));
    const want = new Float32Array(n);
    for (let j = lo; j < hi; j++) {
      let s = 0;
      for (let t = 0; t < T; t++) s = Math.fround(s + data[t * n + j]!);
      want[j] = s;
    }
    for (let j = lo; j < hi; j++) if (!Object.is(y.f32[j], want[j])) expect.fail(`y[${j}] = ${y.f32[j]}, want ${want[j]}`);
  });
});

describe('dropoutApply', () => {
  // mask length n, values [lo, hi) of x [T][n]: ranges starting inside a repetition of the mask, vectors and single values
  const cases: Array<[number, number, number, number]> = [
    [1, 5, 0, 5],
    [3, 7, 2, 19],
    [4, 9, 0, 36],
    [6, 16, 5, 90],
  ];
  it.each(cases)('T %i, n %i, values [%i, %i): x · mask[j mod n] as float32 products, bit for bit; nothing else written', (T, n, lo, hi) => {
    arena.reset();
    const r = rng(T * 100 + n);
    const data = Float32Array.from({ length: T * n }, () => (r() < 0.1 ? -0 : (r() * 2 - 1) * 2 ** Math.floor(r() * 40 - 20)));
    const maskData = Float32Array.from({ length: n }, () => (r() < 0.5 ? 0 : 2));
    const x = arena.put(data);
    const mask = arena.put(maskData);
    const y = arena.alloc(T * n);
    arena.writesOnly([[y.off + 4 * lo, y.off + 4 * hi]], () => k.dropoutApply(x.off, mask.off, y.off, n, lo, hi));
    for (let j = lo; j < hi; j++) {
      const want = Math.fround(data[j]! * maskData[j % n]!);
      if (!Object.is(y.f32[j], want)) expect.fail(`y[${j}] = ${y.f32[j]}, want ${want}`);
    }
  });
});
