// The whole training step of random small networks (random structure strings, every neuron option, static
// and event inputs) on a backend equals the float64 tape of reference/whole-step.ts: the loss, every
// parameter gradient (weights, BN gamma/beta, each PLIF a) and the BN running statistics after the step.
// The tape shares no code with core/network/ or core's neuron, so a wrong layer, a wrong network
// composition or a wrong neuron gradient on any backend fails here. Usage in a *.test.ts file:
//   wholeStepSuite('cpu', () => cpuBackend(), 30);
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { FloatArray } from '../core/types.js';
import type { Backend, Tensor } from '../core/backend.js';
import { DropoutLayer } from '../core/network/layers.js';
import { Network, networkConfig, type NetworkConfig } from '../core/network/network.js';
import { parseStructure } from '../core/network/parser.js';
import { lossAndGradients } from '../core/network/train.js';
import { Rng } from '../core/rng.js';
import { SURROGATE_NAMES } from '../core/surrogates.js';
import { wholeStep, type WholeStepResult } from '../reference/whole-step.js';
import { disagreementLog, envVar } from './util.js';

/**
 * Tolerances of a whole step from the backend's storage precision. A value may differ from the tape's by
 * rtol times its rounding scale (the tape's magnitudes: WholeStepResult.gradScales, bufferScales,
 * lossScale), the largest of each array. float64: 1e-9; float32: 2^11 roundoffs (1.2e-4). A case is compared only when no
 * potential is within `margin` of the threshold and no BN channel has a batch variance below it (a spike
 * that rounding could flip; a batch-norm backward that cancels to rounding noise).
 */
export function stepTolerance(precision: Backend['precision']): { rtol: number; margin: number; underflow: number } {
  // underflow: differences this small are values below the format's normal range (a surrogate's tail)
  return precision === 'float64' ? { rtol: 1e-9, margin: 1e-9, underflow: 2 ** -1000 } : { rtol: 2 ** 11 * 2 ** -24, margin: 1e-3, underflow: 2 ** -100 };
}

/** Largest |got - want| over the largest of `scale` (default |want|) in the array; 0 when no difference exceeds `underflow`. */
export function arrayError(got: ArrayLike<number>, want: ArrayLike<number>, scale: ArrayLike<number> = want, underflow = 0): number {
  let s = 0;
  let diff = 0;
  for (let i = 0; i < want.length; i++) {
    s = Math.max(s, Math.abs(scale[i]!));
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
  }
  if (got.length !== want.length || Number.isNaN(diff)) return Infinity;
  return diff <= underflow ? 0 : diff / s;
}

const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 });
const token = (...t: string[]) => fc.constantFrom(...t);

/** A random small network: structure string and every option the tape models (a neuron first, FC-DP-FC, no neuron at all). */
export const stepCaseArb = fc
  .record({
    lead: token('', '', '', 'PLIF', 'IF'),
    convs: fc.array(fc.record({ ch: fc.integer({ min: 1, max: 4 }), k: token('1', '3'), s: token('1', '1', '2'), bn: fc.boolean(), neuron: token('PLIF', 'LIF', 'IF', 'PLIF', ''), pool: token('', 'MPk2s2', 'APk2s2', 'MPk3s1') }), { maxLength: 2 }),
    fcs: fc.array(fc.record({ dp: token('', 'DP', 'DP0.25'), f: fc.integer({ min: 2, max: 12 }), bn: fc.boolean(), neuron: token('PLIF', 'LIF', 'IF', '') }), { maxLength: 2 }),
    lastDp: token('', 'DP'),
    classes: fc.integer({ min: 2, max: 3 }),
    vote: token('1', '2', '10'),
    lastNeuron: token('PLIF', 'LIF', 'IF', 'PLIF', ''),
    inC: fc.integer({ min: 1, max: 2 }),
    T: fc.integer({ min: 1, max: 4 }),
    N: fc.integer({ min: 1, max: 3 }),
    static: fc.boolean(),
    opts: fc.record({
      loss: token('rate', 'per-step') as fc.Arbitrary<'rate' | 'per-step'>,
      tau0: fc.constantFrom(1.5, 2, 3),
      neuronKind: fc.constantFrom(null, null, null, 'plif' as const, 'lif' as const, 'if' as const),
      pool: fc.constantFrom(null, null, 'max' as const, 'avg' as const),
      vThreshold: fc.constantFrom(1, 0.5, 1.3),
      vReset: fc.constantFrom(0, 0, null, -0.3),
      decayInput: fc.boolean(),
      detachReset: fc.boolean(),
      surrogate: fc.record({ name: fc.constantFrom(...SURROGATE_NAMES), alpha: fc.constantFrom(0.5, 1, 2, 4) }),
      bnMomentum: fc.constantFrom(0.1, 0.5),
    }),
  })
  .map((r) => {
    const parts: string[] = r.lead ? [r.lead] : []; // a neuron first: no static encoder
    let hw = 6;
    for (const c of r.convs) {
      const k = Number(c.k);
      const s = Number(c.s);
      hw = Math.floor((hw + 2 * Math.floor(k / 2) - k) / s) + 1;
      parts.push(`c${c.ch}k${k}s${s}`, ...(c.bn ? ['BN'] : []), ...(c.neuron ? [c.neuron] : []));
      const pk = c.pool ? Number(c.pool[3]) : 0;
      if (c.neuron && c.pool && hw >= pk) {
        parts.push(c.pool); // pools of spikes: ties are exact in every precision
        hw = Math.floor((hw - pk) / Number(c.pool[5])) + 1;
      }
    }
    // an FC without a neuron may be followed by dropout: FC-DP-FC; a network may have no neuron at all
    for (const f of r.fcs) parts.push(...(f.dp ? [f.dp] : []), `FC${f.f}`, ...(f.bn ? ['BN'] : []), ...(f.neuron ? [f.neuron] : []));
    const M = Number(r.vote);
    parts.push(...(r.lastDp ? [r.lastDp] : []), `FC${r.classes * M}`, ...(r.lastNeuron ? [r.lastNeuron] : []), ...(M > 1 ? [`APk${M}s${M}`] : []));
    return { ...r, structure: parts.join('-') };
  });

