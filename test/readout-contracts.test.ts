// Contracts of the exact readout (core/readout.ts) that the proofs do not pin down: every refusal names
// what is wrong, the integer slack of spike counts and its edge, the [T, N, C] index arithmetic (T, N, C
// all different, so a swapped * or / shows), and the default tie rule. (Surviving mutants of npm run mutate.)
import { describe, expect, it } from 'vitest';
import { classScores, decide, readout, spikeCounts, TIE_RULES, type TieRule } from '../core/readout.js';
import { Rng } from '../core/rng.js';
import { fails } from './fails.js';

// T, N, C all different and > 1
const T = 2;
const N = 3;
const C = 4;
/** out [T, N, C] with out[t, n, c] = value(t, n, c), float64. */
const tensor = (value: (t: number, n: number, c: number) => number) =>
  Float64Array.from({ length: T * N * C }, (_, i) => value(Math.floor(i / (N * C)), Math.floor(i / C) % N, i % C));

describe('spikeCounts', () => {
  it('M must be a positive integer: 1 is accepted; 0, -1, 1.5 and NaN are refused, naming the value', () => {
    expect(Array.from(spikeCounts(Float64Array.of(1, 0), 1, 1, 2, 1))).toEqual([1, 0]);
    for (const M of [0, -1, 1.5, Number.NaN]) {
      fails(() => spikeCounts(new Float64Array(2), 1, 1, 2, M), RangeError, `spikeCounts: M (neurons per class) must be a positive integer, got ${M}`);
    }
  });

  it('counts [N, C] = sum over t of M o[t, n, c] (T, N, C all different)', () => {
    const M = 3;
    const k = (t: number, n: number, c: number) => (t + 2 * n + 3 * c) % (M + 1); // spikes of class c at step t, 0..M
    const counts = spikeCounts(tensor((t, n, c) => k(t, n, c) / M), T, N, C, M);
    const want = Array.from({ length: N * C }, (_, j) => k(0, Math.floor(j / C), j % C) + k(1, Math.floor(j / C), j % C));
    expect(Array.from(counts)).toEqual(want);
  });

  it('refuses an output that is not [T, N, C], naming both lengths', () => {
    for (const len of [T * N * C - 1, T * N * C + 1, N * C]) {
      fails(() => spikeCounts(new Float64Array(len), T, N, C, 2), RangeError, `spikeCounts: output has ${len} values, expected [T, N, C] = [2, 3, 4] = 24`);
    }
  });

  it('M o may lie up to 1e-3 from an integer (inclusive); further is not voted spikes', () => {
    expect(Array.from(spikeCounts(Float64Array.of(1e-3, 1 + 5e-4), 1, 1, 2, 1))).toEqual([0, 1]);
    expect(Array.from(spikeCounts(Float32Array.of(0.1, 0.7), 1, 1, 2, 10))).toEqual([1, 7]); // float32 tenths
    fails(() => spikeCounts(Float64Array.of(0, 1.1e-3), 1, 1, 2, 1), RangeError, 'spikeCounts: output [t=0, n=0, class 1] = 0.0011 is not a multiple of 1/1 in [0, 1] (not voted spikes)');
  });

  it('refuses a negative count and more than M spikes, naming the entry [t, n, class] and its value', () => {
    const M = 2;
    const at = (bad: number, t0: number, n0: number, c0: number) => tensor((t, n, c) => (t === t0 && n === n0 && c === c0 ? bad : 0.5));
    const msg = (t: number, n: number, c: number, v: number) => `spikeCounts: output [t=${t}, n=${n}, class ${c}] = ${v} is not a multiple of 1/2 in [0, 1] (not voted spikes)`;
    fails(() => spikeCounts(at(-0.5, 1, 2, 3), T, N, C, M), RangeError, msg(1, 2, 3, -0.5)); // M o = -1: an integer, but negative
    fails(() => spikeCounts(at(1.5, 1, 1, 2), T, N, C, M), RangeError, msg(1, 1, 2, 1.5)); // M o = 3 > M
    fails(() => spikeCounts(at(0.3, 1, 0, 1), T, N, C, M), RangeError, msg(1, 0, 1, 0.3)); // not a multiple of 1/2
    expect(Array.from(spikeCounts(at(1, 1, 2, 3), T, N, C, M))).toEqual([...new Array(N * C - 1).fill(2), 3]); // exactly M: accepted
  });
});

describe('decide', () => {
  it('refuses scores that are not [N, C], naming both', () => {
    fails(() => decide(new Int32Array(5), 2, 3), RangeError, 'decide: 5 scores, expected [N, C] = [2, 3]');
    fails(() => decide(new Int32Array(7), 2, 3), RangeError, 'decide: 7 scores, expected [N, C] = [2, 3]');
  });

  it("the tie rules are 'first' and 'random'; another is refused, naming them", () => {
    expect(TIE_RULES).toEqual(['first', 'random']);
    for (const rule of ['last', '', 'First']) {
      fails(() => decide(Int32Array.of(1, 1), 1, 2, rule as TieRule), RangeError, `tie rule must be one of first, random, got '${rule}'`);
    }
  });

  it('per-sample Rngs: exactly one per sample, else refused naming both counts', () => {
    const s = Int32Array.of(1, 1, 1, 1); // both samples tied
    fails(() => decide(s, 2, 2, 'random', [Rng.seeded(1)]), RangeError, 'decide: 1 per-sample Rngs for 2 samples');
    fails(() => decide(s, 2, 2, 'random', [Rng.seeded(1), Rng.seeded(2), Rng.seeded(3)]), RangeError, 'decide: 3 per-sample Rngs for 2 samples');
    fails(() => decide(s, 2, 2, 'first', []), RangeError, 'decide: 0 per-sample Rngs for 2 samples');
    expect(decide(s, 2, 2, 'random', [Rng.seeded(1), Rng.seeded(2)]).tied).toEqual(Uint8Array.of(1, 1));
  });
});

describe('classScores and readout', () => {
  it('without voting (M = null): float64 sums over T of out [T, N, C]; an output not [T, N, C] is refused', () => {
    const v = (t: number, n: number, c: number) => 0.25 * t + 0.5 * n + c;
    const s = classScores(tensor(v), T, N, C, null);
    expect(s).toBeInstanceOf(Float64Array);
    expect(Array.from(s)).toEqual(Array.from({ length: N * C }, (_, j) => v(0, Math.floor(j / C), j % C) + v(1, Math.floor(j / C), j % C)));
    fails(() => classScores(new Float64Array(5), T, N, C, null), RangeError, 'classScores: output has 5 values, expected [T, N, C] = [2, 3, 4]');
  });

  it("the default tie rule is 'first': the lowest tied class wins, and the tie is reported", () => {
    // sample 0: classes 1 and 3 tied; sample 1: class 2 alone; sample 2: all tied
    const k = [
      [0, 2, 1, 2],
      [1, 0, 3, 1],
      [1, 1, 1, 1],
    ];
    const out = tensor((t, n, c) => (t === 0 ? k[n]![c]! / 4 : 0)); // M = 4, every spike at step 0
    const r = readout(out, T, N, C, 4);
    expect(Array.from(r.scores)).toEqual(k.flat());
    expect(Array.from(r.predictions)).toEqual([1, 2, 0]);
    expect(Array.from(r.tied)).toEqual([1, 0, 1]);
  });
});
