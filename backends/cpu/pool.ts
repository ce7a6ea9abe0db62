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

/** A worker that has not started after this long is taken as failed. */
const STARTUP_LIMIT_MS = 60_000;

/**
 * Job slots in shared memory, one per worker: posting a range is a few stores and an Atomics.notify, and
 * a worker that finished a range recently is still spinning on its slot's counter (a training step of a
 * small network runs a hundred short ops back to back, where a message and an event-loop wake-up per op
 * cost more than the op). Per slot: SLOT_INTS int32 (kernel, chunks, total, part, counts, then the arrays'
 * [byteOffset, length] pairs), SLOT_NUMS float64 numbers and SLOT_META bytes of meta as JSON.
 */
export const SLOT_INTS = 64;
export const SLOT_NUMS = 32;
export const SLOT_META = 4096;
const SLOT_HEAD = 7;
/** Checks of a counter before sleeping on it (a few tens of microseconds). */
export const SPIN = 20_000;

/** Layout of the control block (int32): see KernelPool.ctrl. */
export function controlLayout(threads: number): { running: number; seq: number; stop: number; next: number; length: number } {
  return { running: 0, seq: 1 + 2 * threads, stop: 1 + 3 * threads, next: 2 + 3 * threads, length: 3 + 3 * threads };
}

/**
 * Chunks of an op per thread: thread p runs chunk p, then each claims the next unclaimed chunk until none
 * is left, so a thread whose ranges hold more work (more spikes for a sparse kernel) or that woke late
 * takes fewer. Which thread runs a chunk never changes a value (a range computes its outputs the same
 * way whatever the split).
 */
export const CHUNKS_PER_THREAD = 4;

/** Bounds of chunk c of `chunks` over [0, total). */
export const chunkBounds = (total: number, chunks: number, c: number): [number, number] => [Math.round((total * c) / chunks), Math.round((total * (c + 1)) / chunks)];

/** Runs chunk `part` of an op, then claims further chunks from the counter ctrl[next] until none is left. */
export function runChunks(kernel: Kernel, arr: Float32Array[], num: number[], total: number, chunks: number, part: number, meta: unknown, wasm: WasmKernels | null, ctrl: Int32Array, next: number): void {
  for (let c = part; c < chunks; c = Atomics.add(ctrl, next, 1)) {
    const [lo, hi] = chunkBounds(total, chunks, c);
    kernel(arr, num, lo, hi, part, meta, wasm);
  }
}

/** The job slots of a pool of `threads` threads over one SharedArrayBuffer. */
export function jobSlots(buf: SharedArrayBuffer, threads: number): { ints: Int32Array; nums: Float64Array; meta: Uint8Array } {
  const ints = new Int32Array(buf, 0, threads * SLOT_INTS);
  const nums = new Float64Array(buf, ints.byteLength, threads * SLOT_NUMS);
  const meta = new Uint8Array(buf, ints.byteLength + nums.byteLength, threads * SLOT_META);
  return { ints, nums, meta };
}

export const jobSlotBytes = (threads: number): number => threads * (SLOT_INTS * 4 + SLOT_NUMS * 8 + SLOT_META);

/** The kernels' names in the order both sides number them. */
export const kernelNames = (table: Record<string, Kernel>): string[] => Object.keys(table).sort();

