// Shared helpers of the proofs: run counts, tolerances, finite differences, and a record of the largest
// disagreement each proof saw (printed when its file finishes).
import fc from 'fast-check';
import { afterAll } from 'vitest';
import { surrogateByName, SURROGATE_NAMES } from '../core/surrogates.js';
import type { NeuronConfig } from '../core/neuron.js';

/** An environment variable, or undefined (also in a browser, where the conformance page runs some proofs). */
export function envVar(name: string): string | undefined {
  return typeof process !== 'undefined' ? process.env[name] : undefined;
}

/** Runs per property; PLIF_PROOF_RUNS raises it for a longer soak. */
export const RUNS = Math.max(200, Number(envVar('PLIF_PROOF_RUNS') ?? 200));

/** fast-check parameters: run count and, when PLIF_PROOF_SEED is set, a fixed seed to replay a failure. */
export function params(runs = RUNS): fc.Parameters<unknown> {
  const seed = envVar('PLIF_PROOF_SEED');
  return { numRuns: runs, ...(seed !== undefined ? { seed: Number(seed) } : {}) };
}

/** |a - b| <= atol + rtol * max(|a|, |b|) */
export function close(a: number, b: number, rtol: number, atol: number): boolean {
  return Math.abs(a - b) <= atol + rtol * Math.max(Math.abs(a), Math.abs(b));
}

/** Relative disagreement with an absolute floor, the figure the proofs report. */
export function relErr(a: number, b: number, floor: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b), floor);
}

/** Keeps the largest disagreement of a named proof and prints it when the test file ends. */
export function disagreementLog(file: string): (name: string, err: number) => void {
  const worst = new Map<string, number>();
  afterAll(() => {
    const lines = [...worst].map(([n, e]) => `  ${n}: ${e.toExponential(2)}`);
    console.log(`largest disagreement (${file}):\n${lines.join('\n')}`);
  });
  return (name, err) => {
    if (!(err <= (worst.get(name) ?? 0))) worst.set(name, Math.max(err, worst.get(name) ?? 0));
  };
}

/**
 * Derivative of f at x by central differences with steps h and h/2 (h = 6e-6 * max(1, |x|)), Richardson-
 * extrapolated: (4 D(h/2) - D(h)) / 3 cancels the h^2 term, so a sharply curved loss (BN over two nearly
 * equal samples) is matched to ~1e-10 where one central difference was off by 1e-5.
 */
export function centralDiff(f: (x: number) => number, x: number): number {
  const h = 6e-6 * Math.max(1, Math.abs(x));
  const d = (s: number) => (f(x + s) - f(x - s)) / (2 * s);
  return (4 * d(h / 2) - d(h)) / 3;
}

export const surrogateArb = fc
  .record({ name: fc.constantFrom(...SURROGATE_NAMES), alpha: fc.double({ min: 0.5, max: 5, noNaN: true }) })
  .map(({ name, alpha }) => surrogateByName(name, alpha));

/** Every combination of kind x hard/soft reset x decayInput x detachReset x surrogate. */
export const neuronConfigArb: fc.Arbitrary<NeuronConfig> = fc
  .record({
    kind: fc.constantFrom('if' as const, 'lif' as const, 'plif' as const),
    tau: fc.double({ min: 1.05, max: 10, noNaN: true }),
    hard: fc.boolean(),
    vReset: fc.double({ min: -0.5, max: 0.5, noNaN: true }),
    gap: fc.double({ min: 0.2, max: 2, noNaN: true }),
    decayInput: fc.boolean(),
    detachReset: fc.boolean(),
    surrogate: surrogateArb,
  })
  .map((r) => ({
    kind: r.kind,
    tau: r.tau,
    vReset: r.hard ? r.vReset : null,
    vThreshold: r.hard ? r.vReset + r.gap : r.gap,
    decayInput: r.decayInput,
    detachReset: r.detachReset,
    surrogate: r.surrogate,
  }));

/** T in 1..16, n in 1..6, x in [-2, 4], gradS and gradV in [-1, 1], a in [-4, 4]. */
export const neuronCaseArb = fc
  .record({ T: fc.integer({ min: 1, max: 16 }), n: fc.integer({ min: 1, max: 6 }) })
  .chain(({ T, n }) => {
    const vec = (min: number, max: number) =>
      fc.array(fc.double({ min, max, noNaN: true }), { minLength: T * n, maxLength: T * n }).map((a) => Float64Array.from(a));
    return fc.record({
      cfg: neuronConfigArb,
      T: fc.constant(T),
      n: fc.constant(n),
      a: fc.double({ min: -4, max: 4, noNaN: true }),
      x: vec(-2, 4),
      gradS: vec(-1, 1),
      gradV: vec(-1, 1),
      useGradV: fc.boolean(),
      v0: fc.option(fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: n, maxLength: n }).map((a) => Float64Array.from(a)), { nil: undefined }),
    });
  });

/** Points where sigma' has a corner: there the primitive is only C1 and a central difference is O(h), not O(h^2). */
export function corners(name: string, alpha: number): number[] {
  if (name === 'piecewiseQuadratic') return [0, -1 / alpha, 1 / alpha];
  if (name === 'piecewiseExp' || name === 'softSign') return [0];
  return [];
}
