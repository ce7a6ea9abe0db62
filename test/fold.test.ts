// Evaluation with BN folded into the convolutions (Sec. 4.1): the algebra on the float64 reference. (The
// evaluation of a trained checkpoint, folded and not: fold-cli.test.ts.)
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../backends/cpu/index.js';
import type { Tensor } from '../core/backend.js';
import { FoldedAwayLayer, foldBatchNorm, foldConvBatchNorm, FoldedConvLayer, withEncoder } from '../core/network/fold.js';
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

describe('folding: the contracts a user relies on', () => {
  it('foldConvBatchNorm in general: s = gamma / sqrt(var + eps) scales each output channel, bias = beta - s mu', () => {
    // var + eps = 0.25 and 4: s = 1.5 / 0.5 = 3 and -0.5 / 2 = -0.25 (exact in float32)
    const f = foldConvBatchNorm([1, 2, 3, 4, 5, 6], 2, [1.5, -0.5], [0.5, 1], [2, -4], [0, 3.75], 0.25);
    expect(Array.from(f.weight)).toEqual([3, 6, 9, -1, -1.25, -1.5]);
    expect(Array.from(f.bias)).toEqual([0.5 - 3 * 2, 1 - 0.25 * 4]);
  });

  it('foldConvBatchNorm names each BN vector whose channel count differs from the conv', () => {
    const ok = [1, 1];
    const call = (gamma: number[], beta: number[], mean: number[], variance: number[]) => () => foldConvBatchNorm([1, 2, 3, 4], 2, gamma, beta, mean, variance, 1e-5);
    expect(call(ok, ok, ok, ok)).not.toThrow();
    expect(call([1, 1, 1], ok, ok, ok)).toThrow(new RangeError('foldConvBatchNorm: BN gamma has 3 channels, the conv 2'));
    expect(call(ok, [1], ok, ok)).toThrow(new RangeError('foldConvBatchNorm: BN beta has 1 channels, the conv 2'));
    expect(call(ok, ok, [], ok)).toThrow(new RangeError('foldConvBatchNorm: BN running mean has 0 channels, the conv 2'));
    expect(call(ok, ok, ok, [1, 1, 1, 1])).toThrow(new RangeError('foldConvBatchNorm: BN running variance has 4 channels, the conv 2'));
    expect(() => foldConvBatchNorm([1, 2, 3], 2, ok, ok, ok, ok, 1)).toThrow(new RangeError('foldConvBatchNorm: 3 weights are not 2 output channels'));
  });

  it('only a conv directly followed by BN folds; layers keep their indices, the folded ones say so in their tokens', () => {
    const b = referenceBackend();
    const net = buildNetwork(b, networkConfig('c2k3s1-PLIF-BN-c2k3s1-BN-PLIF-FC20-PLIF-APk10s10', [1, 6, 6], 2, { T: 2 }), Rng.seeded(1));
    const before = net.layers.map((l) => l.token);
    expect(foldBatchNorm(net)).toEqual([3]);
    expect(net.layers.map((l) => l.index)).toEqual(before.map((_, i) => i));
    expect(net.layers.map((l) => l.token)).toEqual([...before.slice(0, 3), 'c2k3s1+BN', 'BN(folded)', ...before.slice(5)]);
    expect(net.layers[4]).toBeInstanceOf(FoldedAwayLayer);
    // the params of the folded pair: the conv's scaled weight and the bias, in place of w, gamma and beta
    expect(net.params().filter((p) => p.name.startsWith('3.') || p.name.startsWith('4.')).map((p) => [p.name, p.kind])).toEqual([
      ['3.weight', 'weight'],
      ['3.bias', 'beta'],
    ]);
    expect(net.buffers().map((q) => q.name).filter((n) => n.startsWith('4.'))).toEqual([]);
    net.dispose();
    expect(b.liveTensors()).toBe(0);
  });

  it('a folded layer has no backward: each says which layer and why', () => {
    const b = referenceBackend();
    const net = buildNetwork(b, networkConfig('c2k3s1-BN-PLIF-FC20-PLIF-APk10s10', [1, 4, 4], 2, { T: 2 }), Rng.seeded(1));
    foldBatchNorm(net);
    expect(() => net.layers[0]!.backward(b, b.zeros([1]), true)).toThrow(new Error('layer 0 (c2k3s1+BN): a network with BN folded is for evaluation only'));
    expect(() => net.layers[1]!.backward(b, b.zeros([1]), true)).toThrow(new Error('layer 1: a network with BN folded is for evaluation only'));
  });

  it('withEncoder: the same network for the same encoder; otherwise a copy with every parameter and BN statistic, and the old one freed', () => {
    const b = referenceBackend();
    const cfg = networkConfig('c2k3s1-BN-PLIF-FC20-PLIF-APk10s10', [1, 4, 4], 2, { T: 2 });
    const net = buildNetwork(b, cfg, Rng.seeded(7));
    randomiseBatchNorm(net, Rng.seeded(8));
    expect(withEncoder(net, 'direct')).toBe(net);
    const values = (n: Network) => [...n.params(), ...n.buffers()].map((p) => [p.name, Array.from(b.download(p.value))]);
    const want = values(net);
    const live = b.liveTensors();
    const next = withEncoder(net, 'poisson');
    expect(next).not.toBe(net);
    expect(next.config).toEqual({ ...cfg, encoder: 'poisson' });
    expect(values(next)).toEqual(want);
    expect(b.liveTensors()).toBe(live);
    expect(() => b.download(net.params()[0]!.value)).toThrow(/dispose/);
    next.dispose();
    expect(b.liveTensors()).toBe(0);
  });
});
