// Contracts of core's small functions that the proofs do not reach: every validation says what is wrong,
// the boundaries of each accepted range, ranges of neurons, prediction ties, the learning-rate schedule,
// and the seeded generator's documented stream. (Each of these was a surviving mutant of npm run mutate.)
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkEncoderName, checkIntensities, encodeSpikes, isSpikeEncoder, latencyEncodeInto, poissonEncodeInto } from '../core/encoders.js';
import { firingRates, predict } from '../core/loss.js';
import { initialA, neuronBackward, neuronBackwardInto, neuronCodes, neuronConfig, neuronForward, neuronForwardInto, validateNeuronConfig, type NeuronConfig } from '../core/neuron.js';
import { adamConfig, cosineAnnealingLr } from '../core/optim.js';
import { Rng } from '../core/rng.js';
import * as scalar from '../core/scalar.js';
import * as gpujsKernels from '../backends/gpujs/kernels.js';
import { erf, surrogateByName, surrogates } from '../core/surrogates.js';

const bad = (patch: Record<string, unknown>) => () => validateNeuronConfig({ ...neuronConfig(), ...patch } as unknown as NeuronConfig);

describe('neuron config validation', () => {
  it('names the field and the rule for each bad value', () => {
    expect(bad({ tau: '2' })).toThrow(/tau must be a finite number > 1/);
    expect(bad({ tau: Number.NaN })).toThrow(/tau must be a finite number > 1/);
    expect(bad({ tau: 1 })).toThrow(/tau must be a finite number > 1/);
    expect(bad({ vThreshold: '1' })).toThrow(/vThreshold must be a finite number/);
    expect(bad({ vThreshold: Infinity })).toThrow(/vThreshold must be a finite number/);
    expect(bad({ vReset: '0' })).toThrow(/vReset must be a finite number or null/);
    expect(bad({ vReset: Number.NaN })).toThrow(/vReset must be a finite number or null/);
    expect(bad({ vReset: 1, vThreshold: 1 })).toThrow(/vThreshold \(1\) must be greater than vReset \(1\)/);
    expect(bad({ vReset: null, vThreshold: 0 })).toThrow(/vThreshold must be > 0 with soft reset/);
    expect(bad({ decayInput: 1 })).toThrow(/decayInput must be a boolean/);
    expect(bad({ detachReset: 'yes' })).toThrow(/detachReset must be a boolean/);
    const sg = surrogates.atan(2);
    for (const s of [undefined, { ...sg, grad: 1 }, { ...sg, code: '0' }, { ...sg, alpha: 0 }, { ...sg, alpha: Number.NaN }]) {
      expect(bad({ surrogate: s })).toThrow(/surrogate must be one of core's surrogates/);
    }
  });

  it('accepts the edges of each range', () => {
    expect(bad({ vReset: null, vThreshold: 1e-9 })).not.toThrow();
    expect(bad({ tau: 1.0000001 })).not.toThrow();
  });

  it('initialA needs a finite tau0 > 1; a PLIF a must be finite, an LIF ignores a', () => {
    expect(() => initialA(1)).toThrow(/tau0 must be a finite number > 1, got 1/);
    expect(() => initialA(Infinity)).toThrow(/tau0 must be a finite number > 1/);
    expect(initialA(2)).toBe(-0);
    expect(() => neuronCodes(neuronConfig({ kind: 'plif' }), Number.NaN)).toThrow(/PLIF parameter a must be finite/);
    expect(neuronCodes(neuronConfig({ kind: 'lif', tau: 4 }), Number.NaN).k).toBe(0.25);
  });
});

describe('neuron ranges and buffers', () => {
  const T = 3;
  const n = 4;
  const x = Float64Array.from({ length: T * n }, (_, i) => ((i * 7) % 5) * 0.6);
  const cfg = neuronConfig({ kind: 'plif' });

  it('a range is integers lo <= hi within [0, n]; an empty range is allowed', () => {
    const out = { s: new Float64Array(T * n), h: new Float64Array(T * n), v: new Float64Array(T * n) };
    for (const r of [{ lo: 0.5, hi: 2 }, { lo: 0, hi: 2.5 }, { lo: -1, hi: 2 }, { lo: 3, hi: 2 }, { lo: 0, hi: n + 1 }]) {
      expect(() => neuronForwardInto(cfg, x, T, 0, out, { range: r }), JSON.stringify(r)).toThrow(/neuron range .* outside \[0, 4\)/);
    }
    expect(() => neuronForwardInto(cfg, x, T, 0, out, { range: { lo: 2, hi: 2 } })).not.toThrow();
  });

  it('forward and backward over a range write only that range', () => {
    const full = neuronForward(cfg, x, T, 0.3);
    const out = { s: new Float64Array(T * n).fill(7), h: new Float64Array(T * n).fill(7), v: new Float64Array(T * n).fill(7) };
    neuronForwardInto(cfg, x, T, 0.3, out, { range: { lo: 1, hi: 3 } });
    for (let t = 0; t < T; t++)
      for (let i = 0; i < n; i++) {
        const j = t * n + i;
        expect(out.h[j]).toBe(i >= 1 && i < 3 ? full.h[j] : 7);
      }
    const gs = Float64Array.from({ length: T * n }, (_, i) => Math.sin(i));
    const whole = neuronBackward(cfg, x, T, full, gs, 0.3);
    const gx = new Float64Array(T * n).fill(7);
    const gradV0 = new Float64Array(n).fill(7);
    neuronBackwardInto(cfg, x, T, full, gs, 0.3, gx, { range: { lo: 1, hi: 3 }, gradV0 });
    expect(Array.from(gradV0)).toEqual([7, whole.gradV0[1], whole.gradV0[2], 7]);
    expect(gx[0]).toBe(7);
    expect(gx[3]).toBe(7);
    expect(gx[1]).toBe(whole.gradX[1]);
  });

  it('a scratch buffer shorter than n is not used; the result is the same', () => {
    const tr = neuronForward(cfg, x, T, 0.3);
    const gs = Float64Array.from({ length: T * n }, (_, i) => Math.cos(i));
    const want = neuronBackward(cfg, x, T, tr, gs, 0.3);
    const gx = new Float64Array(T * n);
    const r = neuronBackwardInto(cfg, x, T, tr, gs, 0.3, gx, { scratch: new Float64Array(n - 1) });
    expect(Array.from(gx)).toEqual(Array.from(want.gradX));
    expect(r.gradA).toBe(want.gradA);
  });

  it('a buffer of the wrong length is named', () => {
    const ok = () => new Float64Array(T * n);
    expect(() => neuronForwardInto(cfg, x, T, 0, { s: new Float64Array(1), h: ok(), v: ok() })).toThrow(/^s has length 1, expected 12/);
    expect(() => neuronForwardInto(cfg, x, T, 0, { s: ok(), h: new Float64Array(1), v: ok() })).toThrow(/^h has length 1/);
    expect(() => neuronForwardInto(cfg, x, T, 0, { s: ok(), h: ok(), v: new Float64Array(1) })).toThrow(/^v has length 1/);
    const tr = neuronForward(cfg, x, T, 0);
    expect(() => neuronBackwardInto(cfg, x, T, tr, ok(), 0, ok(), { v0: new Float64Array(1) })).toThrow(/^v0 has length 1, expected 4/);
    expect(() => neuronBackwardInto(cfg, x, T, tr, ok(), 0, ok(), { gradV0: new Float64Array(1) })).toThrow(/^gradV0 has length 1/);
  });
});

describe('scalar functions (the kernels call them directly)', () => {
  it('an IF neuron has dH/dX = 1 and dH/dk = 0 whatever k and decayInput', () => {
    expect(scalar.chargeGradX(scalar.KIND_IF, 1, 0.5)).toBe(1);
    expect(scalar.chargeGradK(scalar.KIND_IF, 1, 0.2, 0.7, 0)).toBe(0);
    expect(scalar.chargeGradK(scalar.KIND_IF, 0, 0.2, 0.7, 0)).toBe(0);
  });

  it('Theta(0) = 1: a potential exactly at the threshold fires (Eq. 3)', () => {
    expect(scalar.heaviside(0)).toBe(1);
    expect(scalar.heaviside(-Number.MIN_VALUE)).toBe(0);
    const r = neuronForward(neuronConfig({ kind: 'if', vThreshold: 1, vReset: 0 }), Float64Array.of(1), 1);
    expect(r.s[0]).toBe(1);
  });

  it("one step of the neuron's recurrence (Eqs. 2-6 forward, 8-13 backward), by hand", () => {
    const { neuronStep, neuronGradStep, KIND_PLIF, KIND_IF } = scalar;
    // PLIF with decayInput, k = 0.5, Vr = 0, Vth = 1: H = V + k (X - (V - Vr))
    const step = (q: number, hard: number, x: number) => neuronStep(q, KIND_PLIF, 1, hard, 0.4, x, 0.5, 0, 1);
    const near = (got: number[], want: number[]) => got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 15));
    near([step(0, 1, 1.5), step(1, 1, 1.5), step(2, 1, 1.5)], [0, 0.95, 0.95]); // below the threshold
    near([step(0, 1, 2), step(1, 1, 2), step(2, 1, 2)], [1, 1.2, 0]); // fires: hard reset to Vr
    expect(step(2, 0, 2)).toBeCloseTo(0.2, 15); // soft reset: H - Vth
    expect(neuronStep(2, KIND_IF, 1, 1, 0.25, 0.5, 0.5, -0.5, 1)).toBe(0.75); // IF: H = V + X, no spike
    // backward, hard reset, atan(2) at H - Vth = 0.5: sg = 1 / (1 + (pi/2)^2)
    const sg = 1 / (1 + (Math.PI / 2) ** 2);
    const [gHNext, gS, gV, h, dHdV] = [0.3, 0.7, 0.1, 1.5, 0.5];
    const gVt = gHNext * dHdV + gV; // Eqs. 8-9, 11
    expect(neuronGradStep(gHNext, gS, gV, h, 1, dHdV, 1, 0, 0, 1, 0, 2)).toBeCloseTo(gS * sg + gVt * (1 - 1 + (0 - h) * sg), 15); // Eqs. 10, 12
    expect(neuronGradStep(gHNext, gS, gV, h, 1, dHdV, 1, 1, 0, 1, 0, 2)).toBeCloseTo(gS * sg + gVt * 0, 15); // reset detached
    expect(neuronGradStep(gHNext, gS, gV, h, 1, dHdV, 0, 0, 0, 1, 0, 2)).toBeCloseTo(gS * sg + gVt * (1 - sg), 15); // soft reset
  });

  it("no parameter of a kernel function is named as a gpu.js kernel's constant (gpu.js's cpu mode would read the constant)", () => {
    const constants = new Set<string>();
    for (const k of Object.values(gpujsKernels)) if (typeof k === 'function') for (const m of k.toString().matchAll(/this\.constants\.(\w+)/g)) constants.add(m[1]!);
    expect([...constants].sort()).toEqual(['rate', 'value', 'which']);
    for (const f of [...scalar.KERNEL_FUNCTIONS, ...gpujsKernels.INDEX_FUNCTIONS]) {
      const params = /^function\s*\w*\(([^)]*)\)/.exec(f.toString())![1]!.split(',').map((p) => p.trim());
      for (const p of params) expect(constants.has(p), `${f.name}(${params.join(', ')})`).toBe(false);
    }
  });

  it('every exported function is registered for the kernels', () => {
    const fns = Object.values(scalar).filter((v) => typeof v === 'function');
    expect(new Set(scalar.KERNEL_FUNCTIONS)).toEqual(new Set(fns));
  });
});