/** Reads the job in slot `i`: the kernel's name, its arrays as views of `buffer`, its numbers and meta. */
export function readJob(slots: ReturnType<typeof jobSlots>, i: number, names: readonly string[], buffer: ArrayBufferLike): { k: string; arr: Float32Array[]; num: number[]; chunks: number; total: number; part: number; meta: unknown } {
  const I = slots.ints.subarray(i * SLOT_INTS, (i + 1) * SLOT_INTS);
  const [kernel, chunks, total, part, nArr, nNum, metaLen] = I as unknown as number[];
  const arr: Float32Array[] = [];
  for (let a = 0; a < nArr!; a++) arr.push(new Float32Array(buffer, I[SLOT_HEAD + 2 * a]!, I[SLOT_HEAD + 2 * a + 1]!));
  const num = Array.from(slots.nums.subarray(i * SLOT_NUMS, i * SLOT_NUMS + nNum!));
  const meta = metaLen! > 0 ? JSON.parse(new TextDecoder().decode(slots.meta.slice(i * SLOT_META, i * SLOT_META + metaLen!))) : null;
  return { k: names[kernel!]!, arr, num, chunks: chunks!, total: total!, part: part!, meta };
}

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
  /**
   * ctrl[0]: ranges still running; ctrl[i]: 1 once worker i has exited; ctrl[threads + i]: 1 once it has
   * started; ctrl[1 + 2 threads + i]: the count of jobs posted into worker i's slot; ctrl[1 + 3 threads]: 1 to stop;
   * ctrl[2 + 3 threads]: the next chunk of the running op to claim.
   */
  private readonly ctrl: Int32Array;
  private readonly layout: ReturnType<typeof controlLayout>;
  private readonly slots: ReturnType<typeof jobSlots>;
  private readonly kernelIndex = new Map<string, number>();
  private readonly encoder = new TextEncoder();
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
    this.layout = controlLayout(threads);
    this.ctrl = new Int32Array(new SharedArrayBuffer(4 * this.layout.length));
    const jobs = new SharedArrayBuffer(jobSlotBytes(threads));
    this.slots = jobSlots(jobs, threads);
    kernelNames(this.table).forEach((k, i) => this.kernelIndex.set(k, i));
    const file = threads > 1 ? workerPath() : '';
    for (let i = 1; i < threads; i++) {
      const { port1, port2 } = new MessageChannel();
      // execArgv: [] (a parent started with -e/-p would otherwise run its script again in the worker)
      const w = new Worker(file, { execArgv: [], workerData: { memory: arena.memory, ctrl: this.ctrl.buffer, jobs, threads, id: i, port: port2, wasm: wasmModule, extra: extra?.module ?? null }, transferList: [port2] });
      w.unref();
      port1.unref();
      w.on('error', () => undefined); // reported through the control block and the error port
      this.workers.push(w);
      this.errors.push(port1);
    }
  }

  /**
   * Runs kernel `k` over [0, total) split into ranges, CHUNKS_PER_THREAD per thread (fewer when a range
   * would be below `grain`; every thread runs at least one), each thread passing its own index as `part`
   * (per-thread scratch arrays are sliced by the kernels). Arrays outside the arena keep the whole op on
   * this thread.
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
    const chunks = Math.max(parts, Math.min(parts * CHUNKS_PER_THREAD, Math.floor(total / grain)));
    const metaBytes = meta === null || meta === undefined ? null : this.encoder.encode(JSON.stringify(meta));
    if (arr.length > (SLOT_INTS - SLOT_HEAD) / 2 || num.length > SLOT_NUMS || (metaBytes?.length ?? 0) > SLOT_META)
      throw new Error(`kernel '${k}': ${arr.length} arrays, ${num.length} numbers and ${metaBytes?.length ?? 0} bytes of meta exceed a job slot`);
    Atomics.store(this.ctrl, 0, parts - 1);
    Atomics.store(this.ctrl, this.layout.next, parts);
    for (let p = 1; p < parts; p++) {
      const I = this.slots.ints.subarray(p * SLOT_INTS, (p + 1) * SLOT_INTS);
      I[0] = this.kernelIndex.get(k)!;
      I[1] = chunks;
      I[2] = total;
      I[3] = p;
      I[4] = arr.length;
      I[5] = num.length;
      I[6] = metaBytes?.length ?? 0;
      arr.forEach((a, j) => {
        I[SLOT_HEAD + 2 * j] = a.byteOffset;
        I[SLOT_HEAD + 2 * j + 1] = a.length;
      });
      this.slots.nums.set(num, p * SLOT_NUMS);
      if (metaBytes) this.slots.meta.set(metaBytes, p * SLOT_META);
      Atomics.add(this.ctrl, this.layout.seq + p, 1); // publishes the slot (Atomics order the stores before it)
      Atomics.notify(this.ctrl, this.layout.seq + p);
    }
    let mine: unknown = null;
    try {
      runChunks(kernel, arr, num, total, chunks, 0, meta, this.wasm, this.ctrl, this.layout.next);
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
    for (let spin = 0; spin < SPIN && Atomics.load(this.ctrl, 0) > 0; spin++);
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
    Atomics.store(this.ctrl, this.layout.stop, 1);
    for (let i = 1; i < this.threads; i++) {
      Atomics.add(this.ctrl, this.layout.seq + i, 1);
      Atomics.notify(this.ctrl, this.layout.seq + i);
    }
    for (const w of this.workers) void w.terminate();
    for (const p of this.errors) p.close();
    this.workers.length = 0;
  }
}
