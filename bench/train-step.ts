// Times training steps (forward over T + backward + Adam) of a network on a backend with synthetic data.
import type { Backend } from '../core/backend.js';
import { Network, networkConfig, presetByName, withChannels, type NetworkConfig } from '../core/network/index.js';
import { createAdam, disposeAdam } from '../core/network/train.js';
import { checkedTrainStep } from '../training/recipe.js';
import { Rng } from '../core/rng.js';

export interface BenchSpec {
  preset: string;
  structure?: string;
  channels?: number;
  T?: number;
  batch: number;
  steps: number;
  warmup: number;
  seed: number;
  /** A real batch to time on (e.g. the first training images); default: a synthetic one. */
  data?: { x: Float32Array; labels: Int32Array };
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

export interface BenchResult {
  backend: string;
  steps: number;
  batch: number;
  seconds: number;
  samples_per_s: number;
  ms_per_step: number;
  /** Process CPU time (user + system) of the timed steps: robust to other processes on the machine. */
  cpu_seconds: number;
  samples_per_cpu_s: number;
  /** For a backend that counts its device work (gpu.js): per timed step, what plif train's step costs on the device. */
  gpu_per_step?: DeviceCost;
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

export async function benchTrainStep(backend: Backend, cfg: NetworkConfig, spec: BenchSpec): Promise<BenchResult> {
  const rng = Rng.seeded(spec.seed);
  const net = new Network(backend, cfg, rng.split());
  const opt = createAdam(net);
  const synthetic = syntheticBatch(cfg, spec.batch, rng.split());
  const batch = spec.data ?? synthetic;
  const stepRng = rng.split();
  // the step plif train runs: divergence check included, one host sync
  const step = async () => {
    const r = await checkedTrainStep(net, opt, batch, stepRng, opt.config.lr);
    if (!r.ok) throw new Error(`the benchmark's training step diverged: ${r.what} = ${r.value}`);
  };
  for (let i = 0; i < spec.warmup; i++) await step();
  const dev = counting(backend);
  dev?.resetCost();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < spec.steps; i++) await step();
  const cost = dev?.cost();
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  const cpuSeconds = (cu.user + cu.system) / 1e6;
  disposeAdam(backend, opt);
  net.dispose();
  return { backend: backend.name, steps: spec.steps, batch: spec.batch, seconds, samples_per_s: (spec.steps * spec.batch) / seconds, ms_per_step: (seconds * 1000) / spec.steps, cpu_seconds: cpuSeconds, samples_per_cpu_s: (spec.steps * spec.batch) / cpuSeconds, ...(cost ? { gpu_per_step: perStep(cost, spec.steps) } : {}) };
}

function perStep(c: DeviceCost, steps: number): DeviceCost {
  return { dispatches: c.dispatches / steps, upload_bytes: c.upload_bytes / steps, download_bytes: c.download_bytes / steps, host_syncs: c.host_syncs / steps };
}

/** The same timing for the TensorFlow.js version of the network. */
export async function benchTfjs(cfg: NetworkConfig, spec: BenchSpec, steps: number): Promise<BenchResult> {
  const { buildTfjsNet } = await import('./tfjs-step.js');
  const net = await buildTfjsNet(cfg, spec.seed);
  const batch = syntheticBatch(cfg, spec.batch, Rng.seeded(spec.seed).split());
  for (let i = 0; i < spec.warmup; i++) net.step(batch.x, batch.labels);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) net.step(batch.x, batch.labels);
  const seconds = (performance.now() - t0) / 1000;
  const cu = process.cpuUsage(c0);
  const cpuSeconds = (cu.user + cu.system) / 1e6;
  net.dispose();
  return { backend: 'tfjs-cpu', steps, batch: spec.batch, seconds, samples_per_s: (steps * spec.batch) / seconds, ms_per_step: (seconds * 1000) / steps, cpu_seconds: cpuSeconds, samples_per_cpu_s: (steps * spec.batch) / cpuSeconds };
}
