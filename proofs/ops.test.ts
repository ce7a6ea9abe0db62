// Proof ladder step 4: every layer op's hand-written backward (reference/ops.ts, float64) equals central
// finite differences of its own forward: step h = 6e-6 max(1, |x|), |a - n| <= atol + rtol |n|.
// The scalar loss is L = sum_i r_i y_i for a random upstream gradient r (or the loss itself for MSE).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../core/rng.js';
import { poolTieDrawRange } from '../core/network/layers.js';
import * as ops from '../reference/ops.js';

const ATOL = 1e-7;
const RTOL = 1e-6;
const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });

function rand(rng: Rng, n: number, lo = -1, hi = 1): Float64Array {
  return Float64Array.from({ length: n }, () => rng.range(lo, hi));
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Checks grad against central differences of loss() with respect to every entry of x (mutated and restored). */
function checkFd(what: string, x: Float64Array, grad: Float64Array, loss: () => number): void {
  expect(grad.length, `${what}: gradient length`).toBe(x.length);
  for (let i = 0; i < x.length; i++) {
    const x0 = x[i]!;
    const h = 6e-6 * Math.max(1, Math.abs(x0));
    x[i] = x0 + h;
    const lp = loss();
    x[i] = x0 - h;
    const lm = loss();
    x[i] = x0;
    const n = (lp - lm) / (2 * h);
    const a = grad[i]!;
    if (!(Math.abs(a - n) <= ATOL + RTOL * Math.abs(n))) {
      throw new Error(`${what}[${i}]: backward ${a}, finite difference ${n}, |diff| ${Math.abs(a - n)}`);
    }
  }
}

describe('reference op backward = central finite differences of the float64 forward', () => {
  it('conv2d: dL/dx and dL/dW (general kernel, stride, padding)', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 2 }), (seed, B, C, O, K, s, p) => {
        const rng = Rng.seeded(seed);
        const H = K + rng.int(3);
        const W = K + rng.int(3);
        const xs = [B, C, H, W];
        const x = rand(rng, B * C * H * W);
        const w = rand(rng, O * C * K * K);
        const y0 = ops.conv2d(x, xs, w, O, K, s, p);
        const r = rand(rng, y0.length);
        const g = ops.conv2dBackward(x, xs, w, O, K, s, p, r);
        const L = () => dot(r, ops.conv2d(x, xs, w, O, K, s, p));
        checkFd('conv2d dx', x, g.gx, L);
        checkFd('conv2d dw', w, g.gw, L);
      }),
      { numRuns: 100 },
    );
  });

  it('linear: dL/dx and dL/dW', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), (seed, B, I, O) => {
        const rng = Rng.seeded(seed);
        const x = rand(rng, B * I);
        const w = rand(rng, O * I);
        const r = rand(rng, B * O);
        const g = ops.linearBackward(x, B, I, w, O, r);
        const L = () => dot(r, ops.linear(x, B, I, w, O));
        checkFd('linear dx', x, g.gx, L);
        checkFd('linear dw', w, g.gw, L);
      }),
      { numRuns: 100 },
    );
  });

  it('batch norm (training, batch statistics): dL/dx, dL/dgamma, dL/dbeta', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), (seed, B, C, S) => {
        fc.pre(B * S >= 2);
        const rng = Rng.seeded(seed);
        const x = rand(rng, B * C * S, -2, 2);
        const gamma = rand(rng, C, 0.5, 1.5);
        const beta = rand(rng, C);
        const r = rand(rng, x.length);
        const eps = 1e-5;
        const f = ops.batchNormTrain(x, B, C, S, gamma, beta, eps);
        const g = ops.batchNormBackward(x, B, C, S, gamma, f.mean, f.invStd, r);
        const L = () => dot(r, ops.batchNormTrain(x, B, C, S, gamma, beta, eps).y);
        checkFd('bn dx', x, g.gx, L);
        checkFd('bn dgamma', gamma, g.gGamma, L);
        checkFd('bn dbeta', beta, g.gBeta, L);
      }),
      { numRuns: 100 },
    );
  });

  it('batch norm: normalises to zero mean and unit (biased) variance; running update uses n/(n-1)', () => {
    const rng = Rng.seeded(7);
    const x = rand(rng, 2 * 3 * 5, -3, 4);
    const f = ops.batchNormTrain(x, 2, 3, 5, new Float64Array([1, 1, 1]), new Float64Array(3), 0);
    for (let c = 0; c < 3; c++) {
      const vals = [0, 1].flatMap((b) => Array.from(f.y.subarray((b * 3 + c) * 5, (b * 3 + c) * 5 + 5)));
      const m = vals.reduce((a, v) => a + v, 0) / 10;
      expect(Math.abs(m)).toBeLessThan(1e-12);
      expect(Math.abs(vals.reduce((a, v) => a + (v - m) ** 2, 0) / 10 - 1)).toBeLessThan(1e-12);
    }
    const rm = new Float64Array(3);
    const rv = new Float64Array([1, 1, 1]);
    ops.batchNormRunningUpdate(rm, rv, f.mean, f.variance, 10, 0.1);
    expect(rm[0]).toBeCloseTo(0.1 * f.mean[0]!, 14);
    expect(rv[0]).toBeCloseTo(0.9 + 0.1 * f.variance[0]! * (10 / 9), 14);
  });

  it('max pooling with distinct values: gradient to the winner; avg pooling', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), (seed, B, C, K, s) => {
        const rng = Rng.seeded(seed);
        const H = K + rng.int(4);
        const W = K + rng.int(4);
        const xs = [B, C, H, W];
        const n = B * C * H * W;
        const perm = rng.permutation(n);
        const x = Float64Array.from(perm, (v) => v * 0.01 + 0.001 * rng.uniform()); // distinct, spaced >> h
        const mp = ops.maxPool2d(x, xs, K, s);
        const r = rand(rng, mp.y.length);
        checkFd('maxpool dx', x, ops.maxPool2dBackward(r, mp.argmax, xs, K, s), () => dot(r, ops.maxPool2d(x, xs, K, s).y));
        checkFd('avgpool dx', x, ops.avgPool2dBackward(r, xs, K, s), () => dot(r, ops.avgPool2d(x, xs, K, s)));
      }),
      { numRuns: 100 },
    );
  });

  it('max pooling ties pick the first index of the window', () => {
    const x = new Float64Array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1]); // [1,1,4,4]
    const r = ops.maxPool2d(x, [1, 1, 4, 4], 2, 2);
    expect(Array.from(r.y)).toEqual([1, 1, 0, 1]);
    expect(Array.from(r.argmax)).toEqual([0, 1, 0, 0]); // window (1,1) is all ones: the first wins
  });

  it('max pooling with tie draws: the (draw mod c)-th of the c maxima wins; random draws pick every tied input about equally often', () => {
    const x = new Float64Array([1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1]); // [1,1,4,4]: windows with 2, 1, 4 (all 0) and 4 (all 1) maxima
    const pick = (d: number[]) => Array.from(ops.maxPool2d(x, [1, 1, 4, 4], 2, 2, d).argmax);
    expect(pick([0, 0, 0, 0])).toEqual([0, 1, 0, 0]); // draw 0 = the first rule
    expect(pick([1, 5, 2, 3])).toEqual([1, 1, 2, 3]);
    expect(pick([2, 7, 7, 6])).toEqual([0, 1, 3, 2]);
    expect(Array.from(ops.maxPool2d(x, [1, 1, 4, 4], 2, 2, [2, 7, 7, 6]).y)).toEqual([1, 1, 0, 1]); // the max itself never changes
    const range = poolTieDrawRange(2);
    expect(range).toBe(12); // lcm(1..4): every c = 1..4 divides it, so draw mod c is as uniform as the draw
    const rng = Rng.seeded(3);
    const hits = [0, 0, 0, 0];
    for (let i = 0; i < 20000; i++) hits[ops.maxPool2d(x, [1, 1, 4, 4], 2, 2, [0, 0, 0, rng.int(range)]).argmax[3]!]++;
    for (const h of hits) expect(Math.abs(h - 5000)).toBeLessThan(400); // ~6.5 standard deviations
    expect([poolTieDrawRange(1), poolTieDrawRange(3), poolTieDrawRange(4), poolTieDrawRange(5)]).toEqual([1, 2520, 720720, 2 ** 24]);
  });

  it('max pooling with tied spikes: the backward routes dL/dy to the saved winner = finite differences with that winner lifted above its ties', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 2, max: 3 }), fc.integer({ min: 0, max: 1 }), fc.boolean(), (seed, B, C, K, extra, random) => {
        const rng = Rng.seeded(seed);
        const s = K + extra; // windows do not overlap, so lifting one window's winner leaves the others alone
        const H = K + s * rng.int(3);
        const W = K + s * rng.int(3);
        const xs = [B, C, H, W];
        const x = Float64Array.from({ length: B * C * H * W }, () => (rng.uniform() < 0.5 ? 1 : 0)); // spikes: ties everywhere
        const draws = random ? Float64Array.from({ length: B * C * (Math.floor((H - K) / s) + 1) * (Math.floor((W - K) / s) + 1) }, () => rng.int(poolTieDrawRange(K))) : null;
        const mp = ops.maxPool2d(x, xs, K, s, draws);
        const r = rand(rng, mp.y.length);
        const g = ops.maxPool2dBackward(r, mp.argmax, xs, K, s);
        // lift each window's saved winner by 0.01 (>> the FD step): the max is then unique and is that input
        const Ho = Math.floor((H - K) / s) + 1;
        const Wo = Math.floor((W - K) / s) + 1;
        const lifted = x.slice();
        for (let o = 0; o < mp.argmax.length; o++) {
          const bc = Math.floor(o / (Ho * Wo));
          const oy = Math.floor((o % (Ho * Wo)) / Wo);
          const a = mp.argmax[o]!;
          lifted[(bc * H + oy * s + Math.floor(a / K)) * W + (o % Wo) * s + (a % K)]! += 0.01;
        }
        checkFd('maxpool dx (tied, saved winner)', lifted, g, () => dot(r, ops.maxPool2d(lifted, xs, K, s).y));
      }),
      { numRuns: 100 },
    );
  });

  it('dropout (mask shared over T), voting, repeatT / sumT', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), (seed, T, C, M) => {
        const rng = Rng.seeded(seed);
        const n = C * M;
        const x = rand(rng, T * n);
        const mask = Float64Array.from({ length: n }, () => (rng.uniform() < 0.5 ? 0 : 2));
        const r = rand(rng, T * n);
        checkFd('dropout dx', x, ops.dropout(r, T, mask), () => dot(r, ops.dropout(x, T, mask)));
        const rv = rand(rng, T * C);
        checkFd('vote dx', x, ops.voteBackward(rv, T, C, M), () => dot(rv, ops.vote(x, T, C, M)));
        const rs = rand(rng, n);
        checkFd('sumT dx', x, ops.repeatT(rs, T), () => dot(rs, ops.sumT(x, T)));
        const xs = rand(rng, n);
        const rr = rand(rng, T * n);
        checkFd('repeatT dx', xs, ops.sumT(rr, T), () => dot(rr, ops.repeatT(xs, T)));
      }),
      { numRuns: 100 },
    );
  });

  it('MSE loss, firing-rate (released code) and per-step (Sec. 3.7) forms', () => {
    fc.assert(
      fc.property(seedArb, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 4 }), fc.constantFrom('rate' as const, 'per-step' as const), (seed, T, N, C, form) => {
        const rng = Rng.seeded(seed);
        const out = rand(rng, T * N * C, 0, 1);
        const labels = Int32Array.from({ length: N }, () => rng.int(C));
        const { grad } = ops.mseLoss(out, T, N, C, labels, form);
        checkFd(`mse(${form})`, out, grad, () => ops.mseLoss(out, T, N, C, labels, form).loss);
      }),
      { numRuns: 100 },
    );
  });

  it('MSE forms agree on constant-in-time outputs and differ otherwise as Jensen says', () => {
    const labels = Int32Array.of(1);
    const cst = new Float64Array([0.2, 0.7, 0.2, 0.7]); // T=2, N=1, C=2
    expect(ops.mseLoss(cst, 2, 1, 2, labels, 'rate').loss).toBeCloseTo(ops.mseLoss(cst, 2, 1, 2, labels, 'per-step').loss, 15);
    const alt = new Float64Array([0, 1, 1, 0]);
    expect(ops.mseLoss(alt, 2, 1, 2, labels, 'rate').loss).toBeCloseTo(0.25, 15); // rates (0.5, 0.5)
    expect(ops.mseLoss(alt, 2, 1, 2, labels, 'per-step').loss).toBeCloseTo(0.5, 15);
  });

  it('Adam: the first step moves every parameter by lr against the gradient sign (PyTorch bias correction)', () => {
    fc.assert(
      fc.property(seedArb, (seed) => {
        const rng = Rng.seeded(seed);
        const p = rand(rng, 10);
        const p0 = p.slice();
        const g = rand(rng, 10).map((v) => (Math.abs(v) < 0.01 ? 0.5 : v));
        ops.adam(p, g, new Float64Array(10), new Float64Array(10), 1e-3, 0.9, 0.999, 1e-8, 1);
        for (let i = 0; i < 10; i++) expect(Math.abs(p0[i]! - p[i]! - 1e-3 * Math.sign(g[i]!))).toBeLessThan(1e-9);
      }),
      { numRuns: 100 },
    );
  });
});
