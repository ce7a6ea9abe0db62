// Loss and prediction on host arrays (Sec. 3.7). The backend op Backend.mseLoss computes the same loss
// and its gradient on resident tensors; these host versions serve evaluation and tests.
import type { LossForm } from './backend.js';
import { classScores, decide } from './readout.js';
import type { FloatArray } from './types.js';

export type { LossForm };

/** Firing rate per class: mean over T of out [T, N, C] -> [N, C]. */
export function firingRates(out: FloatArray, T: number, N: number, C: number): Float64Array {
  const r = new Float64Array(N * C);
  for (let t = 0; t < T; t++) for (let j = 0; j < N * C; j++) r[j] += out[t * N * C + j]! / T;
  return r;
}

/**
 * l_p = argmax_i sum_t o_{t,i} (Sec. 3.7) on exact scores (core/readout.ts): integer spike counts when
 * the output is voted spikes (M neurons per class; 1 for a spiking output without voting), else the
 * float64 sum over T (M = null). Ties -> the first class.
 */
export function predict(out: FloatArray, T: number, N: number, C: number, M: number | null): Int32Array {
  return decide(classScores(out, T, N, C, M), N, C, 'first').predictions;
}
