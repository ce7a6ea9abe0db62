// Timing the training step plif train runs (forward, loss, backward, Adam, the divergence check, one readback)
// on any backend, in Node (plif bench) and in the browser (the bench page): the spec, its network, a synthetic
// batch, and the device work a gpu.js backend counts. No Node APIs here.
import type { Backend } from '../core/backend.js';
import { Network, networkConfig, presetByName, withChannels, type NetworkConfig } from '../core/network/index.js';
import { createAdam, disposeAdam } from '../core/network/train.js';
import { Rng } from '../core/rng.js';
import { checkedTrainStep } from '../training/recipe.js';

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

/** What timeTrainSteps measured: the timed steps' wall time, the warm-up's (kernel compilation on a GPU), the device work per step. */
export interface StepTiming {
  seconds: number;
  warmup_seconds: number;
  gpu_per_step?: DeviceCost;
}

/**
 * Times spec.steps training steps after spec.warmup ones: the step plif train runs (checkedTrainStep: forward,
 * loss, backward, Adam, the divergence check, one readback). `timed` brackets the timed steps (CPU time in Node).
 * Runs in Node and in the browser (the bench page).
 */
export async function timeTrainSteps(backend: Backend, cfg: NetworkConfig, spec: BenchSpec, timed: { start?(): void; end?(): void } = {}): Promise<StepTiming> {
  const rng = Rng.seeded(spec.seed);
  const net = new Network(backend, cfg, rng.split());
  const opt = createAdam(net);
  const synthetic = syntheticBatch(cfg, spec.batch, rng.split());
  const batch = spec.data ?? synthetic;
  const stepRng = rng.split();
  const step = async () => {
    const r = await checkedTrainStep(net, opt, batch, stepRng, opt.config.lr);
    if (!r.ok) throw new Error(`the benchmark's training step diverged: ${r.what} = ${r.value}`);
  };
  try {
    const w0 = performance.now();
    for (let i = 0; i < spec.warmup; i++) await step();
    const warmup = (performance.now() - w0) / 1000;
    const dev = counting(backend);
    dev?.resetCost();
    timed.start?.();
    const t0 = performance.now();
    for (let i = 0; i < spec.steps; i++) await step();
    const seconds = (performance.now() - t0) / 1000;
    timed.end?.();
    const cost = dev?.cost();
    return { seconds, warmup_seconds: warmup, ...(cost ? { gpu_per_step: perStep(cost, spec.steps) } : {}) };
  } finally {
    disposeAdam(backend, opt);
    net.dispose();
  }
}

function perStep(c: DeviceCost, steps: number): DeviceCost {
  return { dispatches: c.dispatches / steps, upload_bytes: c.upload_bytes / steps, download_bytes: c.download_bytes / steps, host_syncs: c.host_syncs / steps };
}

