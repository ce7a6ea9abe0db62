// The data layer draws from core's seeded, serialisable generator (core/rng.ts), passed explicitly.
// Augmentations need only its uniform(), so tests may script their draws. Nothing here touches
// Math.random or any global state.
import { Rng } from '../core/rng.js';

/** core's generator for a seed; the same seed gives the same sequence. */
export function createRng(seed: number): Rng {
  return Rng.seeded(seed);
}

/** Uniform integer in [0, n). */
export function randInt(rng: Pick<Rng, 'uniform'>, n: number): number {
  return Math.min(n - 1, Math.floor(rng.uniform() * n));
}

/** Uniform number in [lo, hi). */
export function uniform(rng: Pick<Rng, 'uniform'>, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.uniform();
}
