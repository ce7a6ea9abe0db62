// The readout (Sec. 3.7, core/readout.ts) is exact: predictions are decided on integer spike counts per
// class (the voting layer's output times M, summed over T), and ties follow the stated rule, never
// rounding noise of float32 fractions such as 0.1.
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../core/backend.js';
import { cpuBackend } from '../backends/cpu/index.js';
import { predict } from '../core/loss.js';
import { parseStructure } from '../core/network/parser.js';
import { PRESETS, type Preset } from '../core/network/presets.js';
import { classScores, decide, readout, spikeCounts } from '../core/readout.js';
import { Rng } from '../core/rng.js';
import { params } from './util.js';

// made inside each test, not at collection (npm run mutate would count that code as static)
let backend!: Backend;
beforeEach(() => {
  backend ??= cpuBackend();
});

/** The voting layer's float32 output [T, N, C] of spikes [T, N, C*M], computed by the CPU backend's vote op. */
function voted(spikes: Float32Array, T: number, N: number, C: number, M: number): Float32Array {
  const x = backend.upload(spikes, [T, N, C * M]);
  const y = backend.vote(x, M);
  const out = backend.download(y) as Float32Array;
  backend.dispose(x);
  backend.dispose(y);
  return out;
}

/** Spikes [T, N, C*M] whose class c of sample n holds exactly counts[n*C + c] ones, scattered over steps and neurons. */
function spikesWithCounts(rng: Rng, counts: Int32Array, T: number, N: number, C: number, M: number): Float32Array {
  const s = new Float32Array(T * N * C * M);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const slots = rng.permutation(T * M); // slot = t*M + m
      for (let k = 0; k < counts[n * C + c]!; k++) {
        const t = Math.floor(slots[k]! / M);
        s[(t * N + n) * C * M + c * M + (slots[k]! % M)] = 1;
      }
    }
  return s;
}

/** The readout this replaces: float64 sums of the float32 rates, strict > (so ties go by rounding noise). */
function floatArgmax(out: Float32Array, T: number, N: number, C: number): Int32Array {
  const p = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    let best = -Infinity;
    for (let c = 0; c < C; c++) {
      let r = 0;
      for (let t = 0; t < T; t++) r += out[(t * N + n) * C + c]! / T;
      if (r > best) {
        best = r;
        p[n] = c;
      }
    }
  }
  return p;
}

/**
 * (T, M, classes) of a preset: M is the kernel of the final voting layer APkMsM. Parsed inside the tests,
 * not at collection (npm run mutate would count the parser as static code).
 */
const readoutOf = (p: Preset) => {
  const last = parseStructure(p.structure).at(-1)!;
  if (last.kind !== 'avgpool') throw new Error(`${p.name} does not end with a voting layer`);
  return { T: p.T, M: last.kernel, C: p.classes };
};

