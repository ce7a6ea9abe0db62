import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cosineAnnealingLr } from '../../core/optim.js';
import { Rng } from '../../core/rng.js';

describe('Rng', () => {
  it('is deterministic, serialisable and resumes exactly from its state', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.integer({ min: 0, max: 50 }), (seed, skip) => {
        const a = Rng.seeded(seed);
        for (let i = 0; i < skip; i++) a.nextUint32();
        const st = a.state();
        expect(st.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)).toBe(true);
        const b = Rng.fromState([...st]);
        for (let i = 0; i < 20; i++) expect(b.nextUint32()).toBe(a.nextUint32());
      }),
      { numRuns: 100 },
    );
  });

  it('draws uniform values in [0, 1) with a plausible mean, ints in range, permutations', () => {
    const r = Rng.seeded(42);
    let s = 0;
    for (let i = 0; i < 20000; i++) {
      const u = r.uniform();
      expect(u >= 0 && u < 1).toBe(true);
      s += u;
    }
    expect(Math.abs(s / 20000 - 0.5)).toBeLessThan(0.01);
    const p = Array.from(r.permutation(50)).sort((x, y) => x - y);
    expect(p).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const c = r.split();
    const d = Rng.seeded(42);
    expect(c.nextUint32()).not.toBe(d.nextUint32());
    expect(() => Rng.fromState([1, 2, 3])).toThrow(RangeError);
  });
});

describe('cosine annealing (PyTorch CosineAnnealingLR closed form, T_max = 64, per epoch)', () => {
  it('starts at the base rate, reaches 0 at T_max and keeps following the cosine past it', () => {
    expect(cosineAnnealingLr(1e-3, 0)).toBe(1e-3);
    expect(cosineAnnealingLr(1e-3, 32)).toBeCloseTo(5e-4, 15);
    expect(cosineAnnealingLr(1e-3, 64)).toBeCloseTo(0, 15);
    expect(cosineAnnealingLr(1e-3, 96)).toBeCloseTo(5e-4, 15);
    expect(cosineAnnealingLr(1e-3, 128)).toBeCloseTo(1e-3, 15);
    expect(cosineAnnealingLr(1e-3, 1)).toBeCloseTo(1e-3 * (1 + Math.cos(Math.PI / 64)) / 2, 18);
    expect(() => cosineAnnealingLr(1e-3, -1)).toThrow(RangeError);
  });
});

describe('sfc32 words', () => {
  /** sfc32 as published, on plain uint32 numbers (>>> 0 after every operation): the reference the typed-array state must follow. */
  function reference(state: number[]): () => number {
    let [a, b, c, d] = state as [number, number, number, number];
    return () => {
      const t = (((a + b) >>> 0) + d) >>> 0;
      d = (d + 1) >>> 0;
      a = (b ^ (b >>> 9)) >>> 0;
      b = (c + (c << 3)) >>> 0;
      c = ((c << 21) | (c >>> 11)) >>> 0;
      c = (c + t) >>> 0;
      return t;
    };
  }

  it('follows the reference from any state, words above 2^31 and wrap-arounds included', () => {
    for (const state of [
      [0, 0, 0, 0],
      [1, 2, 3, 4],
      [2 ** 32 - 1, 2 ** 31, 2 ** 31 - 1, 2 ** 32 - 1],
      [3735928559, 305419896, 2882400000, 4294967295],
    ]) {
      const r = Rng.fromState(state);
      const ref = reference(state);
      for (let i = 0; i < 10000; i++) expect(r.nextUint32()).toBe(ref());
      expect(r.state().every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)).toBe(true);
    }
  });

  it('gives the pinned state after 5 million draws of seed 1 (saved runs resume on these streams)', () => {
    const r = Rng.seeded(1);
    for (let i = 0; i < 5e6; i++) r.uniform();
    expect(r.state()).toEqual([4046005024, 247453537, 908655318, 2046432051]);
  });
});
