// The CPU backend's kernel pool in the browser page: the same kernels (backends/cpu/kernels.ts) on the calling
// thread only. The Node pool (backends/cpu/pool.ts) spreads ranges over worker_threads; results are bitwise
// identical for any thread count (test/cpu/threads.test.ts), so one thread computes what N threads would.
import type { Arena } from '../../backends/cpu/arena.js';
import { kernels, type WasmKernels } from '../../backends/cpu/kernels.js';
import type { SplitOptions } from '../../backends/cpu/pool.js';

export type { SplitOptions } from '../../backends/cpu/pool.js';

/** In a browser page the CPU backend runs on the calling thread. */
export const defaultThreads = (): number => 1;

export class KernelPool {
  readonly threads = 1;

  constructor(
    private readonly arena: Arena,
    threads: number,
    _wasmModule: WebAssembly.Module | null,
    private readonly wasm: WasmKernels | null,
  ) {
    if (threads !== 1) throw new RangeError(`the CPU backend runs on one thread in a browser page, not ${threads}`);
  }

  /** Runs kernel `k` over [0, total) on this thread (the WebAssembly kernels when every array is in the arena). */
  run(k: string, arr: Float32Array[], num: number[], total: number, meta: unknown = null, _opts: SplitOptions = {}): void {
    const kernel = kernels[k];
    if (!kernel) throw new Error(`unknown kernel '${k}'`);
    if (total <= 0) return;
    const shared = arr.every((a) => this.arena.isOwnBuffer(a.buffer));
    kernel(arr, num, 0, total, 0, meta, shared ? this.wasm : null);
  }

  destroy(): void {}
}
