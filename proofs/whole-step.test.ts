// The whole training step on the float64 reference backend and the CPU backend (both kernel sets) equals
// the independent float64 tape (proofs/whole-step.ts); the gpu.js modes run the same property in
// whole-step-gpujs.test.ts.
import fc from 'fast-check';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../backends/cpu/index.js';
import { DropoutLayer } from '../core/network/layers.js';
import { Network, networkConfig } from '../core/network/network.js';
import { parseStructure } from '../core/network/parser.js';
import { Rng } from '../core/rng.js';
import { referenceBackend } from '../reference/ops-backend.js';
import { wholeStep, type WholeStepOptions } from '../reference/whole-step.js';
import { centralDiff, relErr } from './util.js';
import { backendStep, caseConfig, caseInput, compareStep, stepCaseArb, stepTolerance, tapeStep, wholeStepSuite, type StepCase } from './whole-step.js';

wholeStepSuite('reference (float64)', () => referenceBackend(), 40);
wholeStepSuite('cpu (TypeScript kernels)', () => cpuBackend({ simd: false }), 40);
wholeStepSuite('cpu (SIMD kernels, 2 threads)', () => {
  const b = cpuBackend({ threads: 2 });
  if (!b.simd) throw new Error('the WebAssembly SIMD kernels did not load: run npm run build');
  return b;
}, 40);

describe('whole training step: hand-picked networks the random ones rarely draw', () => {
  // FC-DP-FC-DP: each linear backward may skip the input-gradient entries that the dropout BEFORE it
  // zeroes (and only those); a static network without neurons; a neuron first (no encoder).
  const cases = ['FC4-DP-FC4-DP-FC2-PLIF', 'FC6-DP0.25-FC6-DP-FC20-APk10s10', 'c2k3s1-BN-FC4-APk2s2', 'PLIF-c2k3s1-BN-PLIF-FC2-IF'];
  for (const [name, factory] of [['reference', () => referenceBackend()], ['cpu (TypeScript kernels)', () => cpuBackend({ simd: false })]] as const) {
    it(`${name}: ${cases.join(', ')}`, async () => {
      const be = factory();
      const tol = stepTolerance(be.precision);
      for (const structure of cases)
        for (const isStatic of [true, false])
          for (let seed = 0; seed < 4; seed++) {
            const c = { structure, inC: 1, classes: 2, T: 3, N: 3, static: isStatic, opts: { loss: 'rate' as const } } as unknown as StepCase;
            const cfg = networkConfig(structure, [1, 6, 6], 2, { T: 3, static: isStatic });
            const { x, labels } = caseInput(c, seed);
            const got = await backendStep(be, cfg, x, labels, seed);
            const want = tapeStep(cfg, got, x, labels);
            if (!(want.margin > tol.margin && want.minVariance > tol.margin)) continue;
            expect(compareStep(got, want, tol).bad, `${structure} static=${isStatic} seed ${seed}`).toEqual([]);
          }
    });
  }
});

