// A worker thread of the CPU backend's pool (pool.ts): takes ops from its job slot in shared memory
// (spinning on the slot's counter for a few tens of microseconds after each op, then sleeping on it with
// Atomics.wait), runs its chunk of each and claims more (pool.ts runChunks) on views of the shared memory,
// and counts down the control block; a thrown error goes back on the error port. Ends when the pool sets
// the stop flag.
import { workerData, type MessagePort } from 'node:worker_threads';
import { kernels, type Kernel, type WasmKernels } from './kernels.js';
import { controlLayout, jobSlots, kernelNames, readJob, runChunks, SPIN } from './pool.js';
import { instantiateKernels } from './wasm/index.js';

interface Data {
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  jobs: SharedArrayBuffer;
  threads: number;
  id: number;
  port: MessagePort;
  wasm: WebAssembly.Module | null;
  /** File URL of a module exporting more `kernels` (pool.ts ExtraKernels: tests only), or null. */
  extra: string | null;
}

const { memory, ctrl: ctrlBuf, jobs, threads, id, port, wasm: wasmModule, extra } = workerData as Data;
const ctrl = new Int32Array(ctrlBuf);
const layout = controlLayout(threads);
const slots = jobSlots(jobs, threads);
const wasm: WasmKernels | null = wasmModule ? instantiateKernels(wasmModule, memory) : null;

process.on('exit', () => {
  Atomics.store(ctrl, id, 1);
  Atomics.notify(ctrl, 0);
});

const table: Record<string, Kernel> = extra ? { ...kernels, ...((await import(extra)) as { kernels: Record<string, Kernel> }).kernels } : kernels;
const names = kernelNames(table);

Atomics.store(ctrl, threads + id, 1); // started

// jobs posted before this point wait in the slot: its counter is already ahead of `seen`
let seen = 0;
for (;;) {
  let posted = Atomics.load(ctrl, layout.seq + id);
  for (let spin = 0; posted === seen && spin < SPIN; spin++) posted = Atomics.load(ctrl, layout.seq + id);
  if (posted === seen) {
    Atomics.wait(ctrl, layout.seq + id, seen);
    continue;
  }
  seen = posted;
  if (Atomics.load(ctrl, layout.stop) === 1) break;
  try {
    const job = readJob(slots, id, names, memory.buffer);
    runChunks(table[job.k]!, job.arr, job.num, job.total, job.chunks, job.part, job.meta, wasm, ctrl, layout.next);
  } catch (err) {
    port.postMessage(err instanceof Error ? (err.stack ?? err.message) : String(err));
  } finally {
    Atomics.sub(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
  }
}
port.close();
