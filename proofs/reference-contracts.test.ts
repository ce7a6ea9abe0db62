// The float64 reference backend's own contract, worked by hand where the conformance suite compares it with
// nothing (it is the oracle): a neuron without `a` decays by its tau, which neurons return dL/da, what
// evaluation-mode batch norm saves for its backward, outputs that are copies, its refusals and their names,
// tie draws, the divergence count, and the magnitudes the tape keeps for the proofs' tolerances.
import { describe, expect, it } from 'vitest';
import { neuronConfig } from '../core/neuron.js';
import { surrogates } from '../core/surrogates.js';
import { referenceBackend } from '../reference/ops-backend.js';
import { surrogateDerivative } from '../reference/surrogate.js';
import { Tape } from '../reference/tape.js';
import * as ops from '../reference/ops.js';

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

  it('names itself float64; counts live tensors; refuses an upload that does not fill its shape', () => {
    const b = referenceBackend();
    expect([b.name, b.precision]).toEqual(['reference', 'float64']);
    const t = b.upload([1, 2], [2]);
    const u = b.zeros([3]);
    expect(b.liveTensors()).toBe(2);
    b.dispose(t);
    expect(b.liveTensors()).toBe(1);
    expect(() => b.download(t)).toThrow();
    b.dispose(u);
    expect(b.liveTensors()).toBe(0);
    expect(() => b.upload([1, 2, 3], [2, 2])).toThrow('upload: 3 values for shape [2, 2]');
  });

  it('refusals name the op and the tensor: PLIF without a, pooling gradients, tie draws, the dropout mask', () => {
    const b = referenceBackend();
    const x = b.upload([1, 2, 3, 4], [2, 2]);
    const plif = neuronConfig({ kind: 'plif' });
    expect(() => b.neuron(plif, x, null)).toThrow('neuron: a PLIF layer needs its parameter a');
    const a = b.upload([0], [1]);
    expect(() => b.neuronBackward(plif, x, b.neuron(plif, x, a), x, null)).toThrow('neuron: a PLIF layer needs its parameter a');
    const img = b.upload([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], [1, 1, 4, 4]);
    const p = { kernel: 2, stride: 2 };
    const wrong = b.upload([1, 2, 3], [1, 1, 3, 1]);
    expect(() => b.maxPool2d(img, p, wrong)).toThrow('maxPool2d tieDraws: shape [1, 1, 3, 1], expected [1, 1, 2, 2]');
    const { argmax } = b.maxPool2d(img, p);
    expect(() => b.maxPool2dBackward(wrong, argmax, img.shape, p)).toThrow('maxPool2dBackward gy: shape [1, 1, 3, 1], expected [1, 1, 2, 2]');
    expect(() => b.avgPool2dBackward(wrong, img.shape, p)).toThrow('avgPool2dBackward gy: shape [1, 1, 3, 1], expected [1, 1, 2, 2]');
    expect(() => b.dropout(x, b.upload([1, 1, 1], [3]))).toThrow('dropout mask: shape [3], expected [2]');
  });

  it('max pooling with tie draws takes the (d mod c)-th of a window\'s c maxima, in row-major order', () => {
    const b = referenceBackend();
    const x = b.upload([5, 5, 1, 5], [1, 1, 2, 2]); // three maxima, at offsets 0, 1 and 3
    const p = { kernel: 2, stride: 2 };
    expect(Array.from(b.download(b.maxPool2d(x, p).argmax))).toEqual([0]); // no draws: the first
    for (const [d, offset] of [[0, 0], [1, 1], [2, 3], [4, 1]] as const) {
      const r = b.maxPool2d(x, p, b.upload([d], [1, 1, 1, 1]));
      expect(Array.from(b.download(r.argmax)), `draw ${d}`).toEqual([offset]);
      expect(Array.from(b.download(r.y))).toEqual([5]);
    }
  });

  it('countBad counts NaN, infinities and values beyond the limit (not at it), over several tensors', () => {
    const b = referenceBackend();
    const t1 = b.upload([0, NaN, 2, -2.5], [4]);
    const t2 = b.upload([Infinity, -Infinity, 2.0000001, -1], [2, 2]);
    const n = b.countBad([t1, t2], 2);
    expect(n.shape).toEqual([1]);
    expect(Array.from(b.download(n))).toEqual([5]); // NaN, -2.5, +inf, -inf, 2.0000001
    expect(Array.from(b.download(b.countBad([b.upload([1, -1, 0], [3])], 2)))).toEqual([0]);
  });

  it("the reference's surrogate table refuses an unknown name", () => {
    expect(() => surrogateDerivative({ name: 'nope' as 'atan', alpha: 1 })).toThrow("reference: unknown surrogate 'nope'");
  });

  it('the tape keeps magnitudes: sums of |terms| through add, sub, mul and dot, and their gradients', () => {
    const t = new Tape();
    const a = t.leaf(3);
    const b = t.leaf(-2);
    expect(t.add(a, b).mag).toBe(5);
    const d = t.sub(a, b);
    expect([d.value, d.mag]).toEqual([5, 5]);
    expect(t.sub(b, a).mag).toBe(5);
    expect(t.mul(a, b).mag).toBe(6);
    const c = t.leaf(4);
    const e = t.leaf(-0.5);
    const dot = t.dot([a, b], [c, e]);
    expect([dot.value, dot.mag]).toEqual([13, 13]); // 3*4 + (-2)(-0.5); |3||4| + |-2||-0.5|
    const dot2 = t.dot([a, b], [e, c]);
    expect([dot2.value, dot2.mag]).toEqual([-9.5, 9.5]);
    // gradients of the magnitudes: |locals| along every path
    const g = t.gradients(t.sub(a, b), true);
    expect([g[a.id], g[b.id]]).toEqual([1, 1]);
    expect(Array.from(t.gradients(t.sub(a, b)).filter((_v, i) => i === a.id || i === b.id))).toEqual([1, -1]);
  });

  it('batch norm over one value per channel updates the running variance by the batch variance (no n/(n-1))', () => {
    const b = referenceBackend();
    const x = b.upload([3, -1], [1, 2, 1]);
    const [gamma, beta] = [b.upload([1, 1], [2]), b.upload([0, 0], [2])];
    const [rm, rv] = [b.upload([0, 0], [2]), b.upload([1, 2], [2])];
    b.batchNorm(x, gamma, beta, rm, rv, { training: true, momentum: 0.25, eps: 1e-5, spatialDims: 1 });
    expect(Array.from(b.download(rm))).toEqual([0.75, -0.25]);
    expect(Array.from(b.download(rv))).toEqual([0.75, 1.5]); // (1 - 0.25) var + 0.25 * 0
  });

  it('the ops refuse tie draws that are not one per window; Adam adds eps to sqrt(v^)', () => {
    expect(() => ops.maxPool2d(new Float64Array(16), [1, 1, 4, 4], 2, 2, [0, 0, 0])).toThrow('maxPool2d: 3 tie draws for 4 windows');
    // one step with eps as large as sqrt(v^) = |g|: p - lr g / (|g| + eps)
    const p = Float64Array.of(1);
    ops.adam(p, Float64Array.of(0.5), Float64Array.of(0), Float64Array.of(0), 0.1, 0.9, 0.999, 0.5, 1);
    expect(p[0]).toBeCloseTo(1 - (0.1 * 0.5) / (0.5 + 0.5), 14);
  });
});