describe('surrogates', () => {
  it('surrogateByName refuses unknown and inherited names, listing the known ones', () => {
    expect(() => surrogateByName('nope')).toThrow(/unknown surrogate 'nope'; known: atan, sigmoid, piecewiseQuadratic, piecewiseExp, softSign, erf/);
    expect(() => surrogateByName('toString')).toThrow(/unknown surrogate 'toString'/);
    expect(surrogateByName('erf', 3).alpha).toBe(3);
  });

  it('erf agrees with a double-precision erf to 1e-15 from tiny to large arguments (the series is summed to convergence)', () => {
    // values of C's erf (Python math.erf)
    const table: [number, number][] = [[0.001, 0.0011283787909692365], [0.01, 0.011283415555849616], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149], [2.5, 0.999593047982555], [5, 0.9999999999984626]];
    for (const [x, v] of table) expect(Math.abs(erf(x) - v) / v, `erf(${x})`).toBeLessThan(1e-15);
  });

  it('erf stays within [-1, 1] where its series rounds past 1 (5 < |x| <= 6)', () => {
    for (let x = 5; x <= 6; x += 0.01) {
      expect(erf(x), `erf(${x})`).toBeLessThanOrEqual(1);
      expect(erf(-x), `erf(${-x})`).toBeGreaterThanOrEqual(-1);
    }
    expect(erf(6)).toBe(1);
  });

  it('erf is odd, 0 at 0, and 1 beyond 6', () => {
    expect(erf(0)).toBe(0);
    expect(erf(7)).toBe(1);
    expect(erf(-0.5)).toBe(-erf(0.5));
  });
});

