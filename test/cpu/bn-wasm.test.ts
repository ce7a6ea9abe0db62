// Batch norm in WebAssembly (the per-channel float64 sums two channels per f64x2, the element math
// compiled from core/scalar.ts) equals the TypeScript kernel bit for bit: the output, the saved mean and
// 1/std, the running statistics (training and evaluation), dL/dx, dL/dgamma and dL/dbeta, over channel
// counts that leave 0 to 3 channels after the groups of four, odd spatial sizes, a variance near eps,
// one and two threads.
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { bits } from './bits.js';

function values(n: number, seed: number, scale: number, offset = 0): Float32Array {
  let a = seed;
  const r = () => (a = (a * 1103515245 + 12345) >>> 0) / 2 ** 32;
  return Float32Array.from({ length: n }, () => {
    const u = r();
    if (u < 0.04) return 0;
    if (u < 0.06) return -0;
    return offset + (r() * 2 - 1) * scale;
  });
}

describe('batch norm: WebAssembly kernels against the TypeScript kernels', () => {
  const ts = cpuBackend({ threads: 1, simd: false });
  const simd = [cpuBackend({ threads: 1 }), cpuBackend({ threads: 2 })];
  afterAll(() => [ts, ...simd].forEach((b) => b.destroy()));

  it.each([
    // [B, C, H, W, scale, offset]
    [1, 3, 1, 1, 1, 0], // one value per channel: the running variance takes the batch variance as it is
    [3, 1, 1, 1, 1, 0],
    [2, 2, 3, 1, 1, 0],
    [4, 3, 5, 5, 1, 0.5],
    [2, 5, 7, 3, 3, 0],
    [3, 8, 4, 4, 1e-3, 2], // a variance near eps around a large mean: the backward's terms nearly cancel
    [16, 11, 14, 14, 1, 0], // split over two threads
  ] as const)('[%i, %i, %i, %i], values of scale %f around %f', (B, C, H, W, scale, offset) => {
    expect(simd.every((b) => b.simd)).toBe(true);
    const n = B * C * H * W;
    const run = (b: typeof ts) => {
      const x = b.upload(values(n, 1, scale, offset), [B, C, H, W]);
      const g = b.upload(values(C, 2, 1, 1), [C]);
      const be = b.upload(values(C, 3, 1), [C]);
      const rm = b.upload(values(C, 4, 1), [C]);
      const rv = b.upload(values(C, 5, 0.5, 1), [C]);
      const p = { training: true, momentum: 0.1, eps: 1e-5, spatialDims: 2 };
      const f = b.batchNorm(x, g, be, rm, rv, p);
      const gy = b.upload(values(n, 6, 1), [B, C, H, W]);
      const back = b.batchNormBackward(x, g, f.saved, gy, p);
      const evalOut = b.batchNorm(x, g, be, rm, rv, { ...p, training: false });
      const out = {
        y: b.download(f.y),
        mean: b.download(f.saved.mean),
        invStd: b.download(f.saved.invStd),
        runningMean: b.download(rm),
        runningVar: b.download(rv),
        gx: b.download(back.gx),
        gGamma: b.download(back.gGamma),
        gBeta: b.download(back.gBeta),
        evalY: b.download(evalOut.y),
      };
      return out;
    };
    const want = run(ts);
    for (const b of simd) {
      const got = run(b);
      for (const k of Object.keys(want) as (keyof typeof want)[]) expect(bits(got[k]), `${b.threads} threads: ${k}`).toEqual(bits(want[k]));
    }
  });

  it('a backward first, on a fresh backend, sizes its own scratch', () => {
    const [B, C, S] = [4, 37, 9];
    const run = (b: typeof ts) => {
      const x = b.upload(values(B * C * S, 7, 1), [B, C, S]);
      const g = b.upload(values(C, 8, 1, 1), [C]);
      const p = { training: true, momentum: 0.1, eps: 1e-5, spatialDims: 1 };
      const saved = { mean: b.upload(new Float32Array(C), [C]), invStd: b.upload(new Float32Array(C).fill(1), [C]) };
      const back = b.batchNormBackward(x, g, saved, b.upload(values(B * C * S, 9, 1), [B, C, S]), p);
      return { gx: b.download(back.gx), gGamma: b.download(back.gGamma), gBeta: b.download(back.gBeta) };
    };
    const want = run(ts);
    for (const threads of [1, 2]) {
      const fresh = cpuBackend({ threads });
      try {
        const got = run(fresh);
        for (const k of Object.keys(want) as (keyof typeof want)[]) expect(bits(got[k]), `${threads} threads: ${k}`).toEqual(bits(want[k]));
      } finally {
        fresh.destroy();
      }
    }
  });
});
