// A fixed pool of worker threads that run kernels (kernels.ts) over ranges of one op, on arrays of the
// shared arena. The Backend interface is synchronous, so the calling thread runs the first range itself
// and then blocks (Atomics.wait) until the workers have finished theirs. Started once, unref'd (it never
// keeps the process alive), stopped by destroy(). A kernel that throws in a worker fails the op with the
// worker's error; a worker that dies fails it too, and the pool refuses further work.
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import type { Arena } from './arena.js';
import { builtFilePath } from './built-file.js';
import { kernels, type Kernel, type WasmKernels } from './kernels.js';

/** The CPU backend's default thread count: the machine's cores (as the CLI's), at most 256. */
export const defaultThreads = (): number => Math.min(256, availableParallelism());

/** One range of a kernel, as posted to a worker. */
export interface Job {
  k: string;
  /** [byteOffset, length] of each array. */
  arr: number[];
  num: number[];
  lo: number;
  hi: number;
  part: number;
  meta: unknown;
}

/** A worker that has not started after this long is taken as failed. */
const STARTUP_LIMIT_MS = 60_000;

/**
 * Kernels added to the production table (tests only: e.g. one that fails on purpose). The workers import
 * `module` (a file URL of an ES module whose export `kernels` is `table`); the calling thread uses `table`.
 */
export interface ExtraKernels {
  table: Record<string, Kernel>;
  module: string;
}

export interface SplitOptions {
  /** Smallest range worth a thread (in the op's units); default 1. */
  grain?: number;
}

/** The compiled worker script: next to this file in dist/, or dist/ of the package when running from sources. */
export function workerPath(here = dirname(fileURLToPath(import.meta.url))): string {
  const path = builtFilePath(here, 'worker.js', join('backends', 'cpu', 'worker.js'));
  if (!existsSync(path)) throw new Error(`the CPU backend's worker script is missing (${path}): run \`npm run build\`, or use threads: 1`);
  return path;
}

export class KernelPool {
  readonly threads: number;
  private readonly workers: Worker[] = [];
  private readonly errors: MessagePort[] = [];
  /** ctrl[0]: ranges still running; ctrl[i]: 1 once worker i has exited; ctrl[threads + i]: 1 once it has started. */
  private readonly ctrl: Int32Array;
  private broken: string | null = null;
  private readonly table: Record<string, Kernel>;

  constructor(
    private readonly arena: Arena,
    threads: number,
    wasmModule: WebAssembly.Module | null,
    private readonly wasm: WasmKernels | null,
    extra?: ExtraKernels,
  ) {
    this.threads = threads;
    for (const k of Object.keys(extra?.table ?? {})) if (k in kernels) throw new Error(`extra kernel '${k}' would replace a kernel of the CPU backend`);
    this.table = { ...kernels, ...extra?.table };
    this.ctrl = new Int32Array(new SharedArrayBuffer(4 * (1 + 2 * threads)));
    const file = threads > 1 ? workerPath() : '';
    for (let i = 1; i < threads; i++) {
      const { port1, port2 } = new MessageChannel();
      // execArgv: [] (a parent started with -e/-p would otherwise run its script again in the worker)
      const w = new Worker(file, { execArgv: [], workerData: { memory: arena.memory, ctrl: this.ctrl.buffer, threads, id: i, port: port2, wasm: wasmModule, extra: extra?.module ?? null }, transferList: [port2] });
      w.unref();
      port1.unref();
      w.on('error', () => undefined); // reported through the control block and the error port
      this.workers.push(w);
      this.errors.push(port1);
    }
  }

  /**
   * Runs kernel `k` over [0, total) split into ranges, one per thread (fewer when a range would be below
   * `grain`); `scratch` arrays are sliced per range by the kernels. Arrays outside the arena keep the
   * whole op on this thread.
   */
  run(k: string, arr: Float32Array[], num: number[], total: number, meta: unknown = null, opts: SplitOptions = {}): void {
    const kernel = this.table[k];
    if (!kernel) throw new Error(`unknown kernel '${k}'`);
    if (total <= 0) return;
    const shared = arr.every((a) => this.arena.isOwnBuffer(a.buffer));
    const grain = Math.max(1, opts.grain ?? 1);
    const parts = shared && !this.broken ? Math.max(1, Math.min(this.threads, Math.floor(total / grain))) : 1;
    if (this.broken && shared) throw new Error(`CPU backend thread pool is unusable: ${this.broken}`);
    if (parts === 1) {
      kernel(arr, num, 0, total, 0, meta, shared ? this.wasm : null);
      return;
    }
    const bounds = (p: number) => Math.round((total * p) / parts);
    const desc = arr.flatMap((a) => [a.byteOffset, a.length]);
    Atomics.store(this.ctrl, 0, parts - 1);
    for (let p = 1; p < parts; p++) {
      const job: Job = { k, arr: desc, num, lo: bounds(p), hi: bounds(p + 1), part: p, meta };
      this.workers[p - 1]!.postMessage(job);
    }
    let mine: unknown = null;
    try {
      kernel(arr, num, 0, bounds(1), 0, meta, this.wasm);
    } catch (err) {
      mine = err;
    }
    try {
      this.wait(k);
    } catch (err) {
      if (!mine) throw err;
    }
    if (mine) throw mine; // the first range's error first (the workers have finished or failed)
  }

  private wait(k: string): void {
    const t0 = Date.now();
    for (;;) {
      const left = Atomics.load(this.ctrl, 0);
      if (left <= 0) break;
      const dead = this.deadWorker();
      if (dead >= 0) {
        this.broken = `worker thread ${dead} exited`;
        throw new Error(`CPU backend: worker thread ${dead} exited while running kernel '${k}'; the thread pool is unusable (restart, or use --threads 1)`);
      }
      if (Date.now() - t0 > STARTUP_LIMIT_MS)
        for (let i = 1; i < this.threads; i++)
          if (Atomics.load(this.ctrl, this.threads + i) !== 1) {
            this.broken = `worker thread ${i} did not start`;
            throw new Error(`CPU backend: worker thread ${i} did not start within ${STARTUP_LIMIT_MS / 1000} s (kernel '${k}'); use --threads 1`);
          }
      Atomics.wait(this.ctrl, 0, left, 1000);
    }
    for (let i = 0; i < this.errors.length; i++) {
      const msg = receiveMessageOnPort(this.errors[i]!);
      if (msg) throw new Error(`CPU backend: kernel '${k}' failed in worker thread ${i + 1}: ${String(msg.message)}`);
    }
  }

  private deadWorker(): number {
    for (let i = 1; i < this.threads; i++) if (Atomics.load(this.ctrl, i) === 1) return i;
    return -1;
  }

  /** Stops the workers (the pool cannot be used afterwards). */
  destroy(): void {
    this.broken = 'destroyed';
    for (const w of this.workers) void w.terminate();
    for (const p of this.errors) p.close();
    this.workers.length = 0;
  }
}
