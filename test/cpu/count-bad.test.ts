// countBad (the divergence check of every training step) on the WebAssembly count equals the definition
// (!isFinite(x) || |x| > limit) on float32 values: NaN, infinities, values at, just above and just below the
// limit (limits a float32 cannot hold too), both zeros, lengths with tails, several tensors.
import { describe, expect, it } from 'vitest';
import { cpuBackend, float32AtMost } from '../../backends/cpu/index.js';

const F32_MAX = 3.4028234663852886e38;
const next = (x: number, up: boolean) => {
  const b = new Float32Array([x]);
  const u = new Uint32Array(b.buffer);
  u[0] = u[0]! + (up === x >= 0 ? 1 : -1);
  return b[0]!;
};

function values(n: number, limit: number, seed: number): Float32Array {
  let a = seed;
  const r = () => ((a = (a * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const l = Math.fround(Math.min(limit, F32_MAX));
  const special = [NaN, Infinity, -Infinity, 0, -0, l, -l, next(l, true), -next(l, true), next(l, false), 1e6, 1e6 + 0.0625, -1e6 - 0.0625, F32_MAX, -F32_MAX];
  return Float32Array.from({ length: n }, () => (r() < 0.5 ? special[Math.floor(r() * special.length)]! : (r() * 2 - 1) * 3e6));
}

const definition = (xs: Float32Array[], limit: number) => xs.reduce((k, x) => k + x.filter((v) => !Number.isFinite(v) || Math.abs(v) > limit).length, 0);

describe('countBad', () => {
  const simd = cpuBackend({ threads: 1 });
  const ts = cpuBackend({ threads: 1, simd: false });
  it.each([1e6, 1e6 + 0.01, Infinity, 0, 2.5, 1e39, 1e-46])('equals the definition with limit %s, SIMD and TypeScript kernels', (limit) => {
    expect(simd.simd).toBe(true);
    for (const [lengths, seed] of [[[1, 3, 4, 5], 1], [[17, 64, 1023], 2], [[4096, 9], 3]] as const) {
      const xs = lengths.map((n, i) => values(n, limit, seed * 10 + i));
      const want = definition(xs, limit);
      expect(want).toBeGreaterThan(0);
      for (const b of [simd, ts]) {
        const tensors = xs.map((x) => b.upload(x, [x.length]));
        const got = b.download(b.countBad(tensors, limit))[0];
        expect(got, `${b.simd ? 'SIMD' : 'TypeScript'}, lengths ${lengths.join(', ')}`).toBe(want);
        for (const t of tensors) b.dispose(t);
      }
    }
  });

  it('split over two threads (tensors of 100 000 values and more): the same exact counts', () => {
    const two = cpuBackend({ threads: 2 });
    try {
      for (const [n, limit] of [[100_000, 1e6], [262_147, 0.5], [1 << 20, Infinity]] as const) {
        const x = values(n, limit, n);
        const want = definition([x], limit);
        const t = two.upload(x, [n]);
        expect(two.download(two.countBad([t, t], limit))[0], `${n} values, limit ${limit}`).toBe(2 * want);
        two.dispose(t);
      }
    } finally {
      two.destroy();
    }
  });

  it('float32AtMost gives the largest float32 not above its argument', () => {
    expect(float32AtMost(1e6)).toBe(1e6);
    expect(float32AtMost(0.1)).toBe(next(Math.fround(0.1), false)); // fround(0.1) is above 0.1
    expect(float32AtMost(1e6 + 0.01)).toBe(1e6);
    expect(float32AtMost(Infinity)).toBe(F32_MAX);
    expect(float32AtMost(1e39)).toBe(F32_MAX);
    expect(float32AtMost(0)).toBe(0);
    expect(float32AtMost(1e-46)).toBe(0);
  });
});