describe('the whole-step tape itself', () => {
  const specs = (s: string) => parseStructure(s);
  const base = (structure: string, params: Map<string, Float64Array>, x: Float64Array, labels: Int32Array, extra: Partial<WholeStepOptions> = {}): WholeStepOptions => ({
    layers: specs(structure),
    input: [1, 4, 4],
    T: 2,
    static: true,
    loss: 'per-step',
    neuronKind: null,
    pool: null,
    neuron: { tau: 2, vThreshold: 1, vReset: 0, decayInput: true, detachReset: true, surrogate: { name: 'atan', alpha: 2 } },
    bnMomentum: 0.1,
    bnEps: 1e-5,
    params,
    x,
    labels,
    masks: new Map(),
    ...extra,
  });

  it('equals central differences of its own loss on networks without spikes (conv, BN, pools, dropout, FC, vote, both losses)', () => {
    // Without a neuron every op is smooth, so the tape's reverse mode must equal finite differences.
    const structures = ['c2k3s1-BN-MPk2s2-FC4-APk2s2', 'c2k3s2p1-APk2s1-DP-FC2', 'FC6-BN-DP0.25-FC4-APk2s2'];
    fc.assert(
      fc.property(fc.constantFrom(...structures), fc.constantFrom('rate' as const, 'per-step' as const), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (structure, loss, seed) => {
        const rng = Rng.seeded(seed);
        const N = 2;
        const cfg = networkConfig(structure, [1, 4, 4], 2, { T: 2, static: true, loss });
        const net = new Network(referenceBackend(), cfg, Rng.seeded(seed));
        const params = new Map([...net.params(), ...net.buffers()].map((p) => [p.name, Float64Array.from(net.backend.download(p.value))]));
        for (const p of net.params()) if (p.kind !== 'weight') params.set(p.name, params.get(p.name)!.map(() => rng.range(0.5, 1.5)));
        const x = Float64Array.from({ length: N * 16 }, () => rng.range(-2, 2));
        const labels = Int32Array.from({ length: N }, () => rng.int(2));
        const masks = new Map(net.layers.filter((l) => l instanceof DropoutLayer).map((l) => [l.index, Float64Array.from({ length: N * l.inShape.reduce((a, d) => a * d, 1) }, () => (rng.uniform() < 0.3 ? 0 : 1.5))]));
        net.dispose();
        const opts = base(structure, params, x, labels, { loss, masks });
        const r = wholeStep(opts);
        for (const [name, g] of r.grads) {
          const p = params.get(name)!;
          for (let i = 0; i < p.length; i++) {
            const fd = centralDiff((v) => {
              const q = new Map(params);
              const copy = p.slice();
              copy[i] = v;
              q.set(name, copy);
              return wholeStep({ ...opts, params: q }).loss;
            }, p[i]!);
            expect(relErr(g[i]!, fd, 1e-3), `${structure} ${name}[${i}]: tape ${g[i]}, central difference ${fd}`).toBeLessThan(1e-5);
          }
        }
      }),
      { numRuns: 6 },
    );
  });

  it('max pooling sends the gradient to the first maximum, or to the saved winner when given', () => {
    // One 2x2 window of equal values: by default the first cell wins; a saved winner 3 takes the gradient.
    const params = new Map([['1.weight', Float64Array.of(1, 1)]]);
    const x = Float64Array.of(0.5, 0.5, 0.5, 0.5);
    const opts = { ...base('MPk2s2-FC2', params, x, Int32Array.of(0)), input: [1, 2, 2] as const, T: 1 };
    const first = wholeStep(opts);
    const saved = wholeStep({ ...opts, winners: new Map([[0, [3]]]) });
    expect(first.loss).toBe(saved.loss);
    expect(Array.from(first.grads.get('1.weight')!)).toEqual(Array.from(saved.grads.get('1.weight')!));
    expect(() => wholeStep({ ...opts, x: Float64Array.of(0.5, 0.5, 0.5, 0.7), winners: new Map([[0, [0]]]) })).toThrow(/not a maximum/);
  });

  it('reference/ shares no code with core/neuron.ts, core/scalar.ts, core/surrogates.ts or core/network/ (only the parser type)', () => {
    const dir = fileURLToPath(new URL('../reference/', import.meta.url));
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts'))) {
      const src = readFileSync(join(dir, f), 'utf8');
      for (const m of src.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
        const [, typeOnly, from] = m;
        if (/core\/(neuron|scalar|surrogates)\.js$/.test(from!)) throw new Error(`reference/${f} imports ${from}`);
        if (/core\/network\//.test(from!) && !(typeOnly && from!.endsWith('parser.js'))) throw new Error(`reference/${f} imports ${from}`);
      }
    }
  });

  it('is not vacuous: most random networks spike and give every parameter a non-zero gradient', async () => {
    let everyGradient = 0;
    const cases = fc.sample(fc.tuple(stepCaseArb, fc.integer({ min: 0, max: 2 ** 31 - 1 })), { numRuns: 100, seed: 11 });
    const ref = referenceBackend();
    for (const [c, seed] of cases) {
      const cfg = caseConfig(c);
      const { x, labels } = caseInput(c, seed);
      const want = tapeStep(cfg, await backendStep(ref, cfg, x, labels, seed), x, labels);
      if ([...want.grads.values()].every((g) => g.some((v) => v !== 0))) everyGradient++;
    }
    expect(everyGradient).toBeGreaterThan(30);
  });
});
