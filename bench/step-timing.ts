// Timing the training step plif train runs (forward, loss, backward, Adam, the divergence check, one readback)
// on any backend, in Node (plif bench) and in the browser (the bench page): the spec, its network, a synthetic
// batch, and the device work a gpu.js backend counts. No Node APIs here.
import type { Backend } from '../core/backend.js';
import { Network, networkConfig, presetByName, withChannels, type NetworkConfig } from '../core/network/index.js';
import { NeuronLayer } from '../core/network/layers.js';
import { createAdam, disposeAdam, type AdamState, type Batch } from '../core/network/train.js';
import { Rng } from '../core/rng.js';
import { checkedTrainStep } from '../training/recipe.js';

export interface BenchSpec {
  preset: string;
  structure?: string;
  channels?: number;
  T?: number;
  batch: number;
  /** Steps to time (at least). */
  steps: number;
  /** Keep timing past `steps` until the timed steps have taken this many seconds (default 0: exactly `steps`). */
  minSeconds?: number;
  /** The most steps `minSeconds` may add up to (default 1000). */
  maxSteps?: number;
  warmup: number;
  seed: number;
  /** A real batch to time on (e.g. the first training images); default: a synthetic one. */
  data?: { x: Float32Array; labels: Int32Array };
  /**
   * The network and Adam state to time from, built on the backend it is given (e.g. a trained checkpoint's;
   * the timed steps go on training it); default: a fresh network of the config, seeded with `seed`.
   */
  from?: StepStart;
  /** After timing, one more (untimed) step measures each spiking layer's firing rate (backends with download()). */
  rates?: boolean;
}

/** Builds the network and Adam state a benchmark starts from, on `backend`. */
export type StepStart = (backend: Backend) => Promise<{ net: Network; opt: AdamState }>;

/** The start of a benchmark: spec.from's network and Adam state, else a fresh network (seeded) and Adam. */
export async function startOf(backend: Backend, cfg: NetworkConfig, spec: BenchSpec, rng: Rng): Promise<{ net: Network; opt: AdamState }> {
  const netRng = rng.split(); // split either way: the batch's and the steps' streams stay the same
  if (spec.from) return spec.from(backend);
  const net = new Network(backend, cfg, netRng);
  return { net, opt: createAdam(net) };
}

/** Firing rate of one spiking layer ("2 PLIF": index and token) over a step's T steps and batch. */
export interface LayerRate {
  layer: string;
  rate: number;
}

/**
 * Runs `step` once with every neuron layer's spikes read back as they are made: the mean firing rate of each
 * spiking layer over that step (its T steps and batch). Needs a backend that reads back synchronously.
 */
export async function measureFiringRates(net: Network, step: () => Promise<void>): Promise<LayerRate[]> {
  const b = net.backend;
  const layers = net.layers.filter((l): l is NeuronLayer => l instanceof NeuronLayer);
  const sums = layers.map(() => ({ sum: 0, n: 0 }));
  const originals = layers.map((l) => l.forward);
  layers.forEach((l, i) => {
    const fwd = l.forward.bind(l);
    l.forward = (bk, x, ctx) => {
      const s = fwd(bk, x, ctx);
      const v = b.download(s);
      let sum = 0;
      for (let j = 0; j < v.length; j++) sum += v[j]!;
      sums[i]!.sum += sum;
      sums[i]!.n += v.length;
      return s;
    };
  });
  try {
    await step();
  } finally {
    layers.forEach((l, i) => (l.forward = originals[i]!));
  }
  return layers.map((l, i) => ({ layer: `${l.index} ${l.token}`, rate: sums[i]!.n > 0 ? sums[i]!.sum / sums[i]!.n : 0 }));
}

export function benchConfig(spec: BenchSpec): NetworkConfig {
  const p = presetByName(spec.preset);
  let structure = spec.structure ?? p.structure;
  if (spec.channels !== undefined) structure = withChannels(structure, spec.channels);
  return networkConfig(structure, p.input, p.classes, { T: spec.T ?? p.T, static: p.static });
}

/**
 * Synthetic batch shaped like normalised Fashion-MNIST: half the pixels background (-0.81 = (0 - 0.286)
 * / 0.353), the rest uniform over the normalised range; event inputs are 10% ones. Random labels.
 */
export function syntheticBatch(cfg: NetworkConfig, n: number, rng: Rng): { x: Float32Array; labels: Int32Array } {
  const per = cfg.input[0] * cfg.input[1] * cfg.input[2] * (cfg.static ? 1 : cfg.T);
  const x = new Float32Array(per * n);
  const bg = -0.286 / 0.353;
  for (let i = 0; i < x.length; i++) x[i] = cfg.static ? (rng.uniform() < 0.5 ? bg : rng.range(bg, (1 - 0.286) / 0.353)) : rng.uniform() < 0.1 ? 1 : 0;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = rng.int(cfg.classes);
  return { x, labels };
}

