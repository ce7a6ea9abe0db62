// Evaluation with BN folded into the convolutions (Sec. 4.1): the algebra on the float64 reference. (The
// evaluation of a trained checkpoint, folded and not: fold-cli.test.ts.)
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../backends/cpu/index.js';
import type { Tensor } from '../core/backend.js';
import { foldBatchNorm, foldConvBatchNorm, FoldedConvLayer } from '../core/network/fold.js';
import type { Layer } from '../core/network/layers.js';
import { buildNetwork, networkConfig, type Network } from '../core/network/network.js';
import { Rng } from '../core/rng.js';
import { referenceBackend } from '../reference/ops-backend.js';

/** Random BN parameters and running statistics in every BN layer (a trained-looking network). */
function randomiseBatchNorm(net: Network, rng: Rng): void {
  const b = net.backend;
  for (const slot of [...net.params().filter((p) => p.kind === 'gamma' || p.kind === 'beta'), ...net.buffers()]) {
    const C = slot.value.size;
    const v = Float64Array.from({ length: C }, () => (slot.name.endsWith('running_var') ? rng.range(0.05, 3) : slot.name.endsWith('gamma') ? rng.range(0.3, 2) : rng.range(-1, 1)));
    b.dispose(slot.value);
    slot.value = b.upload(v, [C]);
  }
}

describe('folding BN into the conv', () => {
  it('conv(x, s w) + (beta - s mu) equals BN(conv(x, w)) in eval mode (float64 reference)', () => {
    const b = referenceBackend();
    const cfg = networkConfig('c5k3s1-BN-PLIF-MPk2s2-c4k3s1-BN-PLIF-MPk2s2-FC20-PLIF-APk10s10', [2, 8, 8], 2, { T: 3 });
    const plain = buildNetwork(b, cfg, Rng.seeded(3));
    randomiseBatchNorm(plain, Rng.seeded(4));
    const folded = buildNetwork(b, cfg, Rng.seeded(3));
    randomiseBatchNorm(folded, Rng.seeded(4));
    expect(foldBatchNorm(folded)).toEqual([0, 4]);
    expect(folded.layers[0]).toBeInstanceOf(FoldedConvLayer);
    const x = Float64Array.from({ length: 2 * 2 * 64 }, (_, i) => Math.sin(i * 0.7));
    const grab = (net: Network) => {
      const seen = new Map<number, number[]>();
      const xt = b.upload(x, net.inputShape(2));
      const observe = (l: Layer, out: Tensor) => void seen.set(l.index, Array.from(b.download(out)));
      const y = Array.from(b.download(net.forward(xt, { training: false, rng: null, observe })));
      net.release();
      b.dispose(xt);
      return { seen, y };
    };
    const p = grab(plain);
    const f = grab(folded);
    for (const i of [1, 5]) {
      // the output of each BN (unfolded) and of the layer standing in its place (folded)
      const a = p.seen.get(i)!;
      const c = f.seen.get(i)!;
      expect(c.length).toBe(a.length);
      // the folded weights are stored as float32, so agreement is to float32 precision
      a.forEach((v, k) => expect(Math.abs(c[k]! - v)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(v))));
    }
    expect(f.y).toEqual(p.y);
    plain.dispose();
    folded.dispose();
    expect(b.liveTensors()).toBe(0);
  });

  it('foldConvBatchNorm: s = gamma / sqrt(var + eps) per output channel; errors name the mismatch', () => {
    const f = foldConvBatchNorm([1, 2, 3, 4], 2, [2, 1], [0.5, -1], [1, 3], [3, 0], 1);
    expect(Array.from(f.weight)).toEqual([1, 2, 3, 4]); // s = 2/2 = 1 and 1/1 = 1
    expect(Array.from(f.bias)).toEqual([-0.5, -4]);
    expect(() => foldConvBatchNorm([1, 2, 3], 2, [1, 1], [0, 0], [0, 0], [1, 1], 1e-5)).toThrow(/3 weights are not 2 output channels/);
    expect(() => foldConvBatchNorm([1, 2], 2, [1], [0, 0], [0, 0], [1, 1], 1e-5)).toThrow(/gamma has 1 channels, the conv 2/);
  });

  it('a folded network refuses to train', () => {
    const b = cpuBackend();
    const net = buildNetwork(b, networkConfig('c4k3s1-BN-PLIF-FC20-PLIF-APk10s10', [1, 4, 4], 2, { T: 2 }), Rng.seeded(0));
    foldBatchNorm(net);
    const xt = b.upload(new Float32Array(32), net.inputShape(2));
    expect(() => net.forward(xt, { training: true, rng: Rng.seeded(0) })).toThrow(/BN folded is for evaluation only/);
    net.dispose();
  });
});
