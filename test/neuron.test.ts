import { describe, expect, it } from 'vitest';
import { initialA, neuronBackward, neuronConfig, neuronForward, DEFAULT_NEURON } from '../core/index.js';

describe('golden case worked by hand at tau0 = 4 (k = 1/4, so k and 1 - k cannot be confused)', () => {
  // PLIF, Vth = 1, Vr = 0, ATan(2): sigma'(u) = 1 / (1 + (pi u)^2). One neuron, T = 3, X = [2, 4, 1].
  // t0: H = 0 + (2 - 0)/4 = 0.5,        S = 0, V = 0.5
  // t1: H = 0.5 + (4 - 0.5)/4 = 1.375,  S = 1, V = 0
  // t2: H = 0 + (1 - 0)/4 = 0.25,       S = 0, V = 0.25
  const cfg = neuronConfig({ tau: 4 });
  const a = initialA(4); // -ln 3
  const x = Float64Array.of(2, 4, 1);
  const gradS = Float64Array.of(1, 0.5, 1);

  it('forward', () => {
    const { s, h, v } = neuronForward(cfg, x, 3, a);
    expect(Array.from(s)).toEqual([0, 1, 0]);
    [0.5, 1.375, 0.25].forEach((e, j) => expect(h[j]).toBeCloseTo(e, 15));
    [0.5, 0, 0.25].forEach((e, j) => expect(v[j]).toBeCloseTo(e, 15));
  });

  it('backward with the reset detached (paper)', () => {
    // gH2 = sg(-0.75); gV1 = (1 - k) gH2 but dV1/dH1 = 1 - S1 = 0; gH1 = 0.5 sg(0.375);
    // gH0 = sg(-0.5) + (1 - k) gH1; gX = k gH; dL/dk = 2 gH0 + 3.5 gH1 + 1 gH2; dL/da = dL/dk k(1 - k)
    const trace = neuronForward(cfg, x, 3, a);
    const g = neuronBackward(cfg, x, 3, trace, gradS, a);
    [0.11136033213524008, 0.05234696313298644, 0.038158312109895294].forEach((e, j) => expect(g.gradX[j]).toBeCloseTo(e, 14));
    expect(g.gradA).toBeCloseTo(0.33307001050937096, 14);
    expect(g.gradV0[0]).toBeCloseTo(0.3340809964057202, 14); // (1 - k) gH0
  });

  it('backward through the reset (Eq. 12: dV/dH = 1 - S + (Vr - H) sg(H - Vth) at every step)', () => {
    // gH1 = 0.5 sg(0.375) + (1 - k) gH2 (0 - 1.375) sg(0.375); gH0 = sg(-0.5) + (1 - k) gH1 (1 - 0.5 sg(-0.5))
    const c = { ...cfg, detachReset: false };
    const trace = neuronForward(c, x, 3, a);
    const g = neuronBackward(c, x, 3, trace, gradS, a);
    [0.09512186487486896, 0.03586782113580858, 0.038158312109895294].forEach((e, j) => expect(g.gradX[j]).toBeCloseTo(e, 14));
    expect(g.gradA).toBeCloseTo(0.2654545618762224, 14);
    expect(g.gradV0[0]).toBeCloseTo(0.28536559462460687, 14);
  });
});

describe('config and input validation', () => {
  it('paper defaults', () => {
    const c = neuronConfig();
    expect(c).toMatchObject({ kind: 'plif', tau: 2, vThreshold: 1, vReset: 0, decayInput: true, detachReset: true });
    expect(c.surrogate.name).toBe('atan');
    expect(c.surrogate.alpha).toBe(2);
    expect(DEFAULT_NEURON.kind).toBe('plif');
  });

  it.each([
    [{ tau: 1 }, /tau must be a finite number > 1/],
    [{ tau: 0.5 }, /tau/],
    [{ tau: Number.NaN }, /tau/],
    [{ vThreshold: Number.POSITIVE_INFINITY }, /vThreshold must be a finite number/],
    [{ vThreshold: 0, vReset: 0 }, /vThreshold \(0\) must be greater than vReset \(0\)/],
    [{ vReset: Number.NaN }, /vReset must be a finite number or null/],
    [{ vReset: null, vThreshold: -1 }, /vThreshold must be > 0 with soft reset/],
    [{ kind: 'izhikevich' as 'if' }, /kind must be/],
  ])('rejects %o', (partial, message) => {
    expect(() => neuronConfig(partial)).toThrow(RangeError);
    expect(() => neuronConfig(partial)).toThrow(message);
  });

  it('rejects bad T, lengths and a', () => {
    const cfg = neuronConfig();
    const x = new Float64Array(6);
    expect(() => neuronForward(cfg, x, 0)).toThrow(/T must be a positive integer, got 0/);
    expect(() => neuronForward(cfg, x, 2.5)).toThrow(/T must be a positive integer/);
    expect(() => neuronForward(cfg, x, 4)).toThrow(/input length 6 is not a multiple of T = 4/);
    expect(() => neuronForward(cfg, x, 3, Number.NaN)).toThrow(/PLIF parameter a must be finite/);
    expect(() => neuronForward(cfg, x, 3, 0, { v0: new Float64Array(3) })).toThrow(/v0 has length 3, expected 2/);
    const trace = neuronForward(cfg, x, 3);
    expect(() => neuronBackward(cfg, x, 3, trace, new Float64Array(5))).toThrow(/gradS has length 5, expected 6/);
    expect(() => neuronBackward(cfg, x, 0, trace, new Float64Array(6))).toThrow(RangeError);
  });

  it('IF and LIF ignore a and report dL/da = 0', () => {
    const x = Float64Array.of(0.7, 0.9, 0.2, 1.4);
    for (const kind of ['if', 'lif'] as const) {
      const cfg = neuronConfig({ kind, tau: 3 });
      const t1 = neuronForward(cfg, x, 2, 5);
      const t2 = neuronForward(cfg, x, 2, -5);
      expect(Array.from(t1.v)).toEqual(Array.from(t2.v));
      expect(neuronBackward(cfg, x, 2, t1, Float64Array.of(1, 1, 1, 1), 5).gradA).toBe(0);
    }
  });
});
