// A kernel table for the kernel pool's own tests (pool.ts ExtraKernels), loaded by the workers too: plain
// JavaScript, since a worker imports it without the test runner's transform.

/** @type {Record<string, import('../../backends/cpu/kernels.js').Kernel>} */
export const kernels = {
  /** num = [how]: 1 throws in a worker's range, 2 ends the worker's process, 3 throws in every range (the calling thread's too). */
  fail(_a, [how], _lo, _hi, part) {
    if (how === 3) throw new Error('kernel failure requested by a test');
    if (part === 0) return; // the others only in workers
    if (how === 1) throw new Error('kernel failure requested by a test');
    if (how === 2) process.exit(3);
  },
};

/** The pool's extra kernels (pool.ts ExtraKernels) of this module. */
export const failKernels = { table: kernels, module: import.meta.url };
