// Backend conformance suite: every op and a whole training step of random small networks (parsed from
// random structure strings) on the backend under test equal the float64 reference backend within
// float32 tolerance. Usage in a *.test.ts file:  conformanceSuite('cpu', () => cpuBackend());
// The gpu.js backend reuses it unchanged.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Backend, Tensor } from '../core/backend.js';
import { poolTieDrawRange } from '../core/network/layers.js';
import { Network, networkConfig } from '../core/network/network.js';
import { mseLossValue } from '../core/loss.js';
import { lossAndGradients } from '../core/network/train.js';
import { neuronConfig, type NeuronConfig } from '../core/neuron.js';
import { Rng } from '../core/rng.js';
import { surrogates } from '../core/surrogates.js';
import type { FloatArray } from '../core/types.js';
import { referenceBackend } from '../reference/ops-backend.js';

/** Float32 tolerance: |a - r| <= atol * max(1, max|r|) + rtol * |r|. */
export const F32_TOL = { rtol: 1e-4, atol: 1e-5 };

export function expectClose(actual: FloatArray, expected: FloatArray, what: string, tol = F32_TOL): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 1;
  for (const v of expected) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const r = expected[i]!;
    if (!(Math.abs(a - r) <= tol.atol * scale + tol.rtol * Math.abs(r))) {
      throw new Error(`${what}[${i}]: got ${a}, reference ${r} (|diff| ${Math.abs(a - r)}, scale ${scale})`);
    }
  }
}

function randArray(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.range(lo, hi);
  return a;
}

/** Smallest per-channel variance of x viewed as [B, C, S]. */
export function minChannelVariance(x: FloatArray, B: number, C: number, S: number): number {
  let min = Infinity;
  for (let c = 0; c < C; c++) {
    let m = 0;
    for (let b = 0; b < B; b++) for (let i = 0; i < S; i++) m += x[(b * C + c) * S + i]!;
    m /= B * S;
    let q = 0;
    for (let b = 0; b < B; b++) for (let i = 0; i < S; i++) q += (x[(b * C + c) * S + i]! - m) ** 2;
    min = Math.min(min, q / (B * S));
  }
  return min;
}

function spikes(rng: Rng, n: number, rate: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform() < rate ? 1 : 0;
  return a;
}

/** Runs `f` on both backends with the same host inputs and returns both results' downloads. */
async function both<R extends Record<string, Tensor | null>>(
  b: Backend,
  ref: Backend,
  inputs: { data: Float32Array; shape: number[] }[],
  f: (be: Backend, t: Tensor[]) => R,
): Promise<{ got: Record<keyof R, FloatArray | null>; want: Record<keyof R, FloatArray | null> }> {
  const run = async (be: Backend) => {
    const ts = inputs.map((i) => be.upload(i.data, i.shape));
    const r = f(be, ts);
    const keys = (Object.keys(r) as (keyof R)[]).filter((k) => r[k]);
    const values = await be.read(keys.map((k) => r[k]!));
    const out = {} as Record<keyof R, FloatArray | null>;
    for (const k of Object.keys(r) as (keyof R)[]) out[k] = null;
    keys.forEach((k, i) => {
      out[k] = values[i]!;
      be.dispose(r[k]!);
    });
    for (const t of ts) be.dispose(t);
    return out;
  };
  return { got: await run(b), want: await run(ref) };
}

function compareAll(r: { got: Record<string, FloatArray | null>; want: Record<string, FloatArray | null> }, what: string): void {
  for (const k of Object.keys(r.want)) {
    const w = r.want[k];
    const g = r.got[k];
    if (w === null) expect(g, `${what}.${k}`).toBeNull();
    else expectClose(g!, w, `${what}.${k}`);
  }
}

const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

