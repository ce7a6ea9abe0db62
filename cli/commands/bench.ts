// plif bench: times training steps (forward over T + backward + Adam) of a network with synthetic data on
// one or more backends side by side in one run, and the same network written with TensorFlow.js (CPU
// backend); prints samples/s and the ratios.
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CheckpointStart } from '../../bench/checkpoint-start.js';
import type { PeerSpec } from '../../bench/peers/torch.js';
import { formatProfile, msText as ms, profileTrainStep, type SectionSink } from '../../bench/profile.js';
import { benchConfig, type BenchSpec, type DeviceCost, type LayerRate } from '../../bench/step-timing.js';
import type { DatasetName } from '../../data/index.js';
import { benchTfjs, benchTrainStep, type BenchResult } from '../../bench/train-step.js';
import { PAPER_DEFAULTS } from '../../core/defaults.js';
import { parseStructure } from '../../core/network/parser.js';
import { estimateMemory } from '../../core/network/shapes.js';
import { checkFits, TooLargeError } from '../../training/memory.js';
import { intFlag, numFlag, parseFlags, UsageError, withUsage } from '../args.js';
import { openBackend, resolveThreads } from '../backend.js';

/** Without --steps: each row times at least this many steps, and goes on until DEFAULT_MIN_SECONDS of them. */
export const DEFAULT_STEPS = 10;
export const DEFAULT_MIN_SECONDS = 5;
/** The most steps --min-seconds adds up to. */
export const MAX_STEPS = 1000;
/** Fewer timed steps than this get a note that the figures are rough. */
const FEW_STEPS = 10;

const HELP = `usage: plif bench [--preset NAME] [--structure S] [--channels N] [--T T] [--batch N]
                  [--backend LIST] [--threads N] [--steps N] [--min-seconds S] [--warmup N] [--seed N] [--profile]
                  [--data synthetic|real] [--data-dir DIR] [--checkpoint FILE] [--peer torch] [--no-tfjs]
                  [--tfjs-steps N] [--json]

Times training steps (forward over T, backward, Adam) with synthetic inputs on each backend of
--backend (comma-separated: cpu, cpu:ts, gpujs, gpujs:MODE; default cpu) and, unless --no-tfjs, the same
network written with TensorFlow.js (CPU backend; skipped with a note when @tensorflow/tfjs is not
installed), all in one run; prints samples/s and the ratios to the first backend, and for every row the
spread of its step times (min, median, max): a ratio is only as good as that spread. Defaults: --preset
fmnist-small, the preset's T, --batch 16, --warmup 1, and each row times at least ${DEFAULT_STEPS} steps and
goes on until ${DEFAULT_MIN_SECONDS} s of steps (at most ${MAX_STEPS}); --steps N times exactly N steps (and
--tfjs-steps N the TensorFlow.js row), unless --min-seconds is given too. samples_per_s is wall-clock;
samples_per_cpu_s divides by the process CPU time (robust to a busy machine; for gpu.js on real GPUs
wall-clock is the figure that matters).

  --steps N      time at least N steps per row (default ${DEFAULT_STEPS}, and more until --min-seconds)
  --min-seconds S
                 go on timing a row until its steps took S seconds (default ${DEFAULT_MIN_SECONDS} without --steps,
                 0 with it); at most ${MAX_STEPS} steps
  --threads N    CPU backend threads (default PLIF_THREADS, else the machine's cores); cpu:ts uses the
                 TypeScript kernels instead of WebAssembly SIMD
  --profile      after timing, where a step's time goes on each backend: per layer, forward and backward
                 (a conv's or linear's weight and input gradients apart), loss, Adam, as ms and % of the
                 step, and the firing rate of every spiking layer. Its total is the profiled step (every
                 op timed, which costs time of its own); the unprofiled median is shown beside it
  --data real    time on the first --batch training images of the preset's dataset (real firing rates;
                 --data-dir DIR as in plif train) instead of synthetic inputs
  --checkpoint FILE
                 time steps from a run's checkpoint (plif train's last.safetensors or best.safetensors):
                 its network, weights, BN statistics and Adam state, so the kernels meet trained firing
                 rates; not with --preset, --structure, --channels or --T (the checkpoint fixes them);
                 --data real reads the run's dataset; --peer torch starts from the same state
  --peer torch   the same network and step written in PyTorch (bench/peers/torch_step.py), run with the
                 same shape and thread count; prints its samples/s and the ratio; with --profile, also
                 its top ops from torch.profiler
`;

