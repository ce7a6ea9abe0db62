// A kernel table for the kernel pool's own tests (pool.ts ExtraKernels), loaded by the workers too: plain
// JavaScript, since a worker imports it without the test runner's transform.

/** @type {Record<string, import('../../backends/cpu/kernels.js').Kernel>} */
export const kernels = {
  /**
   * num = [how, total]: how 1 throws in a worker's range, 2 ends the worker's process, 3 throws in every
   * range (the calling thread's too), 4 throws in a worker's range, twice at least, 5 sleeps 50 ms in a
   * worker's range (the calling thread then waits for it past its spin). Chunks go to whichever
   * thread claims them first, so when the op is split (a range shorter than `total`) and an array is given,
   * a range of the calling thread (part 0) waits, up to 10 s, until workers have run one chunk (two for
   * how 4): word 0 of arr[0] counts them, so each op needs its own zeroed array.
   */
  fail([counted], [how, total], lo, hi, part) {
    const count = counted && hi - lo < total ? new Int32Array(counted.buffer, counted.byteOffset, 1) : null;
    if (part === 0) {
      waitForWorkers(count, how === 4 ? 2 : 1);
      if (how === 3) throw new Error('kernel failure requested by a test');
      return; // the others only in workers
    }
    countWorkerChunk(count);
    if (how === 1 || how === 3 || how === 4) throw new Error('kernel failure requested by a test');
    if (how === 2) process.exit(3);
    if (how === 5) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  },
  /** arr = [count, y], num = [total]: y[lo, hi) = meta.v, the calling thread waiting (as `fail`) until a worker has run a chunk. */
  fillMeta([counted, y], [total], lo, hi, part, meta) {
    const count = hi - lo < total ? new Int32Array(counted.buffer, counted.byteOffset, 1) : null;
    if (part === 0) waitForWorkers(count, 1);
    else countWorkerChunk(count);
    y.fill(meta.v, lo, hi);
  },
};

/** Counts a chunk a worker ran (and wakes a calling thread waiting for it); nothing without a count. */
function countWorkerChunk(count) {
  if (!count) return;
  Atomics.add(count, 0, 1);
  Atomics.notify(count, 0);
}

/** Waits, up to 10 s, until `count` (the chunks workers ran) reaches `need`; no wait without a count. */
function waitForWorkers(count, need) {
  const until = Date.now() + 10000;
  for (let v = count ? Atomics.load(count, 0) : need; v < need && Date.now() < until; v = Atomics.load(count, 0)) Atomics.wait(count, 0, v, 100);
}

/** The pool's extra kernels (pool.ts ExtraKernels) of this module. */
export const failKernels = { table: kernels, module: import.meta.url };
