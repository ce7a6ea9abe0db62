// Where a training step's time goes: every backend op is timed and charged to the layer that called it
// (forward or backward), the loss, the optimiser or the network's own glue (the static encoder's repeat
// and sum over T); a backend that reports the parts of an op (the CPU backend: a conv's or linear's weight
// and input gradients) gets one row per part. Also the firing rate of every spiking layer, measured
// outside the timed region.
import type { Backend, Tensor } from '../core/backend.js';
import { Network, type NetworkConfig } from '../core/network/index.js';
import { NeuronLayer, type Layer } from '../core/network/layers.js';
import { disposeAdam } from '../core/network/train.js';
import { Rng } from '../core/rng.js';
import { benchStep, startOf, syntheticBatch, type BenchSpec } from './step-timing.js';

export interface ProfileRow {
  /** "3 c128k3s1", or loss / optimizer / network. */
  layer: string;
  phase: 'forward' | 'backward' | 'update' | '';
  /** The op, or "op: part" (e.g. "conv2dBackward: input grad"). */
  op: string;
  ms_per_step: number;
  percent: number;
}

export interface StepProfile {
  steps: number;
  ms_per_step: number;
  rows: ProfileRow[];
  /** Time per kind of work (conv forward, conv weight grad, ..., neuron, batch norm, pooling, adam). */
  by_kind: { kind: string; ms_per_step: number; percent: number }[];
  firing_rates: { layer: string; rate: number }[];
}

/** Sink for the parts of an op that a backend times itself (CpuBackendOptions.onSection). */
export interface SectionSink {
  section(name: string, ms: number): void;
}

const STORAGE = new Set(['upload', 'zeros', 'download', 'dispose', 'liveTensors', 'reshape', 'name', 'precision']);

/** The kind of work of an op; `encoder`: the op belongs to the static encoder (computed once per sample). */
function kindOf(op: string, encoder: boolean): string {
  const [name, part] = op.split(': ');
  if (name === 'conv2d') return encoder ? 'conv forward (encoder)' : 'conv forward';
  if (name === 'conv2dBackward') return part ? `conv ${part}` : 'conv backward (other)';
  if (name === 'linear') return 'linear forward';
  if (name === 'linearBackward') return part ? `linear ${part}` : 'linear backward (other)';
  if (name === 'neuron' || name === 'neuronBackward') return 'neuron loops';
  if (name!.startsWith('batchNorm')) return 'batch norm';
  if (name!.includes('Pool')) return 'pooling';
  if (name === 'dropout') return 'dropout';
  if (name === 'adam') return 'adam';
  if (name!.startsWith('vote') || name === 'mseLossGrad' || name === 'countBad') return 'voting, loss and checks';
  return 'other';
}

/**
 * Profiles `spec.steps` training steps (after `spec.warmup`) of `cfg` on `backend`. `sink` receives the
 * backend's own part timings: pass the same object the backend was created with (or null).
 */
