// The benchmark page: bench/train-step.ts's timeTrainSteps (the step plif train runs) on a backend of this
// browser, synthetic data. #result holds one JSON object (samples_per_s, ms_per_step, warmup_seconds,
// gpu_per_step for gpu.js); #status reads running, then done or starts with "error". bench/gpu-check.sh drives it.
import { benchConfig, timeTrainSteps, type BenchSpec } from '../bench/step-timing.js';
import { openPageBackend } from './backends.js';

const $ = (id: string) => document.getElementById(id)!;

async function main(): Promise<void> {
  const q = new URLSearchParams(location.search);
  const int = (name: string, fallback: number) => {
    const v = q.get(name);
    if (v === null) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be an integer >= 0, got '${v}'`);
    return n;
  };
  const spec: BenchSpec = { preset: q.get('preset') ?? 'fmnist-small', batch: int('batch', 16), steps: Math.max(1, int('steps', 5)), warmup: int('warmup', 1), seed: int('seed', 0) };
  if (q.get('channels') !== null) spec.channels = int('channels', 0);
  if (q.get('T') !== null) spec.T = int('T', 0);
  const cfg = benchConfig(spec);
  $('status').textContent = 'running';
  const opened = await openPageBackend(q.get('backend') ?? 'gpujs:webgpu');
  $('backend').textContent = JSON.stringify(opened.info);
  try {
    const t = await timeTrainSteps(opened.backend, cfg, spec);
    const result = { preset: spec.preset, structure: cfg.structure, T: cfg.T, batch: spec.batch, steps: spec.steps, backend: opened.info, samples_per_s: (spec.steps * spec.batch) / t.seconds, ms_per_step: (1000 * t.seconds) / spec.steps, warmup_seconds: t.warmup_seconds, ...(t.gpu_per_step ? { gpu_per_step: t.gpu_per_step } : {}) };
    $('result').textContent = JSON.stringify(result);
  } finally {
    opened.close();
  }
  $('status').textContent = 'done';
}

main().catch((e: Error) => {
  $('status').textContent = `error: ${e.message}`;
});
