// A fixed pool of worker threads that run kernels (kernels.ts) over ranges of one op, on arrays of the
// shared arena. The Backend interface is synchronous, so the calling thread claims and runs chunks of the
// op like the workers, then blocks (Atomics.wait) until the chunks the workers claimed are done. Started
// once, unref'd (it never keeps the process alive), stopped by destroy(). A kernel that throws in a worker fails the op with the
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

/**
 * The job slot in shared memory: posting an op is a few stores, a store of the claim word and an
 * Atomics.notify per worker, and a worker that finished a chunk recently is still spinning on its wake-up
 * counter (a training step of a small network runs a hundred short ops back to back, where a message and
 * an event-loop wake-up per op cost more than the op). The slot: SLOT_INTS int32 (kernel, op number, total,
 * counts, then the arrays' [byteOffset, length] pairs), SLOT_NUMS float64 numbers and SLOT_META bytes of
 * meta as JSON.
 */
export const SLOT_INTS = 64;
export const SLOT_NUMS = 32;
export const SLOT_META = 4096;
const SLOT_HEAD = 6;
/** Checks of a counter before sleeping on it (about 250 µs on the development machine). */
export const SPIN = 20_000;

/**
 * Layout of the control block (int32): `running` the chunks of the current op not yet finished; [1, threads)
 * a worker's exit flag; `seq` + i worker i's wake-up counter; `stop`; `claim` the claim word of the current
 * op (chunkCount << 16 | next chunk to claim).
 */
export function controlLayout(threads: number): { running: number; seq: number; stop: number; claim: number; length: number } {
  return { running: 0, seq: threads, stop: 2 * threads, claim: 1 + 2 * threads, length: 2 + 2 * threads };
}

/**
 * Chunks of an op per thread. Every thread, the calling one included, claims the next unclaimed chunk until
 * none is left, so a thread whose ranges hold more work (more spikes for a sparse kernel) takes fewer, and a
 * worker that wakes late (the kernel's futex wake-up on a busy machine) takes none: the op never waits for a
 * thread that has not started it. Which thread runs a chunk never changes a value (a range computes its
 * outputs the same way whatever the split).
 */
export const CHUNKS_PER_THREAD = 4;
/** Chunks of one op at most (the claim word holds the count in 15 bits). */
export const MAX_CHUNKS = 0x7fff;

/** Bounds of chunk c of `chunks` over [0, total). */
export const chunkBounds = (total: number, chunks: number, c: number): [number, number] => [Math.round((total * c) / chunks), Math.round((total * (c + 1)) / chunks)];

/**
 * Claims the next chunk of the op whose claim word is ctrl[claim]: [chunk, chunks], or null when every chunk
 * is taken. A claim that succeeds belongs to the op then current, which cannot finish (nor its slot be
 * overwritten) before the claimed chunk is counted done.
 */
export function claimChunk(ctrl: Int32Array, claim: number): [number, number] | null {
  for (;;) {
    const w = Atomics.load(ctrl, claim);
    const chunks = w >>> 16;
    const next = w & 0xffff;
    if (next >= chunks) return null;
    if (Atomics.compareExchange(ctrl, claim, w, w + 1) === w) return [next, chunks];
  }
}

/**
 * Claims and runs chunks of the current op on thread `part` until none is left, counting each one done in
 * ctrl[running] (and waking the calling thread at the last); `job()` reads the op from the slot. A chunk's
 * error goes to `failed` before the chunk counts as done; the remaining chunks still run.
 */
export function runClaimedChunks(job: () => { kernel: Kernel; arr: Float32Array[]; num: number[]; total: number; meta: unknown }, part: number, wasm: WasmKernels | null, ctrl: Int32Array, layout: ReturnType<typeof controlLayout>, failed: (err: unknown) => void): void {
  for (let claimed = claimChunk(ctrl, layout.claim); claimed; claimed = claimChunk(ctrl, layout.claim)) {
    try {
      const j = job();
      const [lo, hi] = chunkBounds(j.total, claimed[1], claimed[0]);
      j.kernel(j.arr, j.num, lo, hi, part, j.meta, wasm);
    } catch (err) {
      failed(err);
    } finally {
      if (Atomics.sub(ctrl, layout.running, 1) === 1) Atomics.notify(ctrl, layout.running);
    }
  }
}

/** The job slot of a pool over one SharedArrayBuffer. */
export function jobSlot(buf: SharedArrayBuffer): { ints: Int32Array; nums: Float64Array; meta: Uint8Array } {
  const ints = new Int32Array(buf, 0, SLOT_INTS);
  const nums = new Float64Array(buf, ints.byteLength, SLOT_NUMS);
  const meta = new Uint8Array(buf, ints.byteLength + nums.byteLength, SLOT_META);
  return { ints, nums, meta };
}

export const JOB_SLOT_BYTES = SLOT_INTS * 4 + SLOT_NUMS * 8 + SLOT_META;

/** The kernels' names in the order both sides number them. */
export const kernelNames = (table: Record<string, Kernel>): string[] => Object.keys(table).sort();

/** The op number of the job in the slot (a worker reads the rest again only when it changed). */
export const slotOp = (slot: ReturnType<typeof jobSlot>): number => slot.ints[1]!;

/**
 * Writes op number `op` into the slot (kernel index, total, the arrays' places in the arena, numbers, meta
 * as JSON bytes); refuses (naming the kernel) what does not fit a slot. readJob reads it back.
 */
