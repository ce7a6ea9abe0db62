// The PyTorch peer of `plif bench`: runs bench/peers/torch_step.py (the same training step written with
// PyTorch) on the same network, batch and thread count, and reads back its timing.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseStructure, type LayerSpec } from '../../core/network/parser.js';
import type { NetworkConfig } from '../../core/network/network.js';

export interface PeerTiming {
  /** Steps timed (spec.steps, or more under spec.minSeconds). */
  steps: number;
  /** Min, median and max wall time of one step, ms (absent from a script that does not report them). */
  step_ms?: { min: number; median: number; max: number };
  samples_per_s: number;
  ms_per_step: number;
  seconds: number;
  cpu_seconds: number;
  samples_per_cpu_s: number;
  torch_version: string;
  threads: number;
  /** The BLAS library the PyTorch process loaded (openblas, mkl, reference, ...). */
  blas?: string;
  /** The glibc malloc settings of its environment (PEER_MALLOC unless the caller's environment sets them). */
  malloc?: Record<string, string>;
  /** Mean firing rate of each neuron layer over the timed steps. */
  firing_rates: number[];
  /** With PeerSpec.profile: torch.profiler's ops with the most self CPU time, per step. */
  profile?: PeerProfile;
}

/** torch.profiler over a few steps after the timed ones: the top ops by self CPU time. */
export interface PeerProfile {
  steps: number;
  /** Wall time of a profiled step (the profiler costs time of its own). */
  ms_per_step: number;
  /** Self CPU time of all ops, per step (with several threads, more than the wall time). */
  self_ms_per_step: number;
  ops: { op: string; calls_per_step: number; self_ms_per_step: number; total_ms_per_step: number; percent: number }[];
}

/** The peer's profile as an aligned table. */
export function formatPeerProfile(p: PeerProfile): string {
  const num = (x: number, d = 1) => x.toFixed(d).padStart(9);
  const lines = [`${'op'.padEnd(44)} ${'calls'.padStart(7)} ${'self ms'.padStart(9)} ${'total ms'.padStart(9)} ${'self %'.padStart(9)}`];
  for (const o of p.ops) lines.push(`${o.op.slice(0, 44).padEnd(44)} ${o.calls_per_step.toFixed(0).padStart(7)} ${num(o.self_ms_per_step)} ${num(o.total_ms_per_step)} ${num(o.percent)}`);
  lines.push(`${'all ops, self CPU time'.padEnd(44)} ${''.padStart(7)} ${num(p.self_ms_per_step)} ${''.padStart(9)} ${num(100)}`);
  lines.push(`(per step, mean of ${p.steps} profiled steps taking ${p.ms_per_step.toFixed(1)} ms each; self time of ops on all threads)`);
  return lines.join('\n');
}

export type PeerResult = ({ ok: true } & PeerTiming) | { ok: false; reason: string };

export interface PeerSpec {
  batch: number;
  steps: number;
  /** Keep timing past `steps` until this many seconds have passed (at most maxSteps steps). */
  minSeconds?: number;
  maxSteps?: number;
  warmup: number;
  seed: number;
  /** A real batch (the same the library times on); default: the script's synthetic one. */
  data?: { x: Float32Array; labels: Int32Array };
  /** After timing, profile this many steps with torch.profiler (PeerTiming.profile). */
  profile?: number;
  /**
   * Start from this state instead of a fresh network: a file of float32 values (bench/checkpoint-start.ts
   * writeHostState) and the Adam updates done; `lr` Adam's learning rate.
   */
  state?: { file: string; adamStep: number; lr: number };
}

const INSTALL_HINT = 'on Debian/Ubuntu `sudo apt-get install python3-torch`, or set PLIF_PYTHON to a Python with torch';

