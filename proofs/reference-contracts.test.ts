// The float64 reference backend's own contract, worked by hand where the conformance suite compares it with
// nothing (it is the oracle): a neuron without `a` decays by its tau, which neurons return dL/da, what
// evaluation-mode batch norm saves for its backward, and outputs that are copies, not views of the inputs.
import { describe, expect, it } from 'vitest';
import { neuronConfig } from '../core/neuron.js';
import { surrogates } from '../core/surrogates.js';
import { referenceBackend } from '../reference/ops-backend.js';

describe('reference backend', () => {
  it('an LIF neuron (no a) decays by k = 1/tau: H_t = V_{t-1} + (X_t - V_{t-1}) / tau (Eq. 5)', () => {
    const b = referenceBackend();
    const x = b.upload([1, 1, 1, 1], [4, 1]);
    const tr = b.neuron(neuronConfig({ kind: 'lif', tau: 4, vThreshold: 0.7 }), x, null);
    // H = 0.25, 0.4375, 0.578125, 0.68359375: each below the threshold 0.7, so V = H
    const want = [0.25, 0.4375, 0.578125, 0.68359375];
    expect(Array.from(b.download(tr.h))).toEqual(want);
    expect(Array.from(b.download(tr.s))).toEqual([0, 0, 0, 0]);
    // with tau 2: H = 0.5, 0.75, 0.875 (fires at t = 2, reset to 0), then 0.5
    const t2 = b.neuron(neuronConfig({ kind: 'lif', tau: 2, vThreshold: 0.8 }), x, null);
    expect(Array.from(b.download(t2.h))).toEqual([0.5, 0.75, 0.875, 0.5]);
    expect(Array.from(b.download(t2.s))).toEqual([0, 0, 1, 0]);
    // an IF neuron adds its input whole
    const ifs = b.neuron(neuronConfig({ kind: 'if', tau: 2, vThreshold: 2.5 }), x, null);
    expect(Array.from(b.download(ifs.h))).toEqual([1, 2, 3, 1]);
  });

  it('dL/da only for PLIF given its a: a [1] tensor; null for LIF and IF, even when given an a', () => {
    const b = referenceBackend();
    const x = b.upload([0.9, 1.4, 0.2, 1.1], [2, 2]);
    const gs = b.upload([1, -1, 0.5, 2], [2, 2]);
    const a = b.upload([0.3], [1]);
    const plif = neuronConfig({ kind: 'plif', surrogate: surrogates.atan(2) });
    const g = b.neuronBackward(plif, x, b.neuron(plif, x, a), gs, a);
    expect(g.ga!.shape).toEqual([1]);
    expect(Number.isFinite(b.download(g.ga!)[0])).toBe(true);
    expect(b.download(g.ga!)[0]).not.toBe(0);
    for (const kind of ['lif', 'if'] as const) {
      const cfg = neuronConfig({ kind, tau: 2 });
      expect(b.neuronBackward(cfg, x, b.neuron(cfg, x, null), gs, null).ga, kind).toBeNull();
      expect(b.neuronBackward(cfg, x, b.neuron(cfg, x, null), gs, a).ga, `${kind} given an a`).toBeNull();
    }
  });

  it('evaluation-mode batch norm saves the running mean and 1/sqrt(running var + eps), as copies', () => {
    const b = referenceBackend();
    const x = b.upload([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    const [gamma, beta] = [b.upload([2, 0.5], [2]), b.upload([0.1, -0.2], [2])];
    const [rm, rv] = [b.upload([0.5, -1], [2]), b.upload([3, 0.25], [2])];
    const eps = 1e-3;
    const r = b.batchNorm(x, gamma, beta, rm, rv, { training: false, momentum: 0.1, eps, spatialDims: 1 });
    const inv = [1 / Math.sqrt(3 + eps), 1 / Math.sqrt(0.25 + eps)];
    expect(Array.from(b.download(r.saved.mean))).toEqual([0.5, -1]);
    expect(Array.from(b.download(r.saved.invStd))).toEqual(inv);
    // y = gamma (x - mean) / sqrt(var + eps) + beta, channel c of [B=2][C=2][S=2]
    const xs = [1, 2, 3, 4, 5, 6, 7, 8];
    const want = xs.map((v, j) => {
      const c = Math.floor(j / 2) % 2;
      return ([2, 0.5][c]! * (v - [0.5, -1][c]!)) / Math.sqrt([3, 0.25][c]! + eps) + [0.1, -0.2][c]!;
    });
    expect(Array.from(b.download(r.y))).toEqual(want);
    expect(Array.from(b.download(rm))).toEqual([0.5, -1]); // evaluation leaves the running statistics alone
    // the saved mean is a copy: a later training step that moves the running mean does not change it
    b.batchNorm(x, gamma, beta, rm, rv, { training: true, momentum: 0.5, eps, spatialDims: 1 });
    expect(Array.from(b.download(rm))).not.toEqual([0.5, -1]);
    expect(Array.from(b.download(r.saved.mean))).toEqual([0.5, -1]);
  });

  it('download and read give copies of a tensor', async () => {
    const b = referenceBackend();
    const t = b.upload([1, 2, 3], [3]);
    b.download(t)[0] = 9;
    (await b.read([t]))[0]![1] = 9;
    expect(Array.from(b.download(t))).toEqual([1, 2, 3]);
    const src = [4, 5];
    const u = b.upload(src, [2]);
    src[0] = 0;
    expect(Array.from(b.download(u))).toEqual([4, 5]);
  });
});
