// End to end on the float64 reference backend: a tiny network learns a separable two-class task (left
// half bright vs right half bright), predicts every training sample, and leaks no tensor.
import { describe, expect, it } from 'vitest';
import { referenceBackend } from '../../reference/ops-backend.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { createAdam, disposeAdam, trainStep, predictBatch } from '../../core/network/train.js';
import { Rng } from '../../core/rng.js';

describe('smoke', () => {
  it('trains a tiny network on the reference backend to fit a separable task', async () => {
    const b = referenceBackend();
    const cfg = networkConfig('c4k3s1-BN-PLIF-MPk2s2-DP-FC20-PLIF-APk10s10', [1, 6, 6], 2, { T: 4 });
    const rng = Rng.seeded(1);
    const net = new Network(b, cfg, rng);
    const opt = createAdam(net, { lr: 1e-2 });
    const N = 8;
    const x = new Float32Array(N * 36);
    const labels = new Int32Array(N);
    for (let n = 0; n < N; n++) {
      labels[n] = n % 2;
      for (let i = 0; i < 36; i++) x[n * 36 + i] = (labels[n] ? (i < 18 ? 1 : 0) : (i < 18 ? 0 : 1)) + 0.1 * rng.uniform();
    }
    const held = b.liveTensors();
    const losses: number[] = [];
    for (let s = 0; s < 40; s++) losses.push((await trainStep(net, opt, { x, labels }, rng)).loss);
    expect(b.liveTensors(), 'a training step leaves no tensor behind').toBe(held);
    expect(losses[0]!).toBeGreaterThan(0.4); // chance: both rates near 1/2 or 0
    expect(Math.max(...losses.slice(-5))).toBeLessThan(0.05);
    expect(Array.from(await predictBatch(net, x, N))).toEqual(Array.from(labels));
    disposeAdam(b, opt);
    net.dispose();
    expect(b.liveTensors()).toBe(0);
  });
});
