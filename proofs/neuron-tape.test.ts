// Proof ladder, step 2: the hand-derived multi-step backward (Eqs. 8-17) equals reverse-mode autodiff of
// the unrolled layer, for every combination of kind, reset, decayInput, detachReset and surrogate.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { neuronBackward, neuronForward } from '../core/neuron.js';
import { tapeNeuron } from '../reference/neuron.js';
import { close, disagreementLog, neuronCaseArb, params, relErr } from './util.js';

const record = disagreementLog('neuron vs tape');
const RTOL = 1e-10;
const ATOL = 1e-14;

describe('neuronBackward = autodiff tape', () => {
  it('spikes, potentials and every gradient agree in float64', () => {
    fc.assert(
      fc.property(neuronCaseArb, (c) => {
        const gradV = c.useGradV ? c.gradV : undefined;
        const fwd = neuronForward(c.cfg, c.x, c.T, c.a, { v0: c.v0 });
        const tape = tapeNeuron(c.cfg, c.x, c.T, c.a, c.gradS, gradV, c.v0);
        expect(Array.from(fwd.s)).toEqual(Array.from(tape.s));
        expect(Array.from(fwd.h)).toEqual(Array.from(tape.h));
        expect(Array.from(fwd.v)).toEqual(Array.from(tape.v));
        const bwd = neuronBackward(c.cfg, c.x, c.T, fwd, c.gradS, c.a, { gradV, v0: c.v0 });
        c.x.forEach((_, j) => {
          record('gradX', relErr(bwd.gradX[j]!, tape.gradX[j]!, ATOL / RTOL));
          expect(close(bwd.gradX[j]!, tape.gradX[j]!, RTOL, ATOL), `gradX[${j}] ${bwd.gradX[j]} vs ${tape.gradX[j]}`).toBe(true);
        });
        record('gradA', relErr(bwd.gradA, tape.gradA, ATOL / RTOL));
        expect(close(bwd.gradA, tape.gradA, RTOL, ATOL), `gradA ${bwd.gradA} vs ${tape.gradA}`).toBe(true);
        bwd.gradV0.forEach((g, i) => {
          record('gradV0', relErr(g, tape.gradV0[i]!, ATOL / RTOL));
          expect(close(g, tape.gradV0[i]!, RTOL, ATOL), `gradV0[${i}]`).toBe(true);
        });
      }),
      params(),
    );
  });

  it('the proof is not vacuous: spikes occur and gradients are non-zero in most cases', () => {
    let spiking = 0;
    let nonZero = 0;
    const samples = fc.sample(neuronCaseArb, { numRuns: 200, seed: 7 });
    for (const c of samples) {
      const fwd = neuronForward(c.cfg, c.x, c.T, c.a);
      if (fwd.s.some((s) => s === 1)) spiking++;
      const bwd = neuronBackward(c.cfg, c.x, c.T, fwd, c.gradS, c.a);
      if (bwd.gradX.some((g) => Math.abs(g) > 1e-6)) nonZero++;
    }
    expect(spiking).toBeGreaterThan(100);
    expect(nonZero).toBeGreaterThan(100);
  });
});
