// Loss and prediction on host arrays (Sec. 3.7). The backend op Backend.mseLoss computes the same loss
// and its gradient on resident tensors; these host versions serve evaluation and tests.
import type { LossForm } from './backend.js';
import type { FloatArray } from './types.js';

export type { LossForm };

/** Firing rate per class: mean over T of out [T, N, C] -> [N, C]. */
export function firingRates(out: FloatArray, T: number, N: number, C: number): Float64Array {
  const r = new Float64Array(N * C);
  for (let t = 0; t < T; t++) for (let j = 0; j < N * C; j++) r[j] += out[t * N * C + j]! / T;
  return r;
}

/** l_p = argmax_i (1/T) sum_t o_{t,i} (Sec. 3.7); ties -> the first class. */
export function predict(out: FloatArray, T: number, N: number, C: number): Int32Array {
  const r = firingRates(out, T, N, C);
  const p = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    let best = -Infinity;
    for (let c = 0; c < C; c++)
      if (r[n * C + c]! > best) {
        best = r[n * C + c]!;
        p[n] = c;
      }
  }
  return p;
}