/** Random small networks in the paper's notation, with their input shape and class count. */
export const structureArb = fc
  .record({
    blocks: fc.array(
      fc.record({
        ch: fc.integer({ min: 1, max: 4 }),
        k: fc.constantFrom(1, 3),
        neuron: fc.constantFrom('PLIF', 'LIF', 'IF'),
        pool: fc.constantFrom('MPk2s2', 'APk2s2', ''),
        bn: fc.boolean(),
      }),
      { minLength: 0, maxLength: 2 },
    ),
    fcs: fc.array(fc.record({ f: fc.integer({ min: 2, max: 12 }), dp: fc.boolean(), neuron: fc.constantFrom('PLIF', 'LIF') }), { minLength: 0, maxLength: 1 }),
    classes: fc.integer({ min: 2, max: 3 }),
    lastNeuron: fc.constantFrom('PLIF', 'LIF', 'IF'),
    dpLast: fc.boolean(),
    inC: fc.integer({ min: 1, max: 2 }),
    hw: fc.constantFrom(4, 6),
    T: fc.integer({ min: 1, max: 4 }),
    N: fc.integer({ min: 1, max: 3 }),
    static: fc.boolean(),
    loss: fc.constantFrom('rate' as const, 'per-step' as const),
    tau0: fc.constantFrom(2, 3, 1.5),
    poolTies: fc.constantFrom('first' as const, 'random' as const),
  })
  .map((r) => {
    const parts: string[] = [];
    let hw: number = r.hw;
    for (const bl of r.blocks) {
      parts.push(`c${bl.ch}k${bl.k}s1`);
      if (bl.bn) parts.push('BN');
      parts.push(bl.neuron);
      if (bl.pool && hw >= 2) {
        parts.push(bl.pool);
        hw = Math.floor(hw / 2);
      }
    }
    for (const f of r.fcs) parts.push(...(f.dp ? ['DP'] : []), `FC${f.f}`, f.neuron);
    parts.push(...(r.dpLast ? ['DP'] : []), `FC${r.classes * 10}`, r.lastNeuron, 'APk10s10');
    return { ...r, structure: parts.join('-') };
  });

/**
 * `factory` gives the backend under test (it may hand out one shared backend); `fresh`, where a suite can make
 * a backend of its own, gives one that the destroy test may destroy.
 */
