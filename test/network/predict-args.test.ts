// predictBatch / inferBatch called as a library user calls them (the plif-snn entry point): a missing or
// wrong batch size is named as such, with the size the input's length implies, before anything is uploaded.
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { inferBatch, Network, networkConfig, predictBatch, Rng } from '../../core/index.js';

const structure = 'c4k3s1-BN-PLIF-MPk2s2-DP-FC100-PLIF-APk10s10';

describe('predictBatch and inferBatch arguments', () => {
  const b = cpuBackend();
  const net = new Network(b, networkConfig(structure, [1, 28, 28], 10, { T: 2 }), Rng.seeded(0));
  const x = new Float32Array(2 * 784).map((_, i) => (i % 7) / 7);
  // the call a user writes when forgetting n; the types say it is needed, JavaScript callers do not see them
  const noN = (f: typeof predictBatch | typeof inferBatch) => (f as unknown as (net: Network, x: Float32Array) => Promise<unknown>)(net, x);

  it('a missing batch size says so, and what the input implies', async () => {
    const live = b.liveTensors();
    await expect(noN(predictBatch)).rejects.toThrow(new TypeError("predictBatch(net, x, n): the batch size n is missing (the number of samples in x, each [1, 28, 28] = 784 values; x's 1568 values make n = 2)"));
    await expect(noN(inferBatch)).rejects.toThrow(/^inferBatch\(net, x, n\): the batch size n is missing .*make n = 2\)$/);
    await expect(noN(predictBatch)).rejects.not.toThrow(/bad dimension/);
    expect(b.liveTensors(), 'nothing uploaded').toBe(live);
  });

  it('a batch size that does not fit the input names both', async () => {
    await expect(predictBatch(net, x, 3)).rejects.toThrow(new RangeError("predictBatch(net, x, n): x holds 1568 values, but n = 3 samples of [1, 28, 28] laid out as [n, C, H, W] need 2352; x's 1568 values make n = 2"));
    await expect(predictBatch(net, x.subarray(1), 2)).rejects.toThrow(/x holds 1567 values, .*; x's 1567 values are not a whole number of samples$/);
    for (const n of [0, -1, 1.5, Number.NaN]) await expect(predictBatch(net, x, n)).rejects.toThrow(/the batch size n must be an integer >= 1, got /);
    await expect((predictBatch as unknown as (n: Network, x: unknown, k: number) => Promise<unknown>)(net, [0, 1], 1)).rejects.toThrow(/x must be a Float32Array/);
  });

  it('the right call predicts one class per sample', async () => {
    const p = await predictBatch(net, x, 2);
    expect(p).toHaveLength(2);
    for (const c of p) expect(c >= 0 && c < 10).toBe(true);
    expect((await inferBatch(net, x, 2)).length).toBe(2 * 2 * 10);
  });

  it('an event network names its layout [T, n, C, H, W]', async () => {
    const ev = new Network(b, networkConfig(structure, [2, 28, 28], 10, { T: 3, static: false }), Rng.seeded(0));
    await expect((predictBatch as unknown as (n: Network, x: Float32Array) => Promise<unknown>)(ev, new Float32Array(3 * 2 * 2 * 784))).rejects.toThrow(
      "the batch size n is missing (the number of samples in x, each 3 steps of [2, 28, 28] = 4704 values; x's 9408 values make n = 2)",
    );
    await expect(predictBatch(ev, new Float32Array(3 * 2 * 784), 2)).rejects.toThrow('laid out as [T, n, C, H, W] need 9408');
    ev.dispose();
  });
});
