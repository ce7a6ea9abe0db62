// Opens the backend a command asked for: `cpu`, `gpujs` (best available mode) or `gpujs:MODE`.
import { availableParallelism } from 'node:os';
import type { Backend } from '../core/backend.js';
import { cpuBackend, threadCount } from '../backends/cpu/index.js';
import { intFlag, UsageError } from './args.js';

export interface OpenedBackend {
  backend: Backend;
  /** What config.json and bench output record: name, mode, renderer. */
  info: Record<string, unknown>;
  close(): void;
}

export interface OpenOptions {
  /** CPU backend threads (1 = no workers); default: PLIF_THREADS, else the machine's cores. */
  threads?: number;
  /** CPU backend: receives the time of the parts of an op (profiles). */
  onSection?: (section: string, ms: number) => void;
  /** CPU backend: false forces the TypeScript kernels instead of WebAssembly SIMD. */
  simd?: boolean;
}

/**
 * `--threads N`, else PLIF_THREADS, else the machine's cores; checked here against the CPU backend's range
 * (threadCount), so that a refusal names where the number came from: the flag or the environment variable.
 */
export function resolveThreads(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const inRange = (n: number, source: string): number => {
    try {
      return threadCount(n);
    } catch (err) {
      throw new UsageError(`${source}: ${(err as Error).message}`);
    }
  };
  if (flag !== undefined) return inRange(intFlag('threads', flag)!, `--threads ${flag}`);
  const e = env['PLIF_THREADS'];
  if (e !== undefined && e.trim() !== '') {
    if (!/^\d+$/.test(e.trim()) || Number(e) < 1) throw new UsageError(`PLIF_THREADS must be an integer >= 1, got '${e}'`);
    return inRange(Number(e), `PLIF_THREADS=${e.trim()} (the environment variable)`);
  }
  return availableParallelism();
}

export async function openBackend(spec: string, opts: OpenOptions = {}): Promise<OpenedBackend> {
  if (spec === 'cpu') {
    const backend = cpuBackend({ threads: opts.threads ?? 1, ...(opts.simd !== undefined ? { simd: opts.simd } : {}), ...(opts.onSection ? { onSection: opts.onSection } : {}) });
    return { backend, info: { name: 'cpu', precision: 'float32', threads: backend.threads, kernels: backend.simd ? 'wasm-simd' : 'typescript' }, close: () => backend.destroy() };
  }
  if (spec === 'gpujs' || spec.startsWith('gpujs:')) {
    const gpujs = await import('../backends/gpujs/index.js');
    const backend = await gpujs.createGpujsBackend(gpujs.parseGpujsSpec(spec));
    return { backend, info: { name: 'gpujs', ...gpujs.describe(backend) }, close: () => backend.destroy() };
  }
  throw new RangeError(`unknown backend '${spec}' (use cpu, gpujs or gpujs:MODE)`);
}
