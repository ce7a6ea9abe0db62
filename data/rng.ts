// The data layer draws uniform numbers from any object with uniform(): in the library that is core's
// seeded, serialisable generator (core/rng.ts), passed explicitly; tests may script the draws. Nothing
// here touches Math.random or any global state.
import { Rng as CoreRng } from '../core/rng.js';

/** A source of uniform numbers in [0, 1). */
export interface Rng {
  uniform(): number;
}

/** core's generator for a seed; the same seed gives the same sequence. */
export function createRng(seed: number): CoreRng {
  return CoreRng.seeded(seed);
}

/** Uniform integer in [0, n). */
export function randInt(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng.uniform() * n));
}

/** Uniform number in [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.uniform();
}

/** Fisher–Yates shuffle in place; returns its argument. */
export function shuffleInPlace<A extends { length: number; [i: number]: number }>(a: A, rng: Rng): A {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    const tmp = a[i]!;
    a[i] = a[j]!;
    a[j] = tmp;
  }
  return a;
}