/** The dataset of a preset, for --data real. */
async function presetDataset(preset: string): Promise<DatasetName> {
  const { datasetOfPreset } = await import('../../training/config.js');
  try {
    return datasetOfPreset(preset);
  } catch (err) {
    throw new UsageError(`--data real: ${(err as Error).message}`);
  }
}

/** The first n training samples of a dataset, prepared as plif train feeds them. */
async function firstBatch(dataset: DatasetName, T: number, n: number, dataDir: string | undefined): Promise<{ x: Float32Array; labels: Int32Array }> {
  const { openSource } = await import('../../training/source.js');
  const src = await openSource(dataset, 'train', dataDir !== undefined ? { dataDir } : {});
  if (src.n < n) throw new UsageError(`--data real: the dataset has ${src.n} training samples, fewer than --batch ${n}`);
  const idx = Array.from({ length: n }, (_, i) => i);
  return { x: await src.batch(idx, T, null), labels: Int32Array.from(idx, (i) => src.labels[i]!) };
}

/** Whether an optional peer package resolves from here (the CLI runs without it: TF.js is a peer, not a dependency). */
export function peerInstalled(name: string): boolean {
  try {
    if (typeof import.meta.resolve === 'function') import.meta.resolve(name);
    else createRequire(import.meta.url).resolve(name);
    return true;
  } catch {
    return false;
  }
}

type Timing = Pick<BenchResult, 'samples_per_s' | 'samples_per_cpu_s' | 'ms_per_step' | 'steps' | 'step_ms'>;
const timing = (r: Timing): Timing => ({ samples_per_s: r.samples_per_s, samples_per_cpu_s: r.samples_per_cpu_s, ms_per_step: r.ms_per_step, steps: r.steps, step_ms: r.step_ms });

/** The spread line under a row: min, median and max of its per-step times. */
export function spreadLine(r: { steps: number; step_ms: { min: number; median: number; max: number } }): string {
  const { min, median, max } = r.step_ms;
  return `${''.padEnd(16)}  per step: min ${ms(min)}, median ${ms(median)}, max ${ms(max)} ms over ${r.steps} step${r.steps === 1 ? '' : 's'}`;
}

