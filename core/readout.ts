// The exact readout (Sec. 3.7): the predicted class is the one with the most output spikes over T.
// The voting layer's output o_{t,n,i} is the mean of M spikes (a multiple of 1/M, stored as float32, so
// not exact for M = 10); its M-fold, M o_{t,n,i}, is the number of the class's M neurons that fired at
// step t, an integer recovered exactly by rounding. Summed over t they give integer spike counts, and
// argmax and ties are decided on those integers, never on rounded sums of fractions.
// Tie rules: 'first' (default): the lowest class index among the tied maxima; 'random': one of them,
// uniformly, drawn from an explicitly passed Rng (one draw per tied sample, in sample order).
import type { Rng } from './rng.js';
import type { FloatArray } from './types.js';

export type TieRule = 'first' | 'random';
export const TIE_RULES: readonly TieRule[] = ['first', 'random'];

/** How far M o may lie from an integer before the output is taken as not being voted spikes. */
const INTEGER_SLACK = 1e-3;

/**
 * Integer spike counts per class, [N, C]: count_{n,i} = sum_t M o_{t,n,i} for out [T, N, C] holding
 * voted spikes (multiples of 1/M in [0, 1]). Throws (naming the entry) when a value is not one.
 */
export function spikeCounts(out: FloatArray, T: number, N: number, C: number, M: number): Int32Array {
  if (!Number.isInteger(M) || M < 1) throw new RangeError(`spikeCounts: M (neurons per class) must be a positive integer, got ${M}`);
  if (out.length !== T * N * C) throw new RangeError(`spikeCounts: output has ${out.length} values, expected [T, N, C] = [${T}, ${N}, ${C}] = ${T * N * C}`);
  const counts = new Int32Array(N * C);
  for (let t = 0; t < T; t++)
    for (let j = 0; j < N * C; j++) {
      const v = out[t * N * C + j]! * M;
      const k = Math.round(v);
      if (!(Math.abs(v - k) <= INTEGER_SLACK && k >= 0 && k <= M)) {
        throw new RangeError(`spikeCounts: output [t=${t}, n=${Math.floor(j / C)}, class ${j % C}] = ${out[t * N * C + j]} is not a multiple of 1/${M} in [0, 1] (not voted spikes)`);
      }
      counts[j] += k;
    }
  return counts;
}

export interface Decision {
  /** Predicted class per sample. */
  predictions: Int32Array;
  /** 1 where the sample's highest score is shared by two or more classes. */
  tied: Uint8Array;
}

/**
 * argmax per row of scores [N, C], exact (=== on the scores), with the tie rule. 'random' draws
 * rng.int(k) among the k tied classes of each tied sample, in sample order (rngs: one Rng per sample
 * instead, so a sample's choice does not depend on the batch it is in).
 */
export function decide(scores: ArrayLike<number>, N: number, C: number, rule: TieRule = 'first', rng: Rng | readonly Rng[] | null = null): Decision {
  if (scores.length !== N * C) throw new RangeError(`decide: ${scores.length} scores, expected [N, C] = [${N}, ${C}]`);
  if (!TIE_RULES.includes(rule)) throw new RangeError(`tie rule must be one of ${TIE_RULES.join(', ')}, got '${String(rule)}'`);
  if (rule === 'random' && !rng) throw new Error("the 'random' tie rule needs an Rng");
  if (Array.isArray(rng) && rng.length !== N) throw new RangeError(`decide: ${rng.length} per-sample Rngs for ${N} samples`);
  const predictions = new Int32Array(N);
  const tied = new Uint8Array(N);
  for (let n = 0; n < N; n++) {
    let best = 0;
    let k = 1;
    for (let c = 1; c < C; c++) {
      const v = scores[n * C + c]!;
      const b = scores[n * C + best]!;
      if (v > b) {
        best = c;
        k = 1;
      } else if (v === b) k++;
    }
    predictions[n] = best; // the first of the maxima
    if (k > 1) {
      tied[n] = 1;
      if (rule === 'random') {
        const r = Array.isArray(rng) ? (rng as readonly Rng[])[n]! : (rng as Rng);
        let pick = r.int(k);
        const top = scores[n * C + best]!;
        for (let c = best; c < C; c++)
          if (scores[n * C + c] === top && pick-- === 0) {
            predictions[n] = c;
            break;
          }
      }
    }
  }
  return { predictions, tied };
}

/**
 * Scores of each class, [N, C]: integer spike counts when the output is voted spikes (M: neurons per
 * class; 1 for a spiking output layer without voting), else (M = null: an output that is not spikes) the
 * float64 sum over T of the outputs.
 */
export function classScores(out: FloatArray, T: number, N: number, C: number, M: number | null): Float64Array | Int32Array {
  if (M !== null) return spikeCounts(out, T, N, C, M);
  if (out.length !== T * N * C) throw new RangeError(`classScores: output has ${out.length} values, expected [T, N, C] = [${T}, ${N}, ${C}]`);
  const s = new Float64Array(N * C);
  for (let t = 0; t < T; t++) for (let j = 0; j < N * C; j++) s[j] += out[t * N * C + j]!;
  return s;
}

/** Predicted classes of out [T, N, C]: argmax of the exact class scores, ties by `rule`. */
export function readout(out: FloatArray, T: number, N: number, C: number, M: number | null, rule: TieRule = 'first', rng: Rng | readonly Rng[] | null = null): Decision & { scores: Float64Array | Int32Array } {
  const scores = classScores(out, T, N, C, M);
  return { ...decide(scores, N, C, rule, rng), scores };
}
