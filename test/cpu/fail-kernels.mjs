// A kernel table for the kernel pool's own tests (pool.ts ExtraKernels), loaded by the workers too: plain
// JavaScript, since a worker imports it without the test runner's transform.

/** @type {Record<string, import('../../backends/cpu/kernels.js').Kernel>} */
export const kernels = {
  /**
   * num = [how, total]: how 1 throws in a worker's range, 2 ends the worker's process, 3 throws in every
   * range (the calling thread's too), 4 throws in a worker's range, twice at least. Chunks go to whichever
   * thread claims them first, so when the op is split (a range shorter than `total`) and an array is given,
   * a range of the calling thread (part 0) waits, up to 10 s, until workers have run one chunk (two for
   * how 4): word 0 of arr[0] counts them, so each op needs its own zeroed array.
   */
  fail([counted], [how, total], lo, hi, part) {
    if (how === 3) throw new Error('kernel failure requested by a test');
    const count = counted && hi - lo < total ? new Int32Array(counted.buffer, counted.byteOffset, 1) : null;
    if (part === 0) {
      const need = how === 4 ? 2 : 1;
      const until = Date.now() + 10000;
      for (let v = count ? Atomics.load(count, 0) : need; v < need && Date.now() < until; v = Atomics.load(count, 0)) Atomics.wait(count, 0, v, 100);
      return; // the others only in workers
    }
    if (count) {
      Atomics.add(count, 0, 1);
      Atomics.notify(count, 0);
    }
    if (how === 1 || how === 4) throw new Error('kernel failure requested by a test');
    if (how === 2) process.exit(3);
  },
};

/** The pool's extra kernels (pool.ts ExtraKernels) of this module. */
export const failKernels = { table: kernels, module: import.meta.url };
