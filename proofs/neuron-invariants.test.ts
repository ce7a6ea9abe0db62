// Invariants of the neuron layer that hold for every configuration and input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { initialA, neuronBackward, neuronForward, tauOf } from '../core/neuron.js';
import { sigmoid } from '../core/scalar.js';
import { close, disagreementLog, neuronCaseArb, params, relErr } from './util.js';

const record = disagreementLog('neuron invariants');

describe('neuron invariants', () => {
  it('spikes are 0 or 1; after a hard-reset spike V = vReset; after a soft-reset spike V = H - Vth', () => {
    fc.assert(
      fc.property(neuronCaseArb, (c) => {
        const { s, h, v } = neuronForward(c.cfg, c.x, c.T, c.a, { v0: c.v0 });
        for (let j = 0; j < s.length; j++) {
          expect(s[j] === 0 || s[j] === 1).toBe(true);
          expect(s[j]).toBe(h[j]! >= c.cfg.vThreshold ? 1 : 0);
          // numeric equality (===): a reset to vReset = -0 may give +0
          const want = s[j] === 1 ? (c.cfg.vReset === null ? h[j]! - c.cfg.vThreshold : c.cfg.vReset) : h[j]!;
          expect(v[j] === want, `V[${j}] = ${v[j]}, expected ${want}`).toBe(true);
        }
      }),
      params(),
    );
  });

  it('tau = 1/k(a) > 1 and k(a) in (0, 1) wherever float64 resolves it (|a| <= 30); never below 1 for any finite a', () => {
    fc.assert(
      fc.property(fc.double({ min: -30, max: 30, noNaN: true }), (a) => {
        const k = sigmoid(a);
        expect(k).toBeGreaterThan(0);
        expect(k).toBeLessThan(1);
        expect(1 / k).toBeGreaterThan(1);
        expect(tauOf(a)).toBeGreaterThan(1);
        record('tauOf(a) vs 1/k(a)', relErr(tauOf(a), 1 / k, 1));
        expect(close(tauOf(a), 1 / k, 1e-14, 0)).toBe(true);
      }),
      params(),
    );
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (a) => {
        expect(tauOf(a)).toBeGreaterThanOrEqual(1);
        expect(sigmoid(a)).toBeGreaterThanOrEqual(0);
        expect(sigmoid(a)).toBeLessThanOrEqual(1);
      }),
      params(),
    );
  });

  it('a0 = -ln(tau0 - 1) gives back tau0', () => {
    fc.assert(
      fc.property(fc.double({ min: 1.001, max: 1000, noNaN: true }), (tau0) => {
        record('tauOf(initialA(tau0)) vs tau0', relErr(tauOf(initialA(tau0)), tau0, 1));
        expect(close(tauOf(initialA(tau0)), tau0, 1e-12, 0)).toBe(true);
      }),
      params(),
    );
  });

  it('LIF with tau equals PLIF with a = -ln(tau - 1), forward and dL/dX', () => {
    fc.assert(
      fc.property(neuronCaseArb, (c) => {
        const lif = { ...c.cfg, kind: 'lif' as const };
        const plif = { ...c.cfg, kind: 'plif' as const };
        const a = initialA(lif.tau);
        const fl = neuronForward(lif, c.x, c.T, undefined);
        const fp = neuronForward(plif, c.x, c.T, a);
        // k differs only by rounding: a spike may differ only where H sits on the threshold
        fc.pre(fl.h.every((h) => Math.abs(h - lif.vThreshold) > 1e-9));
        expect(Array.from(fp.s)).toEqual(Array.from(fl.s));
        fl.h.forEach((h, j) => {
          record('LIF vs PLIF: H', relErr(fp.h[j]!, h, 1));
          expect(close(fp.h[j]!, h, 1e-12, 1e-12)).toBe(true);
        });
        const bl = neuronBackward(lif, c.x, c.T, fl, c.gradS);
        const bp = neuronBackward(plif, c.x, c.T, fp, c.gradS, a);
        expect(bl.gradA).toBe(0);
        bl.gradX.forEach((g, j) => {
          record('LIF vs PLIF: gradX', relErr(bp.gradX[j]!, g, 1));
          expect(close(bp.gradX[j]!, g, 1e-10, 1e-12)).toBe(true);
        });
      }),
      params(),
    );
  });

  it('Float32 results agree with Float64 within float32 tolerance', () => {
    fc.assert(
      fc.property(neuronCaseArb, (c) => {
        const x32 = Float32Array.from(c.x);
        const x64 = Float64Array.from(x32);
        const g32 = Float32Array.from(c.gradS);
        const g64 = Float64Array.from(g32);
        const f32 = neuronForward(c.cfg, x32, c.T, c.a);
        const f64 = neuronForward(c.cfg, x64, c.T, c.a);
        // float32 stores V rounded at every step: a spike may differ only where H is within float32
        // resolution of the threshold
        fc.pre(f64.h.every((h) => Math.abs(h - c.cfg.vThreshold) > 1e-5 * Math.max(1, Math.abs(h))));
        expect(f32.s).toBeInstanceOf(Float32Array);
        expect(f64.s).toBeInstanceOf(Float64Array);
        expect(Array.from(f32.s)).toEqual(Array.from(f64.s));
        // float32 keeps V in float32 between steps: each step may round by 2^-24 of |H|, so after T steps
        // the potential can be off by up to about T * 2^-23 * max|H| (e.g. 5e-6 at V = 0.26 after |H| ~ 30)
        const vTol = c.T * 2 ** -23 * Math.max(1, ...Array.from(f64.h, Math.abs));
        f64.v.forEach((v, j) => {
          record('float32 V', relErr(f32.v[j]!, v, 1));
          expect(close(f32.v[j]!, v, 1e-6, vTol), `V[${j}] float32 ${f32.v[j]} vs float64 ${v}`).toBe(true);
        });
        const b32 = neuronBackward(c.cfg, x32, c.T, f32, g32, c.a);
        const b64 = neuronBackward(c.cfg, x64, c.T, f64, g64, c.a);
        expect(b32.gradX).toBeInstanceOf(Float32Array);
        const scale = Math.max(1, ...Array.from(b64.gradX, Math.abs));
        b64.gradX.forEach((g, j) => {
          record('float32 gradX', relErr(b32.gradX[j]!, g, scale));
          expect(close(b32.gradX[j]!, g, 1e-5, 1e-5 * scale)).toBe(true);
        });
        record('float32 gradA', relErr(b32.gradA, b64.gradA, scale));
        expect(close(b32.gradA, b64.gradA, 1e-5, 1e-5 * scale)).toBe(true);
      }),
      params(),
    );
  });
});
