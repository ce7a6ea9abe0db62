// Times training steps (forward over T + backward + Adam + the divergence check) of a network on a backend, with
// synthetic data or a real batch.
import type { Backend } from '../core/backend.js';
import type { NetworkConfig } from '../core/network/index.js';
import { Rng } from '../core/rng.js';
import { syntheticBatch, timeTrainSteps, type BenchSpec, type DeviceCost } from './step-timing.js';

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
  const { seconds } = t;
  return { backend: backend.name, steps: spec.steps, batch: spec.batch, seconds, samples_per_s: (spec.steps * spec.batch) / seconds, ms_per_step: (seconds * 1000) / spec.steps, cpu_seconds: cpuSeconds, samples_per_cpu_s: (spec.steps * spec.batch) / cpuSeconds, ...(t.gpu_per_step ? { gpu_per_step: t.gpu_per_step } : {}) };
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
