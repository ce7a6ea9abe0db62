// A worker thread of the CPU backend's pool (pool.ts): woken for each op through its counter in shared
// memory (spinning on it for about 250 µs after each op, then sleeping on it with
// Atomics.wait), it claims and runs chunks of the op (pool.ts runClaimedChunks) on views of the shared
// memory, reading the op from the job slot once it holds a claim; a thrown error goes back on the error
// port. Ends when the pool sets the stop flag.
import { workerData, type MessagePort } from 'node:worker_threads';
import { kernels, type Kernel, type WasmKernels } from './kernels.js';
import { controlLayout, jobSlot, kernelNames, readJob, runClaimedChunks, slotOp, SPIN } from './pool.js';
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
const slot = jobSlot(jobs);
const wasm: WasmKernels | null = wasmModule ? instantiateKernels(wasmModule, memory) : null;

process.on('exit', () => {
  Atomics.store(ctrl, id, 1);
  Atomics.notify(ctrl, layout.running);
});

const table: Record<string, Kernel> = extra ? { ...kernels, ...((await import(extra)) as { kernels: Record<string, Kernel> }).kernels } : kernels;
const names = kernelNames(table);

// the op last read from the slot (read again only when the slot holds another op)
let cached: (ReturnType<typeof readJob> & { kernel: Kernel }) | null = null;
const job = () => {
  if (cached?.op !== slotOp(slot)) {
    const j = readJob(slot, names, memory.buffer);
    cached = { ...j, kernel: table[j.k]! };
  }
  return cached;
};

// an op posted before this point is claimed at once: its counter is already ahead of `seen`
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
  runClaimedChunks(job, id, wasm, ctrl, layout, (err) => port.postMessage(err instanceof Error ? (err.stack ?? err.message) : String(err)));
}
port.close();