describe('loss helpers', () => {
  it('firing rates are means over T', () => {
    // T = 2, N = 1, C = 2
    expect(Array.from(firingRates(Float64Array.of(1, 0, 1, 1), 2, 1, 2))).toEqual([1, 0.5]);
    // T = 2, N = 3, C = 2: out[t][n][c] = 1 exactly at (0, 1, 0), (1, 1, 0), (1, 2, 1)
    const out = new Float64Array(12);
    for (const [t, n, c] of [[0, 1, 0], [1, 1, 0], [1, 2, 1]] as const) out[(t * 3 + n) * 2 + c] = 1;
    expect(Array.from(firingRates(out, 2, 3, 2))).toEqual([0, 0, 1, 0, 0, 0.5]);
  });

  it('predict is the first class of largest rate, per sample', () => {
    // T = 1, N = 2, C = 2: sample 1's rates must not leak into sample 0's argmax
    expect(Array.from(predict(Float64Array.of(0.2, 0.5, 0.9, 0.1), 1, 2, 2, null))).toEqual([1, 0]);
    expect(Array.from(predict(Float64Array.of(0.5, 0.5), 1, 1, 2, null))).toEqual([0]);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 1e9 }), (T, N, C, seed) => {
        const rng = Rng.seeded(seed);
        const out = Float64Array.from({ length: T * N * C }, () => rng.int(3));
        const p = predict(out, T, N, C, null);
        for (let n = 0; n < N; n++) {
          const rate = (c: number) => Array.from({ length: T }, (_, t) => out[(t * N + n) * C + c]!).reduce((a, b) => a + b, 0);
          const best = Math.max(...Array.from({ length: C }, (_, c) => rate(c)));
          expect(p[n]).toBe(Array.from({ length: C }, (_, c) => rate(c)).indexOf(best));
        }
      }),
      { numRuns: 50 },
    );
  });
});

