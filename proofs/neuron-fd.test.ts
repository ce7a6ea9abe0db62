// Proof ladder, step 3: with the smooth primitive in the forward and the reset not detached, the layer is
// differentiable end to end, and the hand-derived backward equals central finite differences of a random
// linear loss L = sum(gradS * S) + sum(gradV * V) with respect to X, a and the initial potential.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { neuronBackward, neuronForward, type NeuronConfig } from '../core/neuron.js';
import { centralDiff, close, corners, disagreementLog, neuronCaseArb, params, relErr } from './util.js';

const record = disagreementLog('neuron vs finite differences');
const RTOL = 1e-6;
const ATOL = 1e-8;

function linearLoss(cfg: NeuronConfig, x: Float64Array, T: number, a: number, gS: Float64Array, gV: Float64Array | undefined, v0: Float64Array): number {
  const { s, v } = neuronForward(cfg, x, T, a, { smooth: true, v0 });
  let loss = 0;
  for (let j = 0; j < x.length; j++) loss += gS[j]! * s[j]! + (gV ? gV[j]! * v[j]! : 0);
  return loss;
}

describe('smooth neuronBackward = central finite differences', () => {
  it('dL/dX, dL/da and dL/dV0 for every kind, reset, decayInput and surrogate', () => {
    fc.assert(
      fc.property(neuronCaseArb, (c0) => {
        const cfg = { ...c0.cfg, detachReset: false };
        const { T, a, x, gradS } = c0;
        const gradV = c0.useGradV ? c0.gradV : undefined;
        const n = x.length / T;
        const v0 = c0.v0 ?? new Float64Array(n).fill(cfg.vReset ?? 0);
        const fwd = neuronForward(cfg, x, T, a, { smooth: true, v0 });
        // A perturbation of 6e-6 moves H by at most that much: keep the stencil off the surrogate's corners.
        const cs = corners(cfg.surrogate.name, cfg.surrogate.alpha);
        fc.pre(fwd.h.every((h) => cs.every((c) => Math.abs(h - cfg.vThreshold - c) > 1e-4)));
        const bwd = neuronBackward(cfg, x, T, fwd, gradS, a, { gradV, v0 });
        const check = (name: string, hand: number, fd: number) => {
          record(name, relErr(hand, fd, ATOL / RTOL));
          expect(close(hand, fd, RTOL, ATOL), `${name}: hand ${hand} vs finite difference ${fd}`).toBe(true);
        };
        for (let j = 0; j < x.length; j++) {
          const fd = centralDiff((xj) => {
            const xp = Float64Array.from(x);
            xp[j] = xj;
            return linearLoss(cfg, xp, T, a, gradS, gradV, v0);
          }, x[j]!);
          check('gradX', bwd.gradX[j]!, fd);
        }
        if (cfg.kind === 'plif') check('gradA', bwd.gradA, centralDiff((ap) => linearLoss(cfg, x, T, ap, gradS, gradV, v0), a));
        else expect(bwd.gradA).toBe(0);
        for (let i = 0; i < n; i++) {
          const fd = centralDiff((vi) => {
            const vp = Float64Array.from(v0);
            vp[i] = vi;
            return linearLoss(cfg, x, T, a, gradS, gradV, vp);
          }, v0[i]!);
          check('gradV0', bwd.gradV0[i]!, fd);
        }
      }),
      params(),
    );
  });
});
