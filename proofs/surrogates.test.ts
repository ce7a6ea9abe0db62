// Proof ladder, step 1: each surrogate's derivative is the derivative of its own smooth primitive.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { surrogateGrad } from '../core/scalar.js';
import { erf, surrogates, SURROGATE_NAMES } from '../core/surrogates.js';
import { centralDiff, close, corners, disagreementLog, params, relErr } from './util.js';

const record = disagreementLog('surrogates');

describe('surrogate grad = central finite difference of primitive', () => {
  for (const name of SURROGATE_NAMES) {
    it(name, () => {
      fc.assert(
        fc.property(fc.double({ min: 0.5, max: 5, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), (alpha, x) => {
          const step = 6e-6 * Math.max(1, Math.abs(x));
          fc.pre(corners(name, alpha).every((c) => Math.abs(x - c) > 2 * step));
          const sg = surrogates[name](alpha);
          const fd = centralDiff(sg.primitive, x);
          record(name, relErr(sg.grad(x), fd, 1e-3));
          return close(sg.grad(x), fd, 1e-6, 1e-8);
        }),
        params(),
      );
    });
  }

  it('at a corner of sigma\', the central difference is off by no more than h * |jump of sigma\'\'| / 2', () => {
    for (const alpha of [0.5, 1, 2, 5]) {
      const h = 6e-6;
      const jumps: [string, number, number][] = [
        ['softSign', 0, 2 * alpha * alpha],
        ['piecewiseExp', 0, alpha * alpha],
        ['piecewiseQuadratic', 0, 2 * alpha * alpha],
        ['piecewiseQuadratic', 1 / alpha, alpha * alpha],
      ];
      for (const [name, x, jump] of jumps) {
        const sg = surrogates[name as 'softSign'](alpha);
        const err = Math.abs(sg.grad(x) - centralDiff(sg.primitive, x));
        record(`${name} at corner`, err);
        expect(err).toBeLessThanOrEqual((h * Math.max(1, Math.abs(x)) * jump) / 2 + 1e-9);
      }
    }
  });

  it('atan(2) is the paper\'s sigma\'(x) = 1 / (1 + (pi x)^2) and sigma(x) = atan(pi x)/pi + 1/2', () => {
    const sg = surrogates.atan();
    expect(sg.alpha).toBe(2);
    for (const x of [-1.5, -0.3, 0, 0.25, 2]) {
      expect(sg.grad(x)).toBeCloseTo(1 / (1 + (Math.PI * x) ** 2), 15);
      expect(sg.primitive(x)).toBeCloseTo(Math.atan(Math.PI * x) / Math.PI + 0.5, 15);
    }
  });

  it('default alphas', () => {
    expect(SURROGATE_NAMES.map((n) => [n, surrogates[n]().alpha])).toEqual([
      ['atan', 2], ['sigmoid', 4], ['piecewiseQuadratic', 1], ['piecewiseExp', 1], ['softSign', 2], ['erf', 2],
    ]);
  });

  it('primitives run from 0 to 1 and pass 1/2 at 0', () => {
    for (const name of SURROGATE_NAMES) {
      const sg = surrogates[name]();
      expect(sg.primitive(0)).toBeCloseTo(0.5, 14);
      expect(sg.primitive(-40)).toBeLessThan(1e-2);
      expect(sg.primitive(40)).toBeGreaterThan(1 - 1e-2);
    }
  });

  it('erf matches tabulated values', () => {
    // Abramowitz & Stegun Table 7.1
    expect(erf(0.5)).toBeCloseTo(0.5204998778130465, 15);
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 15);
    expect(erf(2)).toBeCloseTo(0.9953222650189527, 15);
    expect(erf(-1)).toBeCloseTo(-0.8427007929497149, 15);
  });

  it('each code selects its own surrogate in the kernels: surrogateGrad(code, x, alpha) = grad(x), distinct codes', () => {
    const codes = new Set<number>();
    for (const name of SURROGATE_NAMES) {
      const sg = surrogates[name](1.7);
      codes.add(sg.code);
      for (const x of [-2, -0.4, 0, 0.3, 1.1]) expect(surrogateGrad(sg.code, x, sg.alpha), `${name} at ${x}`).toBe(sg.grad(x));
      expect(sg.grad(0.3), `${name} differs from every other surrogate`).not.toBe(surrogates[SURROGATE_NAMES[(SURROGATE_NAMES.indexOf(name) + 1) % SURROGATE_NAMES.length]!](1.7).grad(0.3));
    }
    expect(codes.size).toBe(SURROGATE_NAMES.length);
  });

  it('rejects a non-positive alpha', () => {
    expect(() => surrogates.atan(0)).toThrow(/alpha must be a finite number > 0/);
    expect(() => surrogates.sigmoid(Number.NaN)).toThrow(RangeError);
  });
});