describe('optimiser settings and schedule', () => {
  it('adam settings: lr >= 0 finite, betas in [0, 1), eps > 0', () => {
    expect(adamConfig({ lr: 0, beta1: 0, beta2: 0 }).lr).toBe(0);
    expect(() => adamConfig({ lr: -1e-3 })).toThrow(/adam: lr must be >= 0, got -0.001/);
    expect(() => adamConfig({ lr: Infinity })).toThrow(/adam: lr must be >= 0/);
    expect(() => adamConfig({ lr: Number.NaN })).toThrow(/adam: lr must be >= 0/);
    expect(() => adamConfig({ beta1: 1 })).toThrow(/adam: beta1 must be in \[0, 1\), got 1/);
    expect(() => adamConfig({ beta2: -0.1 })).toThrow(/adam: beta2 must be in \[0, 1\)/);
    expect(() => adamConfig({ eps: 0 })).toThrow(/adam: eps must be > 0, got 0/);
  });

  it('cosine annealing from base to etaMin, epochs integers >= 0, T_max > 0', () => {
    expect(cosineAnnealingLr(1, 0, 64, 0.2)).toBe(1);
    expect(cosineAnnealingLr(1, 64, 64, 0.2)).toBeCloseTo(0.2, 15);
    expect(cosineAnnealingLr(1, 32, 64, 0.2)).toBeCloseTo(0.6, 15);
    expect(() => cosineAnnealingLr(1, -1)).toThrow(/epoch must be an integer >= 0, got -1/);
    expect(() => cosineAnnealingLr(1, 0, 0)).toThrow(/T_max must be > 0, got 0/);
    expect(() => cosineAnnealingLr(1, 0, -5)).toThrow(/T_max must be > 0/);
  });
});