export async function run(argv: string[]): Promise<number> {
  return withUsage('bench', HELP, argv, async () => {
    const { values: f } = parseFlags(argv, {
      preset: { type: 'string' },
      structure: { type: 'string' },
      channels: { type: 'string' },
      T: { type: 'string' },
      batch: { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      profile: { type: 'boolean' },
      peer: { type: 'string' },
      data: { type: 'string' },
      'data-dir': { type: 'string' },
      checkpoint: { type: 'string' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      seed: { type: 'string' },
      'tfjs-steps': { type: 'string' },
      'min-seconds': { type: 'string' },
      'no-tfjs': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (f.structure !== undefined) {
      try {
        parseStructure(f.structure);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    }
    if (f.checkpoint !== undefined) {
      const fixed = (['preset', 'structure', 'channels', 'T'] as const).filter((k) => f[k] !== undefined);
      if (fixed.length) throw new UsageError(`--checkpoint ${f.checkpoint} fixes the network: drop ${fixed.map((k) => `--${k}`).join(', ')}`);
    }
    const channels = intFlag('channels', f.channels);
    const T = intFlag('T', f.T);
    const spec: BenchSpec = {
      preset: f.preset ?? 'fmnist-small',
      ...(f.structure !== undefined ? { structure: f.structure } : {}),
      ...(channels !== undefined ? { channels } : {}),
      ...(T !== undefined ? { T } : {}),
      batch: intFlag('batch', f.batch) ?? PAPER_DEFAULTS.batch,
      steps: intFlag('steps', f.steps) ?? DEFAULT_STEPS,
      minSeconds: numFlag('min-seconds', f['min-seconds'], (x) => x >= 0, 'a number of seconds >= 0') ?? (f.steps === undefined ? DEFAULT_MIN_SECONDS : 0),
      maxSteps: MAX_STEPS,
      warmup: intFlag('warmup', f.warmup, 0) ?? 1,
      seed: intFlag('seed', f.seed, 0) ?? 0,
    };
    const tfjsSteps = intFlag('tfjs-steps', f['tfjs-steps']);
    const tfjsTiming = tfjsSteps === undefined ? spec : { steps: tfjsSteps, minSeconds: f['min-seconds'] !== undefined ? spec.minSeconds : 0, maxSteps: MAX_STEPS };
    const threads = resolveThreads(f.threads);
    if (f.data !== undefined && f.data !== 'real' && f.data !== 'synthetic') throw new UsageError(`--data must be synthetic or real, got '${f.data}'`);
    if (f.peer !== undefined && f.peer !== 'torch') throw new UsageError(`--peer must be torch, got '${f.peer}'`);
    const specs = (f.backend ?? 'cpu').split(',').map((s) => s.trim()).filter(Boolean);
    if (specs.length === 0) throw new UsageError('--backend needs at least one backend');
    let cfg;
    let ck: CheckpointStart | null = null;
    if (f.checkpoint !== undefined) {
      const { checkpointStart } = await import('../../bench/checkpoint-start.js');
      ck = await checkpointStart(f.checkpoint);
      cfg = ck.cfg;
      spec.preset = ck.train.preset;
      spec.from = ck.from;
    } else {
      try {
        cfg = benchConfig(spec);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    }
    if (f.peer === 'torch' && cfg.encoder !== 'direct') throw new UsageError(`--peer torch: the PyTorch step has the direct encoder only, this network has '${cfg.encoder}'`);
    // the size check of plif train (training/loop.ts checkTrainingFits), from the shapes, before anything is allocated
    const need = estimateMemory(cfg, spec.batch, 'train');
    try {
      checkFits(`benchmarking ${spec.preset}${channels !== undefined ? ` with ${channels} channels` : ''} at T = ${cfg.T}, batch ${spec.batch}`, need.bytes, need.largest, 'use a smaller --T, --batch or --channels');
    } catch (err) {
      if (err instanceof TooLargeError) throw new UsageError(err.message);
      throw err;
    }
    if (f.data === 'real') {
      const dataset = ck ? ck.train.dataset : await presetDataset(spec.preset);
      spec.data = await firstBatch(dataset, cfg.T, spec.batch, f['data-dir'] ?? ck?.train.dataDir ?? undefined);
    }
    const say = (s: string) => {
      if (!f.json) process.stdout.write(s + '\n');
    };
    say(`${spec.data ? 'real data' : 'synthetic data'}  ${cfg.structure}  input ${cfg.input.join('x')}  T ${cfg.T}  batch ${spec.batch}  threads ${threads}`);
    say(ck ? `from checkpoint ${ck.path} (after ${ck.host.step} Adam updates)` : 'from initialisation (seed ' + spec.seed + ')');
    const results: (Timing & { backend: string; info: Record<string, unknown>; peak_rss_mb: number; memory_mb?: number; profile?: unknown; gpu_per_step?: DeviceCost; firing_rates?: LayerRate[] })[] = [];
    for (const s of specs) {
      const sink: { current: SectionSink | null } = { current: null };
      const name = s === 'cpu:ts' ? 'cpu' : s;
      const opened = await openBackend(name, { threads, ...(s === 'cpu:ts' ? { simd: false } : {}), onSection: (part, ms) => sink.current?.section(part, ms) }).catch((err: Error) => {
        throw new UsageError(`--backend ${s}: ${err.message}`);
      });
      try {
        // firing rates from one more step, on the CPU backends (a synchronous readback per neuron layer)
        const r = await benchTrainStep(opened.backend, cfg, { ...spec, rates: name === 'cpu' });
        const mem = (opened.backend as { memoryBytes?: () => number }).memoryBytes?.();
        const entry: (typeof results)[number] = {
          backend: s,
          info: opened.info,
          ...timing(r),
          peak_rss_mb: process.resourceUsage().maxRSS / 1024,
          ...(mem !== undefined ? { memory_mb: mem / 2 ** 20 } : {}),
          ...(r.firing_rates ? { firing_rates: r.firing_rates } : {}),
        };
        results.push(entry);
        const soft = opened.info['software'] ? ` [${String(opened.info['renderer'])}: software, not a GPU timing]` : opened.info['renderer'] ? ` [${String(opened.info['renderer'])}]` : '';
        const kern = opened.info['kernels'] ? ` [${String(opened.info['kernels'])}, ${String(opened.info['threads'])} threads]` : '';
        say(`${s.padEnd(16)}: ${r.samples_per_s.toFixed(2)} samples/s (${ms(r.ms_per_step)} ms/step mean, ${r.samples_per_cpu_s.toFixed(2)} samples per CPU-second)${kern}${soft}`);
        say(spreadLine(r));
        if (r.firing_rates) say(`${''.padEnd(16)}  firing rates: ${r.firing_rates.map((q) => `${q.layer} ${q.rate.toFixed(3)}`).join(', ')}`);
        if (r.gpu_per_step) {
          const g = r.gpu_per_step;
          entry.gpu_per_step = g;
          say(`${''.padEnd(16)}  device per step: ${g.dispatches} dispatches, ${g.upload_bytes} bytes up, ${g.download_bytes} bytes down, ${g.host_syncs} host syncs`);
        }
        say(`${''.padEnd(16)}  memory: backend ${mem !== undefined ? (mem / 2 ** 20).toFixed(0) + ' MiB' : 'n/a'}, process peak RSS ${entry.peak_rss_mb.toFixed(0)} MiB`);
        if (f.profile && s === 'gpujs:webgpu') {
          say(`\nprofile of ${s}: per-op times cannot be measured (WebGPU kernels run asynchronously, after the op returns); the device work per step is above\n`);
        } else if (f.profile) {
          const p = await profileTrainStep(opened.backend, cfg, { ...spec, warmup: 1 }, sink);
          const unprofiled = { ms_per_step: r.step_ms.median, steps: r.steps };
          entry.profile = { ...p, unprofiled };
          say(`\nprofile of ${s} (${p.steps} steps after 1 warm-up, every op timed):\n${formatProfile(p, unprofiled)}\n`);
        }
      } finally {
        opened.close();
      }
    }
    const first = results[0]!;
    /** Steps timed by each row (backends, peers). */
    const timed = results.map((r) => ({ row: r.backend, steps: r.steps }));
    const out: Record<string, unknown> = {
      preset: spec.preset,
      structure: cfg.structure,
      input: cfg.input,
      T: cfg.T,
      batch: spec.batch,
      backend: first.backend,
      backend_info: first.info,
      ...timing(first),
      ...(first.gpu_per_step ? { gpu_per_step: first.gpu_per_step } : {}),
      ...(first.firing_rates ? { firing_rates: first.firing_rates } : {}),
      ...(ck ? { checkpoint: ck.path, adam_step: ck.host.step } : {}),
      backends: results,
    };
    if (f.peer === 'torch') {
      const { benchTorchPeer, formatPeerProfile } = await import('../../bench/peers/torch.js');
      let dir: string | null = null;
      let t;
      try {
        let state: PeerSpec['state'];
        if (ck) {
          const { writeHostState } = await import('../../bench/checkpoint-start.js');
          dir = mkdtempSync(join(tmpdir(), 'plif-bench-'));
          const file = join(dir, 'state.f32');
          writeHostState(file, ck.host);
          state = { file, adamStep: ck.host.step, lr: ck.lr };
        }
        t = await benchTorchPeer(cfg, { ...spec, ...(f.profile ? { profile: spec.steps } : {}), ...(state ? { state } : {}) }, threads);
      } finally {
        if (dir) rmSync(dir, { recursive: true, force: true });
      }
      if (t.ok) {
        out.torch = t;
        timed.push({ row: 'torch', steps: t.steps });
        out.ratio_vs_torch = first.samples_per_s / t.samples_per_s;
        out.ratio_vs_torch_cpu_time = first.samples_per_cpu_s / t.samples_per_cpu_s;
        say(`${`torch ${t.torch_version}`.padEnd(16)}: ${t.samples_per_s.toFixed(2)} samples/s (${ms(t.ms_per_step)} ms/step mean, ${t.samples_per_cpu_s.toFixed(2)} samples per CPU-second) [${t.threads} threads${t.blas ? `, BLAS ${t.blas}` : ''}${t.malloc && Object.keys(t.malloc).length ? `, ${Object.entries(t.malloc).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}]`);
        if (t.step_ms) {
          say(spreadLine({ steps: t.steps, step_ms: t.step_ms }));
          out.ratio_vs_torch_median = t.step_ms.median / first.step_ms.median;
        } else {
          say(`${''.padEnd(16)}  per step: not reported by this PyTorch script`);
        }
        if (t.firing_rates.length) say(`${''.padEnd(16)}  firing rates (mean over the timed steps): ${t.firing_rates.map((q) => q.toFixed(3)).join(', ')}`);
        const medians = t.step_ms ? `, ${(out.ratio_vs_torch_median as number).toFixed(3)}x of the median steps` : '';
        say(`ratio ${first.backend} / torch: ${(out.ratio_vs_torch as number).toFixed(3)}x wall-clock${medians}, ${(out.ratio_vs_torch_cpu_time as number).toFixed(3)}x CPU time`);
        if (t.profile) say(`\nprofile of torch (torch.profiler, top ${t.profile.ops.length} ops by self CPU time):\n${formatPeerProfile(t.profile)}\n`);
      } else {
        out.torch = { error: t.reason };
        say(`torch peer: not run: ${t.reason}`);
      }
    }
    if (!f['no-tfjs'] && ck) {
      out.tfjs = { skipped: 'not with --checkpoint' };
      say(`${'tfjs (cpu)'.padEnd(16)}: skipped: the TensorFlow.js step cannot start from a checkpoint (--no-tfjs hides this line)`);
    } else if (!f['no-tfjs'] && !peerInstalled('@tensorflow/tfjs')) {
      out.tfjs = { skipped: 'not installed' };
      say(`${'tfjs (cpu)'.padEnd(16)}: skipped: @tensorflow/tfjs is not installed (npm install @tensorflow/tfjs to compare; --no-tfjs hides this line)`);
    } else if (!f['no-tfjs']) {
      const tf = await benchTfjs(cfg, spec, tfjsTiming);
      out.tfjs = timing(tf);
      timed.push({ row: 'tfjs (cpu)', steps: tf.steps });
      out.speedup_vs_tfjs = first.samples_per_s / tf.samples_per_s;
      out.speedup_vs_tfjs_cpu_time = first.samples_per_cpu_s / tf.samples_per_cpu_s;
      say(`${'tfjs (cpu)'.padEnd(16)}: ${tf.samples_per_s.toFixed(2)} samples/s (${ms(tf.ms_per_step)} ms/step mean, ${tf.samples_per_cpu_s.toFixed(2)} samples per CPU-second)`);
      say(spreadLine(tf));
      say(`ratio ${first.backend} / tfjs: ${(out.speedup_vs_tfjs as number).toFixed(1)}x wall-clock, ${(out.speedup_vs_tfjs_cpu_time as number).toFixed(1)}x CPU time`);
    }
    for (const r of results.slice(1)) say(`ratio ${r.backend} / ${first.backend}: ${(r.samples_per_s / first.samples_per_s).toFixed(3)}x wall-clock, ${(first.step_ms.median / r.step_ms.median).toFixed(3)}x of the median steps`);
    const few = timed.filter((t) => t.steps < FEW_STEPS);
    if (few.length) {
      const rows = few.map((t) => `${t.row} ${t.steps} step${t.steps === 1 ? '' : 's'}`).join(', ');
      const note = `few steps timed (${rows}): those figures and the ratios are rough (see each row's spread); without --steps, plif bench times at least ${DEFAULT_STEPS} steps and ${DEFAULT_MIN_SECONDS} s per row`;
      out.note = note;
      if (!f.json) process.stderr.write(`note: ${note}\n`);
    }
    if (f.json) process.stdout.write(`${JSON.stringify(out)}\n`);
    return 0;
  });
}