/** The interpreter: `python`, else env PLIF_PYTHON, else /usr/bin/python3 if present, else `python3`. */
export function resolvePython(python?: string): string {
  if (python) return python;
  const env = process.env.PLIF_PYTHON;
  if (env) return env;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/** bench/peers/torch_step.py under the package root (found from this module, sources or dist/). */
export function torchPeerScript(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'bench', 'peers', 'torch_step.py');
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The layers the library builds: the config's neuron kind and pool overrides applied (not to voting). */
export function effectiveLayers(cfg: NetworkConfig): LayerSpec[] {
  let flat = false;
  return parseStructure(cfg.structure).map((s): LayerSpec => {
    if (s.kind === 'fc') flat = true;
    if (s.kind === 'neuron' && cfg.neuronKind) return { kind: 'neuron', neuron: cfg.neuronKind };
    if ((s.kind === 'maxpool' || s.kind === 'avgpool') && !flat && cfg.pool) return { ...s, kind: cfg.pool === 'max' ? 'maxpool' : 'avgpool' };
    return s;
  });
}

/** The script's input for timing `spec` with `threads` threads. */
export function torchPeerInput(cfg: NetworkConfig, spec: PeerSpec, threads: number, lr = 1e-3): Record<string, unknown> {
  return {
    layers: effectiveLayers(cfg),
    input: cfg.input,
    classes: cfg.classes,
    T: cfg.T,
    static: cfg.static,
    batch: spec.batch,
    steps: spec.steps,
    ...(spec.minSeconds ? { min_seconds: spec.minSeconds } : {}),
    ...(spec.maxSteps ? { max_steps: spec.maxSteps } : {}),
    warmup: spec.warmup,
    threads,
    seed: spec.seed,
    neuron: {
      tau0: cfg.tau0,
      vThreshold: cfg.vThreshold,
      vReset: cfg.vReset,
      decayInput: cfg.decayInput,
      detachReset: cfg.detachReset,
      surrogate: cfg.surrogate.name,
      surrogate_alpha: cfg.surrogate.alpha,
    },
    bn_momentum: cfg.bnMomentum,
    bn_eps: cfg.bnEps,
    loss: cfg.loss,
    lr,
    ...(spec.profile ? { profile: true, profile_steps: spec.profile } : {}),
    ...(spec.state ? { state: { file: spec.state.file, adam_step: spec.state.adamStep } } : {}),
    ...(spec.data ? { data: { x: Array.from(spec.data.x), labels: Array.from(spec.data.labels) } } : {}),
  };
}

/**
 * glibc malloc settings of the peer's process (where the environment does not set them): every block from
 * the heap (no mmap), none given back (no trim), the heap grown 1 GiB at a time. PyTorch on a CPU frees and
 * allocates its large activations every step; by default glibc maps each one afresh and the step pays the
 * page faults of touching it again (the paper network, 1 thread: 730-920 ms median steps by default,
 * 340-470 ms with these).
 */
export const PEER_MALLOC: Readonly<Record<string, string>> = Object.freeze({
  MALLOC_MMAP_MAX_: '0',
  MALLOC_TRIM_THRESHOLD_: String(64 * 2 ** 30),
  MALLOC_TOP_PAD_: String(2 ** 30),
});

/**
 * Runs the script on `input` and parses its JSON line; `reason` says what is missing or what failed.
 * The BLAS/OpenMP pools get `input.threads` threads too (a threaded OpenBLAS ignores torch's setting).
 */
export function runTorchScript(input: Record<string, unknown>, python?: string): Promise<{ ok: true; value: Record<string, unknown> } | { ok: false; reason: string }> {
  const py = resolvePython(python);
  let script: string;
  try {
    script = torchPeerScript();
  } catch (e) {
    return Promise.resolve({ ok: false, reason: `PyTorch peer script not found: ${(e as Error).message}` });
  }
  if (!existsSync(script)) return Promise.resolve({ ok: false, reason: `PyTorch peer script not found at ${script}: the package must ship bench/peers/torch_step.py` });
  return new Promise((resolve) => {
    const threads = String(input.threads ?? 1);
    const env = { ...PEER_MALLOC, ...process.env, OMP_NUM_THREADS: threads, OPENBLAS_NUM_THREADS: threads, MKL_NUM_THREADS: threads };
    const child = spawn(py, [script], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdin.on('error', () => {}); // the exit code tells what happened
    child.on('error', (e: NodeJS.ErrnoException) => {
      resolve({ ok: false, reason: e.code === 'ENOENT' ? `Python not found: cannot run '${py}'; install Python 3 with PyTorch (${INSTALL_HINT})` : `cannot run '${py}': ${e.message}` });
    });
    child.on('close', (code, signal) => {
      if (code === 3) return resolve({ ok: false, reason: `PyTorch not found for ${py}: ${INSTALL_HINT}` });
      if (code !== 0) return resolve({ ok: false, reason: `PyTorch peer failed (${signal ? `signal ${signal}` : `exit code ${code}`}) with ${py}: ${err.trim().split('\n').slice(-5).join('\n') || 'no message'}` });
      const line = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve({ ok: true, value: JSON.parse(line) as Record<string, unknown> });
      } catch {
        resolve({ ok: false, reason: `PyTorch peer printed no JSON result: ${JSON.stringify(out.slice(-200))}` });
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}

/** Times `spec.steps` training steps (after `spec.warmup`) of `cfg` in PyTorch with `threads` threads. */
export async function benchTorchPeer(cfg: NetworkConfig, spec: PeerSpec, threads: number, opts?: { python?: string }): Promise<PeerResult> {
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  if (!Number.isInteger(spec.steps) || spec.steps < 1) throw new RangeError(`steps must be a positive integer, got ${spec.steps}`);
  const r = await runTorchScript(torchPeerInput(cfg, spec, threads, spec.state?.lr), opts?.python);
  if (!r.ok) return r;
  return { ok: true, ...(r.value as unknown as PeerTiming) };
}
