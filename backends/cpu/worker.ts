// A worker thread of the CPU backend's pool (pool.ts): runs kernel ranges on views of the shared memory
// and counts down the control block; a thrown error goes back on the error port.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { kernels, type Kernel, type WasmKernels } from './kernels.js';
import type { Job } from './pool.js';
import { instantiateKernels } from './wasm/index.js';

interface Data {
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  threads: number;
  id: number;
  port: MessagePort;
  wasm: WebAssembly.Module | null;
  /** File URL of a module exporting more `kernels` (pool.ts ExtraKernels: tests only), or null. */
  extra: string | null;
}

const { memory, ctrl: ctrlBuf, threads, id, port, wasm: wasmModule, extra } = workerData as Data;
const ctrl = new Int32Array(ctrlBuf);
const wasm: WasmKernels | null = wasmModule ? instantiateKernels(wasmModule, memory) : null;

process.on('exit', () => {
  Atomics.store(ctrl, id, 1);
  Atomics.notify(ctrl, 0);
});

// jobs posted meanwhile wait in the port's queue until the listener below is attached
const table: Record<string, Kernel> = extra ? { ...kernels, ...((await import(extra)) as { kernels: Record<string, Kernel> }).kernels } : kernels;

Atomics.store(ctrl, threads + id, 1); // started

parentPort!.on('message', (job: Job) => {
  try {
    const buf = memory.buffer;
    const arr: Float32Array[] = [];
    for (let i = 0; i < job.arr.length; i += 2) arr.push(new Float32Array(buf, job.arr[i]!, job.arr[i + 1]!));
    table[job.k]!(arr, job.num, job.lo, job.hi, job.part, job.meta, wasm);
  } catch (err) {
    port.postMessage(err instanceof Error ? (err.stack ?? err.message) : String(err));
  } finally {
    Atomics.sub(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
  }
});
