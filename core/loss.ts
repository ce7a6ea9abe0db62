// Loss and prediction on host arrays (Sec. 3.7). The backend op Backend.mseLossGrad computes the loss's
// gradient on resident tensors; the loss value is computed here, from the output read back, in float64.
import type { LossForm } from './backend.js';
import { classScores, decide } from './readout.js';
import type { FloatArray } from './types.js';

export type { LossForm };

/**
 * The MSE loss of out [T, N, C] against one-hot labels, in float64 (Sec. 3.7). 'rate' (the released code):
 * mean over (n, c) of (mean_t o - y)^2; 'per-step': the same of o_t, averaged over t.
 */
export function mseLossValue(out: FloatArray, T: number, N: number, C: number, labels: Int32Array, form: LossForm): number {
  if (out.length !== T * N * C) throw new RangeError(`mseLossValue: output has ${out.length} values, expected [T, N, C] = [${T}, ${N}, ${C}] = ${T * N * C}`);
  if (labels.length !== N) throw new RangeError(`mseLossValue: ${labels.length} labels for a batch of ${N}`);
  let loss = 0;
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const y = labels[n] === c ? 1 : 0;
      if (form === 'rate') {
        let r = 0;
        for (let t = 0; t < T; t++) r += out[(t * N + n) * C + c]!;
        r /= T;
        loss += (r - y) * (r - y);
      } else {
        for (let t = 0; t < T; t++) {
          const d = out[(t * N + n) * C + c]! - y;
          loss += (d * d) / T;
        }
      }
    }
  return loss / (N * C);
}

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