describe('seeded generator', () => {
  it('has a fixed stream per seed (runs and checkpoints depend on it), and seeds above 2^32 differ', () => {
    const first = (r: Rng, k: number) => Array.from({ length: k }, () => r.nextUint32());
    expect(first(Rng.seeded(0), 3)).toEqual([4205396811, 3543653536, 1222415357]);
    expect(first(Rng.seeded(5), 2)).toEqual([2829050452, 2860774583]);
    expect(first(Rng.seeded(2 ** 32 + 5), 2)).toEqual([192301540, 3536278370]);
    expect(() => Rng.seeded(Number.NaN)).toThrow(/seed must be a finite number, got NaN/);
  });

  it('state must be 4 uint32 values', () => {
    expect(Rng.fromState([0, 1, 2, 2 ** 32 - 1]).state()).toEqual([0, 1, 2, 2 ** 32 - 1]);
    for (const s of [[0, 1, 2], [0, 1, 2, 2 ** 32], [0, 1, 2, -1], [0, 1, 2, 0.5]]) expect(() => Rng.fromState(s), JSON.stringify(s)).toThrow(/RNG state must be 4 uint32 values, got \[/);
  });

  it('int(n) needs a positive integer n and covers 0..n-1', () => {
    for (const n of [0, -2, 1.5]) expect(() => Rng.seeded(1).int(n)).toThrow(/int\(n\): n must be a positive integer/);
    const r = Rng.seeded(3);
    const seen = new Set(Array.from({ length: 200 }, () => r.int(5)));
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it('split gives its own fixed stream; a shuffle of n elements draws n - 1 numbers', () => {
    const s = Rng.seeded(0).split();
    expect([s.nextUint32(), s.nextUint32()]).toEqual([2380094758, 935639453]);
    const r = Rng.seeded(9);
    const twin = Rng.seeded(9);
    r.shuffle(Array.from({ length: 10 }, (_, i) => i));
    for (let i = 0; i < 9; i++) twin.nextUint32();
    expect(r.state()).toEqual(twin.state());
  });

  it('shuffle and permutation are permutations that move elements', () => {
    const p = Rng.seeded(4).permutation(50);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(p)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(p.length).toBe(50);
  });
});

describe('core/ loads anywhere', () => {
  it('imports no Node module and nothing outside core/ (the browser page and every backend import it)', () => {
    const files = (readdirSync('core', { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(10);
    const bad: string[] = [];
    for (const f of files) {
      const src = readFileSync(join('core', f), 'utf8');
      for (const m of src.matchAll(/\b(?:from|import)\s*\(?\s*'([^']+)'/g)) {
        const spec = m[1]!;
        const inside = spec.startsWith('.') && !relative('core', join('core', dirname(f), spec)).startsWith('..');
        if (!inside) bad.push(`${f}: ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });
});

describe('encoder contracts', () => {
  it('names a bad encoder, a batch that does not divide, a bad T and a wrong output size', () => {
    expect(checkEncoderName('poisson')).toBe('poisson');
    expect(() => checkEncoderName('rate')).toThrow('encoder must be one of direct, poisson, latency, got "rate"');
    expect([isSpikeEncoder('direct'), isSpikeEncoder('poisson'), isSpikeEncoder('latency')]).toEqual([false, true, true]);
    const out = new Float32Array(12);
    expect(() => latencyEncodeInto([0.5, 0.5, 0.5], 2, 4, out)).toThrow('latencyEncodeInto: 3 values are not a batch of 2 samples');
    expect(() => latencyEncodeInto([0.5, 0.5], 1.5, 4, out)).toThrow('latencyEncodeInto: 2 values are not a batch of 1.5 samples');
    expect(() => latencyEncodeInto([0.5, 0.5], 0, 4, out)).toThrow('latencyEncodeInto: 2 values are not a batch of 0 samples');
    expect(() => latencyEncodeInto([0.5, 0.5], 2, 0, out)).toThrow('latencyEncodeInto: T must be a positive integer, got 0');
    expect(() => latencyEncodeInto([0.5, 0.5], 2, 2.5, out)).toThrow('latencyEncodeInto: T must be a positive integer, got 2.5');
    expect(() => poissonEncodeInto([0.5, 0.5], 2, 4, Rng.seeded(1), new Float32Array(7))).toThrow('poissonEncodeInto: out holds 7 values, expected T*N*per = 8');
    expect(() => poissonEncodeInto([0.5, 0.5], 2, 4, [Rng.seeded(1)], new Float32Array(8))).toThrow('poissonEncodeInto: 1 per-sample Rngs for a batch of 2');
    // a negative batch divides any length: refused all the same
    expect(() => latencyEncodeInto([0.5, 0.5], -1, 4, out)).toThrow('latencyEncodeInto: 2 values are not a batch of -1 samples');
    expect(() => poissonEncodeInto([0.5, 0.5], -2, 4, Rng.seeded(1), new Float32Array(8))).toThrow('poissonEncodeInto: 2 values are not a batch of -2 samples');
  });

  it('poisson draws exactly T*N*per numbers from a shared Rng (a resumed run depends on the count)', () => {
    const rng = Rng.seeded(21);
    poissonEncodeInto(Array.from({ length: 6 }, (_, i) => i / 5), 2, 4, rng, new Float32Array(24));
    const skip = Rng.seeded(21);
    for (let i = 0; i < 24; i++) skip.uniform();
    expect(rng.uniform()).toBe(skip.uniform());
  });

  it("encodeSpikes names the encoder in its input check, and 'latency' ignores an Rng it is given", () => {
    expect(() => encodeSpikes('latency', [2], 1, 3, null)).toThrow('latency encoder input: value 2 at index 0 is not an intensity');
    expect(() => encodeSpikes('poisson', [2], 1, 3, Rng.seeded(1))).toThrow('poisson encoder input: value 2 at index 0 is not an intensity');
    const x = [0.9, 0.5, 0.2, 0.7, 0.05, 1];
    expect(encodeSpikes('latency', x, 2, 5, Rng.seeded(4))).toEqual(latencyEncodeInto(x, 2, 5, new Float32Array(30)));
  });

  it('accepts intensities 0 and 1 exactly and names the first value outside [0, 1], NaN included', () => {
    expect(() => checkIntensities([0, 1, 0.5])).not.toThrow();
    expect(() => checkIntensities([0, Number.NaN])).toThrow('encoder input: value NaN at index 1 is not an intensity in [0, 1] (give the spike encoders unnormalised pixels)');
    expect(() => checkIntensities([1.0000001], 'x')).toThrow('x: value 1.0000001 at index 0');
    // latency: p = 1 fires at 0, p = 0 never; the output is cleared first
    const out = latencyEncodeInto([1, 0], 1, 3, new Float32Array(6).fill(7));
    expect([...out]).toEqual([1, 0, 0, 0, 0, 0]);
    // poisson: p = 1 always fires, p = 0 never, whatever the draws
    const p = poissonEncodeInto([1, 0], 1, 50, Rng.seeded(3), new Float32Array(100));
    for (let t = 0; t < 50; t++) expect([p[2 * t], p[2 * t + 1]]).toEqual([1, 0]);
  });
});
