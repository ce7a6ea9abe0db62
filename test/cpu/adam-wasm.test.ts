// Adam in WebAssembly (two values per f64x2) equals the TypeScript kernel, core/scalar.ts's arithmetic,
// bit for bit: parameters and both moments over several steps with the paper's settings and others,
// gradients spanning many magnitudes with zeros and -0, lengths with odd tails, one and two threads.
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { bits } from './bits.js';

function values(n: number, seed: number, scale: number): Float32Array {
  let a = seed;
  const r = () => (a = (a * 1103515245 + 12345) >>> 0) / 2 ** 32;
  return Float32Array.from({ length: n }, () => {
    const u = r();
    if (u < 0.05) return 0;
    if (u < 0.08) return -0;
    return (r() * 2 - 1) * scale * 10 ** Math.floor(r() * 12 - 8);
  });
}

describe('adam: WebAssembly kernel against the TypeScript kernel', () => {
  const ts = cpuBackend({ threads: 1, simd: false });
  const simd = [cpuBackend({ threads: 1 }), cpuBackend({ threads: 2 })];
  afterAll(() => [ts, ...simd].forEach((b) => b.destroy()));

  it.each([
    [1, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }],
    [7, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }],
    [100_003, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 }], // split over two threads
    [33, { lr: 0.05, beta1: 0.5, beta2: 0.9, eps: 1e-3 }],
  ] as const)('%i values, %j, five steps', (n, cfg) => {
    expect(simd.every((b) => b.simd)).toBe(true);
    const run = (b: typeof ts) => {
      const p = b.upload(values(n, 1, 1), [n]);
      const m = b.zeros([n]);
      const v = b.zeros([n]);
      for (let step = 1; step <= 5; step++) {
        const g = b.upload(values(n, 10 + step, 3), [n]);
        b.adam(p, g, m, v, { ...cfg, step });
        b.dispose(g);
      }
      const out = { p: b.download(p), m: b.download(m), v: b.download(v) };
      [p, m, v].forEach((t) => b.dispose(t));
      return out;
    };
    const want = run(ts);
    for (const b of simd) {
      const got = run(b);
      expect(bits(got.p), `${b.threads} threads: parameters`).toEqual(bits(want.p));
      expect(bits(got.m), `${b.threads} threads: first moments`).toEqual(bits(want.m));
      expect(bits(got.v), `${b.threads} threads: second moments`).toEqual(bits(want.v));
    }
  });
});
