// Max pooling and its gradient in WebAssembly (SIMD for 2x2 windows of stride 2) equal the TypeScript
// kernels bit for bit: values, argmax and the input gradient (gradients with NaN, infinities and -0) for ties (the first maximum wins), NaN, infinities, both zeros, spikes (0/1, mostly
// tied windows), odd sizes with tails of fewer than four outputs, other windows and strides, and any
// number of threads. With tie draws the TypeScript kernel runs (its draws need the tie count).
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { bits } from './bits.js';

function values(n: number, seed: number, kind: 'mixed' | 'spikes'): Float32Array {
  let a = seed;
  const r = () => (a = (a * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const special = [NaN, Infinity, -Infinity, 0, -0, 1, -1, 0.5];
  if (kind === 'spikes') return Float32Array.from({ length: n }, () => (r() < 0.2 ? 1 : 0));
  return Float32Array.from({ length: n }, () => (r() < 0.4 ? special[Math.floor(r() * special.length)]! : Math.fround((r() * 2 - 1) * 4)));
}

describe('maxPool2d and its backward: WebAssembly kernels against the TypeScript kernels', () => {
  const ts = cpuBackend({ threads: 1, simd: false });
  const simd = [cpuBackend({ threads: 1 }), cpuBackend({ threads: 2 })];
  afterAll(() => [ts, ...simd].forEach((b) => b.destroy()));

  it.each([
    // [B, C, H, W], kernel, stride
    [[2, 3, 28, 28], 2, 2],
    [[1, 2, 14, 14], 2, 2],
    [[3, 1, 9, 11], 2, 2], // odd: the last row and column are not pooled, tails of 1 and 2 outputs
    [[1, 4, 2, 6], 2, 2],
    [[2, 2, 34, 34], 2, 2],
    [[2, 2, 10, 10], 10, 10],
    [[1, 3, 9, 9], 3, 2], // overlapping windows
    [[1, 2, 8, 12], 3, 3],
  ] as const)('%j, kernel %i, stride %i', (shape, kernel, stride) => {
    const dims = [...shape];
    expect(simd.every((b) => b.simd)).toBe(true);
    const n = shape.reduce((p: number, d: number) => p * d, 1);
    for (const kind of ['mixed', 'spikes'] as const)
      for (const seed of [1, 2, 3]) {
        const x = values(n, seed * 7 + kernel, kind);
        const run = (b: typeof ts) => {
          const t = b.upload(x, dims);
          const { y, argmax } = b.maxPool2d(t, { kernel, stride });
          const gy = b.upload(values(y.size, seed * 11 + kernel, 'mixed'), y.shape);
          const gx = b.maxPool2dBackward(gy, argmax, dims, { kernel, stride });
          const out = { y: b.download(y), argmax: b.download(argmax), gx: b.download(gx) };
          [t, y, argmax, gy, gx].forEach((u) => b.dispose(u));
          return out;
        };
        const want = run(ts);
        for (const b of simd) {
          const got = run(b);
          expect(bits(got.y), `${kind} seed ${seed}, ${b.threads} threads: values`).toEqual(bits(want.y));
          expect(bits(got.argmax), `${kind} seed ${seed}, ${b.threads} threads: argmax`).toEqual(bits(want.argmax));
          expect(bits(got.gx), `${kind} seed ${seed}, ${b.threads} threads: the gradient`).toEqual(bits(want.gx));
        }
      }
  });

  it('the TypeScript kernel itself: the first of tied maxima, and -Infinity at 0 for a window of NaNs', () => {
    for (const b of [ts, ...simd]) {
      const x = b.upload(new Float32Array([1, 1, 0, 1, NaN, NaN, NaN, NaN, -0, 0, 0, -0, 2, 3, 3, 2]), [1, 4, 2, 2]);
      const { y, argmax } = b.maxPool2d(x, { kernel: 2, stride: 2 });
      expect(Array.from(b.download(y))).toEqual([1, -Infinity, -0, 3]);
      expect(Array.from(b.download(argmax))).toEqual([0, 0, 0, 1]);
      [x, y, argmax].forEach((u) => b.dispose(u));
    }
  });
});
