// A kernel table for the kernel pool's own tests (pool.ts ExtraKernels), loaded by the workers too: plain
// JavaScript, since a worker imports it without the test runner's transform.

/** @type {Record<string, import('../../backends/cpu/kernels.js').Kernel>} */
export const kernels = {
  /**
   * num = [how, total]: how 1 throws in a worker's range, 2 ends the worker's process, 3 throws in every
   * range (the calling thread's too). Chunks go to whichever thread claims them first, so when the op is
   * split (a range shorter than `total`) and an array is given, the calling thread's range (part 0) waits, up
   * to 10 s, until a worker has run one (flag: word 0 of arr[0]).
   */
  fail([flagged], [how, total], lo, hi, part) {
    if (how === 3) throw new Error('kernel failure requested by a test');
    const flag = flagged && hi - lo < total ? new Int32Array(flagged.buffer, flagged.byteOffset, 1) : null;
    if (part === 0) {
      if (flag && how !== 0) {
        Atomics.wait(flag, 0, 0, 10000);
        Atomics.store(flag, 0, 0); // for the next op
      }
      return; // the others only in workers
    }
    if (flag) {
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    }
    if (how === 1) throw new Error('kernel failure requested by a test');
    if (how === 2) process.exit(3);
  },
};

/** The pool's extra kernels (pool.ts ExtraKernels) of this module. */
export const failKernels = { table: kernels, module: import.meta.url };