export async function profileTrainStep(backend: Backend, cfg: NetworkConfig, spec: BenchSpec, sink: { current: SectionSink | null }): Promise<StepProfile> {
  const acc = new Map<string, { layer: string; phase: ProfileRow['phase']; op: string; ms: number }>();
  let scope = { layer: 'network', phase: '' as ProfileRow['phase'] };
  let recording = false;
  let op: { name: string; parts: number } | null = null;
  const add = (layer: string, phase: ProfileRow['phase'], name: string, ms: number) => {
    if (!recording) return;
    const key = `${layer}|${phase}|${name}`;
    const r = acc.get(key) ?? { layer, phase, op: name, ms: 0 };
    r.ms += ms;
    acc.set(key, r);
  };
  sink.current = {
    section(name, ms) {
      if (!op) return;
      op.parts += ms;
      add(scope.layer, scope.phase, `${op.name}: ${name}`, ms);
    },
  };
  const rates = new Map<string, { sum: number; n: number }>();
  let measureMs = 0;
  const timed = new Proxy(backend, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv) as unknown;
      if (typeof v !== 'function' || typeof prop !== 'string' || STORAGE.has(prop)) return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return (...args: unknown[]) => {
        const saved = scope;
        if (prop === 'adam') scope = { layer: 'optimizer', phase: 'update' };
        if (prop === 'mseLossGrad') scope = { layer: 'loss', phase: '' };
        const outer = op;
        op = { name: prop, parts: 0 };
        const t0 = performance.now();
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        const ms = performance.now() - t0;
        add(scope.layer, scope.phase, prop, ms - op.parts);
        op = outer;
        scope = saved;
        if (prop === 'neuron' && recording) {
          const m0 = performance.now();
          const s = target.download((r as { s: Tensor }).s);
          let sum = 0;
          for (let i = 0; i < s.length; i++) sum += s[i]!;
          const q = rates.get(scope.layer) ?? { sum: 0, n: 0 };
          q.sum += sum;
          q.n += s.length;
          rates.set(scope.layer, q);
          measureMs += performance.now() - m0;
        }
        return r;
      };
    },
  });

  const rng = Rng.seeded(spec.seed);
  const { net, opt } = await startOf(timed, cfg, spec, rng);
  const layerName = (l: Layer) => `${l.index} ${l.token}`;
  const encoderLayers = new Set(net.layers.filter((l) => l.index < net.encoderEnd).map(layerName));
  for (const l of net.layers) {
    const name = layerName(l);
    const fwd = l.forward.bind(l);
    const bwd = l.backward.bind(l);
    l.forward = (b, x, ctx) => {
      const saved = scope;
      scope = { layer: name, phase: 'forward' };
      try {
        return fwd(b, x, ctx);
      } finally {
        scope = saved;
      }
    };
    l.backward = (b, gy, need, mask) => {
      const saved = scope;
      scope = { layer: name, phase: 'backward' };
      try {
        return bwd(b, gy, need, mask);
      } finally {
        scope = saved;
      }
    };
  }
  const synthetic = syntheticBatch(cfg, spec.batch, rng.split());
  const batch = spec.data ?? synthetic;
  const stepRng = rng.split();
  // the step plif train runs and plif bench times (checkedTrainStep: with the divergence check)
  const step = benchStep(net, opt, batch, stepRng, 'the profiled');
  for (let i = 0; i < spec.warmup; i++) await step();
  recording = true;
  const t0 = performance.now();
  for (let i = 0; i < spec.steps; i++) await step();
  const total = (performance.now() - t0 - measureMs) / spec.steps;
  recording = false;
  sink.current = null;
  disposeAdam(timed, opt);
  net.dispose();

  const rows: ProfileRow[] = [...acc.values()].map((r) => ({ layer: r.layer, phase: r.phase, op: r.op, ms_per_step: r.ms / spec.steps, percent: (100 * r.ms) / spec.steps / total }));
  const opSum = rows.reduce((s, r) => s + r.ms_per_step, 0);
  rows.push({ layer: 'untimed', phase: '', op: 'between ops (batch upload, bookkeeping)', ms_per_step: total - opSum, percent: (100 * (total - opSum)) / total });
  const kinds = new Map<string, number>();
  for (const r of rows) {
    const k = r.layer === 'untimed' ? 'other' : kindOf(r.op, encoderLayers.has(r.layer));
    kinds.set(k, (kinds.get(k) ?? 0) + r.ms_per_step);
  }
  const by_kind = [...kinds].map(([kind, ms]) => ({ kind, ms_per_step: ms, percent: (100 * ms) / total })).sort((a, b) => b.ms_per_step - a.ms_per_step);
  const spiking = net.layers.filter((l) => l instanceof NeuronLayer).map(layerName);
  const firing_rates = spiking.map((layer) => {
    const q = rates.get(layer);
    return { layer, rate: q && q.n > 0 ? q.sum / q.n : 0 };
  });
  return { steps: spec.steps, ms_per_step: total, rows, by_kind, firing_rates };
}

/** Milliseconds as plif bench prints them: 2 decimals below 10 ms, 1 below 100, none above. */
export const msText = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/**
 * The profile as an aligned text table. Its total is the profiled step's time (every op timed, which costs
 * time of its own); `unprofiled`: the same step timed without profiling (plif bench's row), shown beside it.
 */
export function formatProfile(p: StepProfile, unprofiled?: { ms_per_step: number; steps: number }): string {
  const lines: string[] = [];
  const pad = (s: string, n: number) => s.padEnd(n);
  const num = (x: number, d = 1) => x.toFixed(d).padStart(9);
  const ms = (x: number) => msText(x).padStart(9);
  lines.push(`${pad('layer', 14)} ${pad('phase', 9)} ${pad('op', 34)} ${'ms/step'.padStart(9)} ${'%'.padStart(9)}`);
  for (const r of p.rows) lines.push(`${pad(r.layer, 14)} ${pad(r.phase, 9)} ${pad(r.op, 34)} ${ms(r.ms_per_step)} ${num(r.percent)}`);
  lines.push(`${pad('total', 14)} ${pad('profiled', 9)} ${pad(`(mean of ${p.steps} steps, every op timed)`, 34)} ${ms(p.ms_per_step)} ${num(100)}`);
  if (unprofiled) {
    const d = (100 * (p.ms_per_step - unprofiled.ms_per_step)) / unprofiled.ms_per_step;
    lines.push(`${pad('step', 14)} ${pad('timed', 9)} ${pad(`(median of ${unprofiled.steps}, not profiled)`, 34)} ${ms(unprofiled.ms_per_step)} ${num((100 * unprofiled.ms_per_step) / p.ms_per_step)}`);
    lines.push(`the profiled total is ${Math.abs(d).toFixed(0)}% ${d >= 0 ? 'above' : 'below'} the unprofiled median: timing every op costs time of its own, and few steps vary`);
  }
  lines.push('');
  lines.push('by kind:');
  for (const k of p.by_kind) lines.push(`  ${pad(k.kind, 30)} ${ms(k.ms_per_step)} ms ${num(k.percent)} %`);
  lines.push('');
  lines.push(`firing rates: ${p.firing_rates.map((f) => `${f.layer} ${f.rate.toFixed(3)}`).join(', ')}`);
  return lines.join('\n');
}
