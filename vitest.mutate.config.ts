// The tests `npm run mutate` runs against each mutant: the proofs and the in-process unit tests of core,
// reference, the CPU backend and the training loop. Left out: gpu.js (needs a display), and tests that
// run the built dist/ in child processes or worker threads, which never see a mutant.
// PLIF_MUTATE_TESTS=glob,glob narrows the set (e.g. to the proofs, for a quick run over core/).
import { defineConfig } from 'vitest/config';

const only = process.env['PLIF_MUTATE_TESTS']?.split(',');

export default defineConfig({
  test: {
    include: only ?? ['proofs/**/*.test.ts', 'test/neuron.test.ts', 'test/network/*.test.ts', 'test/training/*.test.ts', 'test/cpu/wasm-kernels.test.ts'],
    exclude: ['proofs/*gpujs*.test.ts', 'test/network/cli.test.ts'],
    // kernels run in the test's own thread (worker threads load the unmutated dist/)
    env: { PLIF_THREADS: '1' },
    // instrumented code runs several times slower: the encoders' short training runs took over 120 s in a dry run
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
});
