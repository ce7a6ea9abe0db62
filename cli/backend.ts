// Opens the backend a command asked for: `cpu`, `gpujs` (best available mode) or `gpujs:MODE`.
import type { Backend } from '../core/backend.js';
import { cpuBackend } from '../backends/cpu/index.js';

export interface OpenedBackend {
  backend: Backend;
  /** What config.json and bench output record: name, mode, renderer. */
  info: Record<string, unknown>;
  close(): void;
}

export async function openBackend(spec: string): Promise<OpenedBackend> {
  if (spec === 'cpu') return { backend: cpuBackend(), info: { name: 'cpu', precision: 'float32' }, close: () => undefined };
  if (spec === 'gpujs' || spec.startsWith('gpujs:')) {
    const gpujs = await import('../backends/gpujs/index.js');
    const backend = await gpujs.createGpujsBackend(gpujs.parseGpujsSpec(spec));
    return { backend, info: { name: 'gpujs', ...gpujs.describe(backend) }, close: () => backend.destroy() };
  }
  throw new RangeError(`unknown backend '${spec}' (use cpu, gpujs or gpujs:MODE)`);
}
