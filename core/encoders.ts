// Input encoders (Supplementary 10). `direct` is the paper's learnable encoder: the image itself is fed at
// every step to the first {Conv2d-BN-Spiking Neurons} module (the static encoder, computed once). The
// two fixed encoders turn pixel intensities p in [0, 1] into binary spikes [T, N, C, H, W] before the
// network, which then runs every layer at every step (no static-encoder shortcut):
//  - poisson: S_t = 1 with probability p, independently at every step (E[sum_t S_t] = pT);
//  - latency: one spike at t_p = floor((T - 1)(1 - p)) (Supp. 10), brighter pixels earlier; p = 0 never spikes.
// Pure functions over flat row-major arrays; randomness only from the Rng passed in.
import type { Rng } from './rng.js';

export const ENCODER_NAMES = ['direct', 'poisson', 'latency'] as const;
export type EncoderName = (typeof ENCODER_NAMES)[number];

/** True for the encoders that turn images into spikes before the network. */
export function isSpikeEncoder(name: EncoderName): name is 'poisson' | 'latency' {
  return name === 'poisson' || name === 'latency';
}

export function checkEncoderName(name: unknown): EncoderName {
  if (!(ENCODER_NAMES as readonly unknown[]).includes(name)) throw new RangeError(`encoder must be one of ${ENCODER_NAMES.join(', ')}, got ${JSON.stringify(name)}`);
  return name as EncoderName;
}

/** Throws unless every value of x is an intensity in [0, 1] (the spike encoders need unnormalised pixels). */
export function checkIntensities(x: ArrayLike<number>, what = 'encoder input'): void {
  for (let i = 0; i < x.length; i++) {
    const p = x[i]!;
    if (!(p >= 0 && p <= 1)) throw new RangeError(`${what}: value ${p} at index ${i} is not an intensity in [0, 1] (give the spike encoders unnormalised pixels)`);
  }
}

/** The latency encoder's spike time of intensity p at T steps: floor((T - 1)(1 - p)) (Supp. 10), or -1 (never) for p = 0. */
export function latencyTime(p: number, T: number): number {
  return p > 0 ? Math.floor((T - 1) * (1 - p)) : -1;
}

/**
 * Poisson spikes of a batch x [N, per] into out [T, N, per]: out[(t*N + b)*per + j] = 1 with probability
 * x[b*per + j] (Supp. 10). Draws sample by sample (then step, then pixel) from `rng`, or from each
 * sample's own Rng (rng[b]), so a sample's spikes do not depend on how a pass is cut into batches.
 */
export function poissonEncodeInto(x: ArrayLike<number>, N: number, T: number, rng: Rng | readonly Rng[], out: Float32Array): Float32Array {
  const per = checkSizes('poissonEncodeInto', x.length, N, T, out.length);
  if (Array.isArray(rng) && rng.length !== N) throw new RangeError(`poissonEncodeInto: ${rng.length} per-sample Rngs for a batch of ${N}`);
  for (let b = 0; b < N; b++) {
    const r: Rng = Array.isArray(rng) ? rng[b]! : (rng as Rng);
    for (let t = 0; t < T; t++) {
      const o = (t * N + b) * per;
      const xo = b * per;
      for (let j = 0; j < per; j++) out[o + j] = r.uniform() < x[xo + j]! ? 1 : 0;
    }
  }
  return out;
}

/** Latency spikes of a batch x [N, per] into out [T, N, per]: one spike at t = latencyTime(p, T) (Supp. 10). */
export function latencyEncodeInto(x: ArrayLike<number>, N: number, T: number, out: Float32Array): Float32Array {
  const per = checkSizes('latencyEncodeInto', x.length, N, T, out.length);
  out.fill(0);
  for (let b = 0; b < N; b++) {
    for (let j = 0; j < per; j++) {
      const t = latencyTime(x[b * per + j]!, T);
      if (t >= 0) out[(t * N + b) * per + j] = 1;
    }
  }
  return out;
}

function checkSizes(what: string, n: number, N: number, T: number, outLength: number): number {
  if (!Number.isInteger(N) || N <= 0 || n % N !== 0) throw new RangeError(`${what}: ${n} values are not a batch of ${N} samples`);
  if (!Number.isInteger(T) || T <= 0) throw new RangeError(`${what}: T must be a positive integer, got ${T}`);
  if (outLength !== T * n) throw new RangeError(`${what}: out holds ${outLength} values, expected T*N*per = ${T * n}`);
  return n / N;
}

/**
 * Spikes [T, N, ...] (time-major, flattened) of a batch x [N, ...] of intensities. Checks that x holds
 * intensities in [0, 1]; `poisson` needs `rng` (the run's seeded stream, or one Rng per sample).
 */
export function encodeSpikes(name: 'poisson' | 'latency', x: ArrayLike<number>, N: number, T: number, rng: Rng | readonly Rng[] | null): Float32Array {
  checkIntensities(x, `${name} encoder input`);
  const out = new Float32Array(T * x.length);
  if (name === 'latency') return latencyEncodeInto(x, N, T, out);
  if (!rng) throw new Error('the poisson encoder needs a seeded Rng (RunCtx.rng or sampleRngs; evaluate passes one per sample)');
  return poissonEncodeInto(x, N, T, rng, out);
}