/** Device work of a training step (gpu.js backends: GpujsBackend#cost); machine-independent counts. */
export interface DeviceCost {
  dispatches: number;
  upload_bytes: number;
  download_bytes: number;
  host_syncs: number;
}

interface CountingBackend {
  cost(): DeviceCost;
  resetCost(): void;
}
const counting = (b: Backend): CountingBackend | null => (typeof (b as Partial<CountingBackend>).cost === 'function' ? (b as unknown as CountingBackend) : null);

/** Min, median and max of per-step times, in ms. */
export interface StepSpread {
  min: number;
  median: number;
  max: number;
}

/** The spread of per-step times (ms); the median of an even count is the mean of the middle two. */
export function stepSpread(ms: readonly number[]): StepSpread {
  if (ms.length === 0) throw new RangeError('no step times');
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { min: s[0]!, median: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, max: s.at(-1)! };
}

/**
 * Runs `step` at least spec.steps times and, with spec.minSeconds, on until that much time has passed (at
 * most spec.maxSteps steps); returns each step's wall time in ms.
 */
export async function timeSteps(spec: Pick<BenchSpec, 'steps' | 'minSeconds' | 'maxSteps'>, step: () => unknown): Promise<number[]> {
  const minMs = 1000 * (spec.minSeconds ?? 0);
  const maxSteps = Math.max(spec.steps, spec.maxSteps ?? 1000);
  const ms: number[] = [];
  let total = 0;
  while (ms.length < spec.steps || (total < minMs && ms.length < maxSteps)) {
    const t0 = performance.now();
    await step();
    const dt = performance.now() - t0;
    ms.push(dt);
    total += dt;
  }
  return ms;
}

/** The step plif train runs (checkedTrainStep, divergence check included), as a benchmark repeats it: a diverged step is an error. */
export function benchStep(net: Network, opt: AdamState, batch: Batch, rng: Rng, whose: string): () => Promise<void> {
  return async () => {
    const r = await checkedTrainStep(net, opt, batch, rng, opt.config.lr);
    if (!r.ok) throw new Error(`${whose} training step diverged: ${r.what} = ${r.value}`);
  };
}

/**
 * What timeTrainSteps measured: the timed steps' wall time and count, each step's time (ms) and their
 * spread, the warm-up's time (kernel compilation on a GPU), the device work per step.
 */
export interface StepTiming {
  seconds: number;
  /** Steps timed: spec.steps, or more under spec.minSeconds. */
  steps: number;
  step_ms: number[];
  spread: StepSpread;
  warmup_seconds: number;
  gpu_per_step?: DeviceCost;
  /** With spec.rates: each spiking layer's firing rate in one step after the timed ones. */
  firing_rates?: LayerRate[];
}

/**
 * Times spec.steps training steps (or more, under spec.minSeconds) after spec.warmup ones, each on its own: the step plif train runs (checkedTrainStep: forward,
 * loss, backward, Adam, the divergence check, one readback). `timed` brackets the timed steps (CPU time in Node).
 * Runs in Node and in the browser (the bench page).
 */
export async function timeTrainSteps(backend: Backend, cfg: NetworkConfig, spec: BenchSpec, timed: { start?(): void; end?(): void } = {}): Promise<StepTiming> {
  const rng = Rng.seeded(spec.seed);
  const { net, opt } = await startOf(backend, cfg, spec, rng);
  const synthetic = syntheticBatch(cfg, spec.batch, rng.split());
  const batch = spec.data ?? synthetic;
  const stepRng = rng.split();
  const step = benchStep(net, opt, batch, stepRng, "the benchmark's");
  try {
    const w0 = performance.now();
    for (let i = 0; i < spec.warmup; i++) await step();
    const warmup = (performance.now() - w0) / 1000;
    const dev = counting(backend);
    dev?.resetCost();
    timed.start?.();
    const t0 = performance.now();
    const stepMs = await timeSteps(spec, step);
    const seconds = (performance.now() - t0) / 1000;
    timed.end?.();
    const cost = dev?.cost();
    const rates = spec.rates ? await measureFiringRates(net, step) : null;
    return {
      seconds,
      steps: stepMs.length,
      step_ms: stepMs,
      spread: stepSpread(stepMs),
      warmup_seconds: warmup,
      ...(cost ? { gpu_per_step: perStep(cost, stepMs.length) } : {}),
      ...(rates ? { firing_rates: rates } : {}),
    };
  } finally {
    disposeAdam(backend, opt);
    net.dispose();
  }
}

function perStep(c: DeviceCost, steps: number): DeviceCost {
  return { dispatches: c.dispatches / steps, upload_bytes: c.upload_bytes / steps, download_bytes: c.download_bytes / steps, host_syncs: c.host_syncs / steps };
}

