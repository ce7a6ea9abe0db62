// A worker thread of the CPU backend's pool (pool.ts): runs kernel ranges on views of the shared memory
// and counts down the control block; a thrown error goes back on the error port.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { kernels, type WasmKernels } from './kernels.js';
import type { Job } from './pool.js';
import { instantiateKernels } from './wasm/index.js';

interface Data {
  memory: WebAssembly.Memory;
  ctrl: SharedArrayBuffer;
  threads: number;
  id: number;
  port: MessagePort;
  wasm: WebAssembly.Module | null;
}

const { memory, ctrl: ctrlBuf, threads, id, port, wasm: wasmModule } = workerData as Data;
const ctrl = new Int32Array(ctrlBuf);
const wasm: WasmKernels | null = wasmModule ? instantiateKernels(wasmModule, memory) : null;

Atomics.store(ctrl, threads + id, 1); // started

process.on('exit', () => {
  Atomics.store(ctrl, id, 1);
  Atomics.notify(ctrl, 0);
});

parentPort!.on('message', (job: Job) => {
  try {
    const buf = memory.buffer;
    const arr: Float32Array[] = [];
    for (let i = 0; i < job.arr.length; i += 2) arr.push(new Float32Array(buf, job.arr[i]!, job.arr[i + 1]!));
    kernels[job.k]!(arr, job.num, job.lo, job.hi, job.part, job.meta, wasm);
  } catch (err) {
    port.postMessage(err instanceof Error ? (err.stack ?? err.message) : String(err));
  } finally {
    Atomics.sub(ctrl, 0, 1);
    Atomics.notify(ctrl, 0);
  }
});