export function conformanceSuite(name: string, factory: () => Backend, fresh?: () => Backend | Promise<Backend>): void {
  // built inside the tests, not while they are collected (npm run mutate counts code run at collection
  // as static: each of its mutants would need the whole test set)
  let made: Backend | null = null;
  const reference = (): Backend => (made ??= referenceBackend());
  describe(`backend conformance: ${name} vs float64 reference`, () => {
    it('upload/download/reshape/dispose round-trip and count live tensors', async () => {
      const b = factory();
      const base = b.liveTensors();
      const t = b.upload([1, 2, 3, 4, 5, 6], [2, 3]);
      const r = b.reshape(t, [3, 2]);
      expect(r.shape).toEqual([3, 2]);
      expect(Array.from((await b.read([r]))[0]!)).toEqual([1, 2, 3, 4, 5, 6]);
      b.dispose(t);
      expect(Array.from((await b.read([r]))[0]!)).toEqual([1, 2, 3, 4, 5, 6]);
      b.dispose(r);
      expect(b.liveTensors()).toBe(base);
      await expect(b.read([r])).rejects.toThrow(/dispose/);
      const z = b.zeros([5]);
      const u = b.upload([7, -8], [2]);
      const [zv, uv] = await b.read([z, u]); // several tensors, one readback
      expect(Array.from(zv!)).toEqual([0, 0, 0, 0, 0]);
      expect(Array.from(uv!)).toEqual([7, -8]);
      expect(await b.read([])).toEqual([]);
      b.dispose(z);
      b.dispose(u);
      expect(() => b.reshape(b.zeros([4]), [3])).toThrow();
    });

    it('refuses arguments that do not fit, with the same messages on every backend, and leaks nothing', () => {
      const b = factory();
      const base = b.liveTensors();
      const ts: Tensor[] = [];
      const z = (...shape: number[]) => {
        const t = b.zeros(shape);
        ts.push(t);
        return t;
      };
      const conv = { stride: 1, padding: 0 };
      const pool = { kernel: 2, stride: 2 };
      const bn = { training: true, momentum: 0.1, eps: 1e-5, spatialDims: 2 };
      const plif = neuronConfig({ kind: 'plif', tau: 2 });
      const trace = { s: z(2, 3), h: z(2, 3), v: z(2, 3) };
      const refusals: [() => unknown, RegExp][] = [
        [() => b.conv2d(z(1, 2, 4, 4), z(3, 3, 3, 3), conv), /^conv2d: input \[1, 2, 4, 4\] does not fit weight \[3, 3, 3, 3\]$/],
        [() => b.conv2d(z(1, 1, 2, 2), z(1, 1, 3, 3), conv), /^conv2d: empty output for input \[1, 1, 2, 2\], kernel 3, stride 1, padding 0$/],
        [() => b.conv2dBackward(z(1, 1, 4, 4), z(2, 1, 3, 3), z(1, 2, 3, 3), conv, true), /^conv2dBackward gy: shape \[1, 2, 3, 3\], expected \[1, 2, 2, 2\]$/],
        [() => b.linear(z(2, 5), z(3, 4)), /^linear: input features 5, weight expects 4$/],
        [() => b.linearBackward(z(2, 4), z(3, 4), z(2, 2), true), /^linearBackward gy: shape \[2, 2\], expected \[2, 3\]$/],
        [() => b.batchNorm(z(2, 3, 2, 2), z(3), z(2), z(3), z(3), bn), /^batchNorm beta: shape \[2\], expected \[3\]$/],
        [() => b.batchNormBackward(z(2, 3, 2, 2), z(3), { mean: z(3), invStd: z(3) }, z(2, 3, 2, 1), bn), /^batchNormBackward gy: shape \[2, 3, 2, 1\], expected \[2, 3, 2, 2\]$/],
        [() => b.maxPool2dBackward(z(1, 1, 2, 1), z(1, 1, 2, 2), [1, 1, 4, 4], pool), /^maxPool2dBackward gy: shape \[1, 1, 2, 1\], expected \[1, 1, 2, 2\]$/],
        [() => b.avgPool2d(z(1, 1, 1, 4), pool), /^pool: empty output for input \[1, 1, 1, 4\], kernel 2, stride 2$/],
        [() => b.avgPool2dBackward(z(1, 1, 2, 3), [1, 1, 4, 4], pool), /^avgPool2dBackward gy: shape \[1, 1, 2, 3\], expected \[1, 1, 2, 2\]$/],
        [() => b.dropout(z(2, 3, 4), z(3, 3)), /^dropout mask: shape \[3, 3\], expected \[3, 4\]$/],
        [() => b.neuron(plif, z(2, 3), null), /^neuron: a PLIF layer needs its parameter a$/],
        [() => b.neuronBackward(plif, z(2, 3), trace, z(3, 2), z(1)), /^neuronBackward gs: shape \[3, 2\], expected \[2, 3\]$/],
        [() => b.vote(z(2, 7), 2), /^vote: 7 features are not a multiple of M = 2$/],
        [() => b.mseLossGrad(z(2, 3, 4), new Int32Array(2), 'rate'), /^mseLossGrad: 2 labels for a batch of 3$/],
        [() => b.adam(z(3), z(4), z(3), z(3), { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 }), /^adam grad: shape \[4\], expected \[3\]$/],
        [() => b.upload([1, 2, 3], [2, 2]), /^upload: 3 values for shape \[2, 2\]$/],
      ];
      for (const [call, message] of refusals) expect(call, String(message)).toThrow(message);
      for (const t of ts) b.dispose(t);
      expect(b.liveTensors(), 'the refused calls made no tensor').toBe(base);
    });

    if (fresh) it('a destroyed backend refuses every call, naming itself, and a second destroy does nothing', async () => {
      const b = await fresh();
      const x = b.upload([1, 2, 3, 4], [2, 2]);
      const w = b.upload([1, 0, 0, 1], [2, 2]);
      b.destroy();
      const refused = new RegExp(`^${b.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} backend used after destroy\\(\\)$`);
      for (const call of [() => b.upload([1], [1]), () => b.zeros([2]), () => b.download(x), () => b.reshape(x, [4]), () => b.linear(x, w), () => b.sumT(x)]) expect(call).toThrow(refused);
      await expect(b.read([x])).rejects.toThrow(refused);
      expect(() => b.destroy()).not.toThrow();
      expect(() => b.dispose(x)).not.toThrow(); // releasing after the backend went is harmless
    });

    it('countBad: NaN, infinities and values beyond the limit, over several tensors (the divergence check)', async () => {
      const b = factory();
      const base = b.liveTensors();
      const x = b.upload([0, 1.5, -2e6, NaN, 3], [5]);
      const y = b.upload([Infinity, -Infinity, 1e6, -1e6, 0.25, 7], [2, 3]);
      const clean = b.upload([0, -1, 2], [3]);
      const counts = [b.countBad([x, y], Infinity), b.countBad([x, y], 1e6), b.countBad([x, y], 1), b.countBad([clean], 1e6), b.countBad([], 1e6), b.countBad([x], 2)];
      expect(Array.from((await b.read(counts)).map((c) => c[0]!))).toEqual([3, 4, 9, 0, 0, 3]);
      for (const t of [x, y, clean, ...counts]) b.dispose(t);
      expect(b.liveTensors()).toBe(base);
    });

    it('conv2d forward/backward (general k, s, p; dense and spike inputs)', async () => {
      const b = factory();
      await fc.assert(
        fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 2 }), fc.boolean(), async (seed, B, C, O, K, s, p, spk) => {
          const rng = Rng.seeded(seed);
          const H = K + rng.int(5);
          const W = K + rng.int(5);
          const Ho = Math.floor((H + 2 * p - K) / s) + 1;
          const Wo = Math.floor((W + 2 * p - K) / s) + 1;
          const x = spk ? spikes(rng, B * C * H * W, 0.3) : randArray(rng, B * C * H * W);
          const w = randArray(rng, O * C * K * K);
          const gy = randArray(rng, B * O * Ho * Wo);
          const prm = { stride: s, padding: p };
          const r = await both(b, reference(), [{ data: x, shape: [B, C, H, W] }, { data: w, shape: [O, C, K, K] }, { data: gy, shape: [B, O, Ho, Wo] }], (be, [xt, wt, gt]) => {
            const y = be.conv2d(xt!, wt!, prm);
            expect(y.shape).toEqual([B, O, Ho, Wo]);
            const g = be.conv2dBackward(xt!, wt!, gt!, prm, true);
            return { y, gx: g.gx, gw: g.gw };
          });
          compareAll(r, 'conv2d');
        }),
        { numRuns: 100 },
      );
    });

    it('linear forward/backward over leading dims', async () => {
      const b = factory();
      await fc.assert(
        fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 12 }), fc.boolean(), async (seed, T, N, I, O, spk) => {
          const rng = Rng.seeded(seed);
          const x = spk ? spikes(rng, T * N * I, 0.2) : randArray(rng, T * N * I);
          const r = await both(b, reference(), [{ data: x, shape: [T, N, I] }, { data: randArray(rng, O * I), shape: [O, I] }, { data: randArray(rng, T * N * O), shape: [T, N, O] }], (be, [xt, wt, gt]) => {
            const y = be.linear(xt!, wt!);
            expect(y.shape).toEqual([T, N, O]);
            const g = be.linearBackward(xt!, wt!, gt!, true);
            return { y, gx: g.gx, gw: g.gw };
          });
          compareAll(r, 'linear');
        }),
        { numRuns: 100 },
      );
    });

    it('batch norm: training statistics over all T*N samples, running update, eval, backward', async () => {
      const b = factory();
      await fc.assert(
        fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom(0, 2), async (seed, T, N, C, sd) => {
          const rng = Rng.seeded(seed);
          const sp = sd === 2 ? [1 + rng.int(3), 1 + rng.int(3)] : [];
          const shape = [T, N, C, ...sp];
          const n = shape.reduce((a, c) => a * c, 1);
          if (T * N * sp.reduce((a, c) => a * c, 1) < 2) return;
          const x = randArray(rng, n, -2, 3);
          // Well-conditioned batches only: when a channel's batch variance approaches eps, the three terms
          // of dL/dx cancel and any float32 rounding of the mean is amplified beyond float32 tolerance,
          // whatever the algorithm (a float32-only backend cannot do better; see conformance-cpu.test.ts
          // for the CPU backend, which keeps double intermediates, on such a batch).
          fc.pre(minChannelVariance(x, T * N, C, sp.reduce((a, c) => a * c, 1)) > 0.05);
          const gamma = randArray(rng, C, 0.5, 1.5);
          const beta = randArray(rng, C);
          const rm = randArray(rng, C);
          const rv = randArray(rng, C, 0.5, 2);
          const gy = randArray(rng, n);
          const p = { momentum: 0.1, eps: 1e-5, spatialDims: sd };
          const r = await both(b, reference(), [{ data: x, shape }, { data: gamma, shape: [C] }, { data: beta, shape: [C] }, { data: rm, shape: [C] }, { data: rv, shape: [C] }, { data: gy, shape }], (be, [xt, g, bt, m, v, gt]) => {
            const tr = be.batchNorm(xt!, g!, bt!, m!, v!, { ...p, training: true });
            const back = be.batchNormBackward(xt!, g!, tr.saved, gt!, { ...p, training: true });
            const ev = be.batchNorm(xt!, g!, bt!, m!, v!, { ...p, training: false });
            for (const t of [tr.saved.mean, tr.saved.invStd, ev.saved.mean, ev.saved.invStd]) be.dispose(t);
            return { y: tr.y, gx: back.gx, gGamma: back.gGamma, gBeta: back.gBeta, runMean: be.reshape(m!, [C]), runVar: be.reshape(v!, [C]), yEval: ev.y };
          });
          compareAll(r, 'batchNorm');
        }),
        { numRuns: 100 },
      );
    });

    it('max pooling saves the first winner, or with tie draws the (draw mod c)-th of c maxima; avg pooling; both backward', async () => {
      const b = factory();
      await fc.assert(
        fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.boolean(), async (seed, B, C, K, s, spk, random) => {
          const rng = Rng.seeded(seed);
          const H = K + rng.int(5);
          const W = K + rng.int(5);
          const Ho = Math.floor((H - K) / s) + 1;
          const Wo = Math.floor((W - K) / s) + 1;
          const x = spk ? spikes(rng, B * C * H * W, 0.5) : randArray(rng, B * C * H * W);
          const gy = randArray(rng, B * C * Ho * Wo);
          const draws = Float32Array.from({ length: B * C * Ho * Wo }, () => rng.int(poolTieDrawRange(K)));
          const p = { kernel: K, stride: s };
          const r = await both(b, reference(), [{ data: x, shape: [B, C, H, W] }, { data: gy, shape: [B, C, Ho, Wo] }, { data: draws, shape: [B, C, Ho, Wo] }], (be, [xt, gt, dt]) => {
            const mp = be.maxPool2d(xt!, p, random ? dt : null);
            const gmx = be.maxPool2dBackward(gt!, mp.argmax, xt!.shape, p);
            const ap = be.avgPool2d(xt!, p);
            const gap = be.avgPool2dBackward(gt!, xt!.shape, p);
            return { y: mp.y, argmax: mp.argmax, gmx, ap, gap };
          });
          compareAll(r, 'pool');
          // on spikes the maxima of a window are its 1s (or all of it when none fired): without draws the
          // winner is the first of them; with draws, the (draw mod c)-th of the c maxima
          if (spk) {
            const am = r.got.argmax!;
            for (let o = 0; o < am.length; o++) {
              const bc = Math.floor(o / (Ho * Wo));
              const oy = Math.floor((o % (Ho * Wo)) / Wo);
              const ox = o % Wo;
              const ones: number[] = [];
              for (let q = 0; q < K * K; q++) if (x[(bc * H + oy * s + Math.floor(q / K)) * W + ox * s + (q % K)] === 1) ones.push(q);
              const maxima = ones.length ? ones : Array.from({ length: K * K }, (_, q) => q);
              expect(am[o]).toBe(maxima[random ? draws[o]! % maxima.length : 0]);
            }
          }
        }),
        { numRuns: 100 },
      );
    });

    it('dropout mask shared over T, vote, repeatT/sumT, both loss forms, adam', async () => {
      const b = factory();
      await fc.assert(
        fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.constantFrom('rate' as const, 'per-step' as const), async (seed, T, N, C, M, form) => {
          const rng = Rng.seeded(seed);
          const F = C * M;
          const x = randArray(rng, T * N * F);
          const mask = new Float32Array(N * F).map(() => (rng.uniform() < 0.5 ? 0 : 2));
          const labels = Int32Array.from({ length: N }, () => rng.int(C));
          const p = randArray(rng, 7);
          const g = randArray(rng, 7);
          const m = randArray(rng, 7, -0.1, 0.1);
          const v = randArray(rng, 7, 0, 0.1);
          const r = await both(b, reference(), [{ data: x, shape: [T, N, F] }, { data: mask, shape: [N, F] }, { data: p, shape: [7] }, { data: g, shape: [7] }, { data: m, shape: [7] }, { data: v, shape: [7] }], (be, [xt, mt, pt, gt, m1, v1]) => {
            const dp = be.dropout(xt!, mt!);
            const vote = be.vote(xt!, M);
            const gvote = be.voteBackward(vote, M);
            const flat = be.reshape(xt!, [T, N * F]);
            const s = be.sumT(flat);
            const rep = be.repeatT(s, T);
            const lossGrad = be.mseLossGrad(vote, labels, form);
            be.adam(pt!, gt!, m1!, v1!, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3 });
            be.dispose(flat);
            return { dp, vote, gvote, s, rep, lossGrad, p: be.reshape(pt!, [7]), m: be.reshape(m1!, [7]), v: be.reshape(v1!, [7]) };
          });
          compareAll(r, 'misc');
          // the loss value is computed on the host from each backend's output
          const lossGot = mseLossValue(r.got.vote!, T, N, C, labels, form);
          const lossWant = mseLossValue(r.want.vote!, T, N, C, labels, form);
          expect(Math.abs(lossGot - lossWant)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(lossWant)));
        }),
        { numRuns: 100 },
      );
    });

    it('multi-step neuron forward/backward for every kind, reset and surrogate', async () => {
      const b = factory();
      const sgs = [surrogates.atan(2), surrogates.sigmoid(4), surrogates.piecewiseQuadratic(1), surrogates.piecewiseExp(2), surrogates.softSign(2), surrogates.erf(2)];
      await fc.assert(
        fc.asyncProperty(
          seedArb,
          fc.integer({ min: 1, max: 6 }),
          fc.integer({ min: 1, max: 20 }),
          fc.constantFrom('if' as const, 'lif' as const, 'plif' as const),
          fc.boolean(),
          fc.boolean(),
          fc.boolean(),
          fc.integer({ min: 0, max: 5 }),
          async (seed, T, n, kind, hard, decayInput, detachReset, si) => {
            const rng = Rng.seeded(seed);
            const cfg: NeuronConfig = neuronConfig({ kind, tau: 1.5 + 2 * rng.uniform(), vReset: hard ? 0 : null, decayInput, detachReset, surrogate: sgs[si]! });
            const x = randArray(rng, T * n, -1, 3);
            const gs = randArray(rng, T * n);
            const aVal = rng.range(-2, 2);
            // skip inputs whose potential is within float32 noise of the threshold (a spike could flip)
            const probe = reference().upload(x, [T, n]);
            const pa = reference().upload([aVal], [1]);
            const tr = reference().neuron(cfg, probe, kind === 'plif' ? pa : null);
            const near = Array.from(reference().download(tr.h)).some((h) => Math.abs(h - cfg.vThreshold) < 1e-4);
            for (const t of [probe, pa, tr.s, tr.h, tr.v]) reference().dispose(t);
            fc.pre(!near);
            const r = await both(b, reference(), [{ data: x, shape: [T, n] }, { data: gs, shape: [T, n] }, { data: Float32Array.of(aVal), shape: [1] }], (be, [xt, gt, at]) => {
              const a = kind === 'plif' ? at! : null;
              const tr2 = be.neuron(cfg, xt!, a);
              const bk = be.neuronBackward(cfg, xt!, tr2, gt!, a);
              return { s: tr2.s, h: tr2.h, v: tr2.v, gx: bk.gx, ga: bk.ga };
            });
            compareAll(r, `neuron(${kind})`);
          },
        ),
        { numRuns: 150 },
      );
    });

    it('a whole training step of random networks from random structure strings: loss and every gradient (incl. dL/da)', async () => {
      const b = factory();
      await fc.assert(
        fc.asyncProperty(structureArb, seedArb, async (s, seed) => {
          const cfg = networkConfig(s.structure, [s.inC, s.hw, s.hw], s.classes, { T: s.T, static: s.static, loss: s.loss, tau0: s.tau0, poolTies: s.poolTies });
          const inRng = Rng.seeded(seed);
          const per = s.inC * s.hw * s.hw * (s.static ? 1 : s.T);
          const x = s.static ? randArray(inRng, per * s.N, -2, 3) : spikes(inRng, per * s.N, 0.4);
          const labels = Int32Array.from({ length: s.N }, () => inRng.int(s.classes));
          // reference run, recording how close any potential came to the threshold
          let margin = Infinity;
          const probe: Backend = {
            ...reference(),
            neuron(c, xt, a) {
              const tr = reference().neuron(c, xt, a);
              for (const h of reference().download(tr.h)) margin = Math.min(margin, Math.abs(h - c.vThreshold));
              return tr;
            },
          };
          const run = async (be: Backend) => {
            const net = new Network(be, cfg, Rng.seeded(seed + 1));
            const r = await lossAndGradients(net, { x, labels }, Rng.seeded(seed + 2));
            const withGrad = net.params().filter((p) => p.grad);
            const values = await be.read(withGrad.map((p) => p.grad!));
            const grads = net.params().map((p) => ({ name: p.name, g: p.grad ? values[withGrad.indexOf(p)]! : null }));
            const live = be.liveTensors();
            net.dispose();
            return { loss: r.loss, grads, live, params: net.params().length };
          };
          const want = await run(probe);
          fc.pre(margin > 1e-3);
          const before = b.liveTensors();
          const got = await run(b);
          expect(b.liveTensors(), 'no leaked tensors').toBe(before);
          expect(Math.abs(got.loss - want.loss), `loss of ${s.structure}`).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(want.loss)));
          for (let i = 0; i < want.grads.length; i++) {
            const w = want.grads[i]!;
            expect(got.grads[i]!.name).toBe(w.name);
            expect(w.g, `${w.name} has a gradient`).not.toBeNull();
            expectClose(got.grads[i]!.g!, w.g!, `${s.structure} T=${s.T} N=${s.N} ${w.name}`);
          }
        }),
        { numRuns: 60 },
      );
    });
  });
}
