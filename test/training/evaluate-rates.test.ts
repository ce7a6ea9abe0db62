// evaluate() counts each spiking layer's spikes on the device (countBad above 0.5 of an output of 0s and 1s)
// instead of reading every layer back: its firing rates equal the sums of the outputs read back and summed
// on the host, on the reference, CPU and gpu.js (cpu mode) backends, and the firing maps (the first layer's
// rates of the first samples) come from the values of that layer.
import { afterAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { createGpujsBackend } from '../../backends/gpujs/index.js';
import type { Backend } from '../../core/backend.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { Rng } from '../../core/rng.js';
import { referenceBackend } from '../../reference/ops-backend.js';
import { staticSource } from '../../training/static-source.js';
import { evaluate, inferWithSpikes } from '../../training/evaluate.js';
import type { StaticDataset } from '../../data/static.js';

function dataset(n: number): StaticDataset {
  const rng = Rng.seeded(5);
  const images = Uint8Array.from({ length: n * 64 }, () => Math.floor(rng.uniform() * 256));
  const labels = Uint8Array.from({ length: n }, (_v, i) => i % 3);
  return { name: 'mnist', split: 'test', images, labels, n, shape: [1, 8, 8], classes: ['a', 'b', 'c'], dir: '', files: [] };
}

const backends: [string, () => Promise<Backend & { destroy?: () => void }>][] = [
  ['reference', async () => referenceBackend()],
  ['cpu (2 threads)', async () => cpuBackend({ threads: 2 })],
  ['gpujs:cpu', () => createGpujsBackend({ mode: 'cpu' })],
];
const made: (Backend & { destroy?: () => void })[] = [];
afterAll(() => made.forEach((b) => b.destroy?.()));

describe.each(backends)('evaluate: firing rates counted on the device (%s)', (_name, make) => {
  it('equal the host sums of the spiking layers read back, batch by batch; the maps are the first layer\'s', async () => {
    const b = await make();
    made.push(b);
    const cfg = networkConfig('c4k3s1-BN-PLIF-MPk2s2-FC12-PLIF-APk4s4', [1, 8, 8], 3, { T: 3, tau0: 1.5, vThreshold: 0.3 });
    const net = new Network(b, cfg, Rng.seeded(3));
    const src = staticSource(dataset(10));
    const indices = Uint32Array.from({ length: 10 }, (_v, i) => i);
    const live = b.liveTensors();
    const ev = await evaluate(net, src, indices, 4, { firingRates: true, maps: 5 });
    expect(b.liveTensors()).toBe(live); // the counts and views freed
    // the same batches, every spiking layer read back and summed here
    const sums = new Map<number, { spikes: number; count: number }>();
    const firstLayer: number[][] = [];
    for (let lo = 0; lo < 10; lo += 4) {
      const idx = indices.subarray(lo, Math.min(10, lo + 4));
      const { spiking } = await inferWithSpikes(net, await src.batch(idx, 3, null), idx.length, null, true);
      spiking.forEach(({ layer, values, shape }, k) => {
        const acc = sums.get(layer.index) ?? { spikes: 0, count: 0 };
        for (const v of values) {
          expect(v === 0 || v === 1).toBe(true);
          acc.spikes += v;
        }
        acc.count += values.length;
        sums.set(layer.index, acc);
        if (k === 0) {
          const per = shape.slice(2).reduce((p, d) => p * d, 1);
          for (let s = 0; s < idx.length; s++) {
            const r = new Array<number>(per).fill(0);
            for (let t = 0; t < 3; t++) for (let j = 0; j < per; j++) r[j]! += values[(t * idx.length + s) * per + j]! / 3;
            firstLayer.push(r.map((x) => Math.round(x * 1000) / 1000));
          }
        }
      });
    }
    const want = [...sums].map(([layer, s]) => ({ layer, rate: s.spikes / s.count }));
    expect(want.some((r) => r.rate > 0 && r.rate < 1)).toBe(true); // the layers fire, not all the time
    expect(ev.firingRates).toEqual(want);
    expect(ev.firingMaps!.samples.map((s) => s.rates)).toEqual(firstLayer.slice(0, 5));
    expect(ev.firingMaps!.samples.map((s) => s.index)).toEqual([0, 1, 2, 3, 4]);
  });
});