describe('exact readout', () => {
  it('presets: every (T, M) the presets use is covered', () => {
    expect(new Set(Object.values(PRESETS).map(readoutOf).map((r) => `${r.T}/${r.M}`))).toEqual(new Set(['8/10', '10/10', '20/10', '4/10']));
  });

  for (const preset of Object.values(PRESETS)) {
    it(`${preset.name} (T = ${preset.T}): tied counts are ties, the first tied class wins; 'random' picks each tied class`, () => {
      const { T, M, C } = readoutOf(preset);
      const rng = Rng.seeded(T * 1000 + M);
      const N = 300;
      const counts = new Int32Array(N * C);
      const tiedSets: number[][] = [];
      for (let n = 0; n < N; n++) {
        const top = 1 + rng.int(T * M); // 1..T*M spikes for the tied classes
        const k = 2 + rng.int(Math.min(3, C - 1)); // 2..4 tied classes
        const tied = Array.from(rng.permutation(C).subarray(0, k)).sort((a, b) => a - b);
        for (let c = 0; c < C; c++) counts[n * C + c] = tied.includes(c) ? top : rng.int(top);
        tiedSets.push(tied);
      }
      const out = voted(spikesWithCounts(rng, counts, T, N, C, M), T, N, C, M);
      expect(Array.from(spikeCounts(out, T, N, C, M))).toEqual(Array.from(counts));
      const first = readout(out, T, N, C, M, 'first');
      expect(Array.from(first.tied)).toEqual(new Array(N).fill(1));
      expect(Array.from(first.predictions)).toEqual(tiedSets.map((s) => s[0]));
      expect(Array.from(predict(out, T, N, C, M))).toEqual(tiedSets.map((s) => s[0]));
      // the float readout orders some of these ties by rounding noise (why the counts are needed)
      if (M === 10) expect(Array.from(floatArgmax(out, T, N, C)).some((p, n) => p !== tiedSets[n]![0])).toBe(true);
      // random: always one of the tied classes; over the samples, a later tied class is chosen too
      const rnd = readout(out, T, N, C, M, 'random', Rng.seeded(1));
      rnd.predictions.forEach((p, n) => expect(tiedSets[n]).toContain(p));
      expect(Array.from(rnd.predictions).filter((p, n) => p !== tiedSets[n]![0]).length).toBeGreaterThan(N / 4);
      expect(Array.from(readout(out, T, N, C, M, 'random', Rng.seeded(1)).predictions)).toEqual(Array.from(rnd.predictions)); // seeded
    });
  }

  it('property: the prediction is the first argmax of the exact counts of random spike trains', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 10 }),
        fc.integer({ min: 2, max: 11 }),
        fc.integer({ min: 1, max: 6 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (seed, T, M, C, N, rate) => {
          const rng = Rng.seeded(seed);
          const s = Float32Array.from({ length: T * N * C * M }, () => (rng.uniform() < rate ? 1 : 0));
          const counts = new Int32Array(N * C); // exact, from the spikes themselves
          for (let t = 0; t < T; t++) for (let n = 0; n < N; n++) for (let j = 0; j < C * M; j++) counts[n * C + Math.floor(j / M)] += s[(t * N + n) * C * M + j]!;
          const out = voted(s, T, N, C, M);
          const want = new Int32Array(N);
          const wantTied = new Uint8Array(N);
          for (let n = 0; n < N; n++) {
            const row = Array.from(counts.subarray(n * C, (n + 1) * C));
            const top = Math.max(...row);
            want[n] = row.indexOf(top);
            wantTied[n] = row.filter((v) => v === top).length > 1 ? 1 : 0;
          }
          const r = readout(out, T, N, C, M, 'first');
          expect(Array.from(r.scores)).toEqual(Array.from(counts));
          expect(Array.from(r.predictions)).toEqual(Array.from(want));
          expect(Array.from(r.tied)).toEqual(Array.from(wantTied));
          const rr = readout(out, T, N, C, M, 'random', rng);
          for (let n = 0; n < N; n++) expect(counts[n * C + rr.predictions[n]!]).toBe(counts[n * C + want[n]!]);
          for (let n = 0; n < N; n++) if (!wantTied[n]) expect(rr.predictions[n]).toBe(want[n]);
        },
      ),
      params(),
    );
  });

  it("'random' is uniform over the tied classes (3 tied: each about 1/3 of 30000 draws)", () => {
    const scores = Int32Array.of(5, 7, 2, 7, 7); // classes 1, 3, 4 tied
    const rng = Rng.seeded(42);
    const hits = new Map<number, number>();
    for (let i = 0; i < 30000; i++) {
      const p = decide(scores, 1, 5, 'random', rng).predictions[0]!;
      hits.set(p, (hits.get(p) ?? 0) + 1);
    }
    expect([...hits.keys()].sort()).toEqual([1, 3, 4]);
    for (const h of hits.values()) expect(Math.abs(h - 10000)).toBeLessThan(500); // ~6 standard deviations
    // per-sample Rngs: a sample's choice depends on its own Rng only
    const two = Int32Array.of(1, 1, 0, 3, 0, 3);
    const a = decide(two, 2, 3, 'random', [Rng.seeded(5), Rng.seeded(6)]).predictions;
    const b = decide(two.subarray(3), 1, 3, 'random', [Rng.seeded(6)]).predictions;
    expect(a[1]).toBe(b[0]);
  });

  it('refuses outputs that are not voted spikes, and a random rule without an Rng', () => {
    expect(() => spikeCounts(Float32Array.of(0.1, 0.25), 1, 1, 2, 10)).toThrow(/class 1\] = 0.25 is not a multiple of 1\/10/);
    expect(() => spikeCounts(Float32Array.of(0.1), 2, 1, 1, 10)).toThrow(/expected \[T, N, C\]/);
    expect(() => decide(Int32Array.of(1, 1), 1, 2, 'random')).toThrow(/needs an Rng/);
    // an output that is not spikes (M = null): float64 sums, ties by ===
    expect(Array.from(classScores(Float32Array.of(0.5, 0.25, 0.25, 0.5), 2, 1, 2, null))).toEqual([0.75, 0.75]);
    expect(decide(classScores(Float32Array.of(0.5, 0.25, 0.25, 0.5), 2, 1, 2, null), 1, 2).tied[0]).toBe(1);
  });
});
