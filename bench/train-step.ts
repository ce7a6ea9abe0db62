// Times training steps (forward over T + backward + Adam + the divergence check) of a network on a backend, with
// synthetic data or a real batch.
import type { Backend } from '../core/backend.js';
import type { NetworkConfig } from '../core/network/index.js';
import { Rng } from '../core/rng.js';
import { stepSpread, syntheticBatch, timeSteps, timeTrainSteps, type BenchSpec, type DeviceCost, type LayerRate, type StepSpread } from './step-timing.js';

export interface BenchResult {
  backend: string;
  /** Steps timed. */
  steps: number;
  batch: number;
  seconds: number;
  samples_per_s: number;
  /** Mean wall time of a step (seconds * 1000 / steps). */
  ms_per_step: number;
  /** Min, median and max wall time of one step, ms. */
  step_ms: StepSpread;
  /** Process CPU time (user + system) of the timed steps: robust to other processes on the machine. */
  cpu_seconds: number;
  samples_per_cpu_s: number;
  /** For a backend that counts its device work (gpu.js): per timed step, what plif train's step costs on the device. */
  gpu_per_step?: DeviceCost;
  /** With spec.rates: each spiking layer's firing rate, in one step after the timed ones. */
  firing_rates?: LayerRate[];
}

function result(backend: string, batch: number, stepMs: number[], seconds: number, cpuSeconds: number): BenchResult {
  const steps = stepMs.length;
  return { backend, steps, batch, seconds, samples_per_s: (steps * batch) / seconds, ms_per_step: (seconds * 1000) / steps, step_ms: stepSpread(stepMs), cpu_seconds: cpuSeconds, samples_per_cpu_s: (steps * batch) / cpuSeconds };
}

export async function benchTrainStep(backend: Backend, cfg: NetworkConfig, spec: BenchSpec): Promise<BenchResult> {
  let c0: NodeJS.CpuUsage | null = null;
  let cpuSeconds = 0;
  const t = await timeTrainSteps(backend, cfg, spec, {
    start: () => (c0 = process.cpuUsage()),
    end: () => {
      const cu = process.cpuUsage(c0!);
      cpuSeconds = (cu.user + cu.system) / 1e6;
    },
  });
  return { ...result(backend.name, spec.batch, t.step_ms, t.seconds, cpuSeconds), ...(t.gpu_per_step ? { gpu_per_step: t.gpu_per_step } : {}), ...(t.firing_rates ? { firing_rates: t.firing_rates } : {}) };
}

/** The same timing for the TensorFlow.js version of the network: `timing.steps` steps (or more, under its minSeconds). */
export async function benchTfjs(cfg: NetworkConfig, spec: BenchSpec, timing: Pick<BenchSpec, 'steps' | 'minSeconds' | 'maxSteps'>): Promise<BenchResult> {
  const { buildTfjsNet } = await import('./tfjs-step.js');
  const net = await buildTfjsNet(cfg, spec.seed);
  const batch = syntheticBatch(cfg, spec.batch, Rng.seeded(spec.seed).split());
  try {
    for (let i = 0; i < spec.warmup; i++) net.step(batch.x, batch.labels);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const stepMs = await timeSteps(timing, () => net.step(batch.x, batch.labels));
    const seconds = (performance.now() - t0) / 1000;
    const cu = process.cpuUsage(c0);
    return result('tfjs-cpu', spec.batch, stepMs, seconds, (cu.user + cu.system) / 1e6);
  } finally {
    net.dispose();
  }
}