export type StepCase = typeof stepCaseArb extends fc.Arbitrary<infer C> ? C : never;

/** What a backend's lossAndGradients gives, and the dropout masks it drew (by layer index). */
interface BackendStep {
  loss: number;
  grads: Map<string, Float64Array>;
  buffers: Map<string, Float64Array>;
  masks: Map<number, Float64Array>;
  params: Map<string, Float64Array>;
}

/** One step of `cfg` on `b`: initial parameters from Rng(seed + 1), dropout masks from Rng(seed + 2), BN running statistics from Rng(seed + 3). */
export async function backendStep(b: Backend, cfg: NetworkConfig, x: Float32Array, labels: Int32Array, seed: number): Promise<BackendStep> {
  // the masks each dropout forward is given (the backward passes the same handle again), kept alive to be read back
  const drawn = new Map<Tensor, Tensor>();
  const dropout = (xt: Tensor, mask: Tensor): Tensor => {
    if (!drawn.has(mask)) drawn.set(mask, b.reshape(mask, mask.shape));
    return b.dropout(xt, mask);
  };
  const recording = new Proxy(b, {
    get: (target, key) => {
      if (key === 'dropout') return dropout;
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  const net = new Network(recording, cfg, Rng.seeded(seed + 1));
  // running statistics away from their initial 0 and 1, from Rng(seed + 3): the update must weigh the old values
  const stats = Rng.seeded(seed + 3);
  for (const q of net.buffers()) {
    const v = Float32Array.from({ length: q.value.size }, () => (q.name.endsWith('running_var') ? 0.5 + 1.5 * stats.uniform() : 2 * stats.uniform() - 1));
    b.dispose(q.value);
    q.value = b.upload(v, q.value.shape);
  }
  const f64 = (vs: FloatArray[]) => vs.map((v) => Float64Array.from(v));
  const initial = [...net.params(), ...net.buffers()];
  const params = new Map(f64(await b.read(initial.map((p) => p.value))).map((v, i) => [initial[i]!.name, v]));
  const r = await lossAndGradients(net, { x, labels }, Rng.seeded(seed + 2));
  const withGrad = net.params().filter((p) => p.grad);
  const [gradValues, bufferValues, maskValues] = await Promise.all([b.read(withGrad.map((p) => p.grad!)), b.read(net.buffers().map((q) => q.value)), b.read([...drawn.values()])]);
  const grads = new Map(net.params().map((p) => [p.name, p.grad ? Float64Array.from(gradValues[withGrad.indexOf(p)]!) : new Float64Array(0)]));
  const buffers = new Map(net.buffers().map((q, i) => [q.name, Float64Array.from(bufferValues[i]!)]));
  const dropoutLayers = net.layers.filter((l) => l instanceof DropoutLayer && l.p > 0).map((l) => l.index);
  for (const v of drawn.values()) b.dispose(v);
  net.dispose();
  const maskList = f64(maskValues);
  return { loss: r.loss, grads, buffers, params, masks: new Map(dropoutLayers.map((i, q) => [i, maskList[q]!])) };
}

export function caseConfig(c: StepCase): NetworkConfig {
  return networkConfig(c.structure, [c.inC, 6, 6], c.classes, { T: c.T, static: c.static, ...c.opts });
}

export function caseInput(c: StepCase, seed: number): { x: Float32Array; labels: Int32Array } {
  const rng = Rng.seeded(seed);
  const n = c.N * c.inC * 36 * (c.static ? 1 : c.T);
  const x = Float32Array.from({ length: n }, () => (c.static ? rng.range(-2, 3) : rng.uniform() < 0.4 ? 1 : 0));
  return { x, labels: Int32Array.from({ length: c.N }, () => rng.int(c.classes)) };
}

/** The tape's step for the parameters, input and dropout masks a backend used. */
export function tapeStep(cfg: NetworkConfig, s: BackendStep, x: Float32Array, labels: Int32Array): WholeStepResult {
  return wholeStep({
    layers: parseStructure(cfg.structure),
    input: cfg.input,
    T: cfg.T,
    static: cfg.static,
    loss: cfg.loss,
    neuronKind: cfg.neuronKind,
    pool: cfg.pool,
    neuron: { tau: cfg.tau0, vThreshold: cfg.vThreshold, vReset: cfg.vReset, decayInput: cfg.decayInput, detachReset: cfg.detachReset, surrogate: cfg.surrogate },
    bnMomentum: cfg.bnMomentum,
    bnEps: cfg.bnEps,
    params: s.params,
    x,
    labels,
    masks: s.masks,
  });
}

/** Every disagreement of a backend's step with the tape, as 'what: error' lines (empty when equal). */
export function compareStep(got: BackendStep, want: WholeStepResult, tol: { rtol: number; underflow: number }): { bad: string[]; worst: number } {
  const { rtol, underflow } = tol;
  const bad: string[] = [];
  let worst = 0;
  const check = (what: string, e: number) => {
    if (!(e <= rtol)) bad.push(`${what}: relative error ${e}`);
    worst = Math.max(worst, e);
  };
  check('loss', Math.abs(got.loss - want.loss) / want.lossScale);
  const names = [...want.grads.keys()].sort();
  if (names.join() !== [...got.grads.keys()].sort().join()) bad.push(`parameters: tape has ${names.join()}, backend ${[...got.grads.keys()].join()}`);
  for (const n of names) {
    const g = got.grads.get(n) ?? new Float64Array(0);
    const w = want.grads.get(n)!;
    check(`d loss / d ${n} = [${g.slice(0, 4).join(', ')}${g.length > 4 ? ', ...' : ''}] (tape [${w.slice(0, 4).join(', ')}${w.length > 4 ? ', ...' : ''}])`, arrayError(g, w, want.gradScales.get(n), underflow));
  }
  for (const [n, v] of want.buffers) check(n, arrayError(got.buffers.get(n) ?? [], v, want.bufferScales.get(n), underflow));
  if (got.buffers.size !== want.buffers.size) bad.push(`buffers: tape ${want.buffers.size}, backend ${got.buffers.size}`);
  return { bad, worst };
}

/** Runs per backend: `runs`, or PLIF_STEP_RUNS for a longer soak. */
const stepRuns = (runs: number) => Number(envVar('PLIF_STEP_RUNS') ?? runs);

export function wholeStepSuite(name: string, factory: () => Backend, runs: number): void {
  const record = disagreementLog('whole step vs tape, error / rounding scale');
  const numRuns = stepRuns(runs);
  describe(`whole training step: ${name} vs the float64 tape (reference/whole-step.ts)`, () => {
    it('loss, every parameter gradient and the BN running statistics of random networks equal the tape', async () => {
      const b = factory();
      const tol = stepTolerance(b.precision);
      let compared = 0;
      await fc.assert(
        fc.asyncProperty(stepCaseArb, seedArb, async (c, seed) => {
          const cfg = caseConfig(c);
          const { x, labels } = caseInput(c, seed);
          const got = await backendStep(b, cfg, x, labels, seed);
          const want = tapeStep(cfg, got, x, labels);
          fc.pre(want.margin > tol.margin && want.minVariance > tol.margin);
          const { bad, worst } = compareStep(got, want, tol);
          record(name, worst);
          expect(bad, `${cfg.structure} T=${c.T} N=${c.N} static=${c.static} ${JSON.stringify(c.opts)}`).toEqual([]);
          compared++;
        }),
        { numRuns },
      );
      expect(compared, 'cases compared (not skipped as near a threshold)').toBeGreaterThanOrEqual(numRuns / 2);
    });
  });
}