export function writeJob(slot: ReturnType<typeof jobSlot>, k: string, kernelIndex: number, op: number, arr: readonly Float32Array[], num: readonly number[], total: number, metaBytes: Uint8Array | null): void {
  if (arr.length > (SLOT_INTS - SLOT_HEAD) / 2 || num.length > SLOT_NUMS || (metaBytes?.length ?? 0) > SLOT_META)
    throw new Error(`kernel '${k}': ${arr.length} arrays, ${num.length} numbers and ${metaBytes?.length ?? 0} bytes of meta exceed a job slot`);
  const I = slot.ints;
  I[0] = kernelIndex;
  I[1] = op;
  I[2] = total;
  I[3] = arr.length;
  I[4] = num.length;
  I[5] = metaBytes?.length ?? 0;
  arr.forEach((a, j) => {
    I[SLOT_HEAD + 2 * j] = a.byteOffset;
    I[SLOT_HEAD + 2 * j + 1] = a.length;
  });
  slot.nums.set(num);
  if (metaBytes) slot.meta.set(metaBytes);
}

/** Reads the job in the slot: the kernel's name, its arrays as views of `buffer`, its numbers and meta. */
export function readJob(slot: ReturnType<typeof jobSlot>, names: readonly string[], buffer: ArrayBufferLike): { k: string; op: number; arr: Float32Array[]; num: number[]; total: number; meta: unknown } {
  const I = slot.ints;
  const [kernel, op, total, nArr, nNum, metaLen] = I as unknown as number[];
  const arr: Float32Array[] = [];
  for (let a = 0; a < nArr!; a++) arr.push(new Float32Array(buffer, I[SLOT_HEAD + 2 * a]!, I[SLOT_HEAD + 2 * a + 1]!));
  const num = Array.from(slot.nums.subarray(0, nNum!));
  const meta = metaLen! > 0 ? JSON.parse(new TextDecoder().decode(slot.meta.slice(0, metaLen!))) : null;
  return { k: names[kernel!]!, op: op!, arr, num, total: total!, meta };
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
   * The control block (controlLayout): chunks running, exit flags, the workers' wake-up counters, the stop
   * flag and the claim word.
   */
  private readonly ctrl: Int32Array;
  private readonly layout: ReturnType<typeof controlLayout>;
  private readonly slot: ReturnType<typeof jobSlot>;
  private op = 0;
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
    const jobs = new SharedArrayBuffer(JOB_SLOT_BYTES);
    this.slot = jobSlot(jobs);
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
   * Runs kernel `k` over [0, total) split into chunks, CHUNKS_PER_THREAD per thread (fewer when a chunk
   * would be below `grain`, never fewer than the threads it wakes), each thread passing its own index as
   * `part` (per-thread scratch arrays are sliced by the kernels). Arrays outside the arena keep the whole op on
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
    const chunks = Math.min(MAX_CHUNKS, Math.max(parts, Math.min(parts * CHUNKS_PER_THREAD, Math.floor(total / grain))));
    const metaBytes = meta === null || meta === undefined ? null : this.encoder.encode(JSON.stringify(meta));
    // the slot is rewritten only here, after every chunk of the previous op was counted done
    this.op = (this.op + 1) | 0;
    writeJob(this.slot, k, this.kernelIndex.get(k)!, this.op, arr, num, total, metaBytes);
    Atomics.store(this.ctrl, this.layout.running, chunks);
    Atomics.store(this.ctrl, this.layout.claim, chunks << 16); // publishes the op (Atomics order the stores before it)
    for (let p = 1; p < parts; p++) {
      Atomics.add(this.ctrl, this.layout.seq + p, 1);
      Atomics.notify(this.ctrl, this.layout.seq + p);
    }
    const job = { kernel, arr, num, total, meta };
    let mine: unknown = null;
    runClaimedChunks(() => job, 0, this.wasm, this.ctrl, this.layout, (err) => (mine ??= err));
    try {
      this.wait(k);
    } catch (err) {
      if (!mine) throw err;
    }
    if (mine) throw mine; // this thread's error first (the workers have finished or failed)
  }

  private wait(k: string): void {
    const running = this.layout.running;
    for (let spin = 0; spin < SPIN && Atomics.load(this.ctrl, running) > 0; spin++);
    for (;;) {
      const left = Atomics.load(this.ctrl, running);
      if (left <= 0) break;
      const dead = this.deadWorker();
      if (dead >= 0) {
        this.broken = `worker thread ${dead} exited`;
        throw new Error(`CPU backend: worker thread ${dead} exited while running kernel '${k}'; the thread pool is unusable (restart, or use --threads 1)`);
      }
      Atomics.wait(this.ctrl, running, left, 1000);
    }
    // a worker posts one message per failed chunk, each before the chunk counts as done: all are here now,
    // and all are read (the first reported), so none is left to fail a later op
    let failure: string | null = null;
    for (let i = 0; i < this.errors.length; i++)
      for (let msg = receiveMessageOnPort(this.errors[i]!); msg; msg = receiveMessageOnPort(this.errors[i]!))
        failure ??= `CPU backend: kernel '${k}' failed in worker thread ${i + 1}: ${String(msg.message)}`;
    if (failure) throw new Error(failure);
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
