// `npm run mutate [group ...]`: mutation testing (StrykerJS), one run per group of source files with the
// tests that exercise them in-process, each with its own incremental file (.stryker-tmp/incremental-<group>.json)
// and report (.stryker-tmp/reports/<group>.{json,html}); then the scores per folder and file over every
// group's report. A rerun tests only the mutants whose code or covering tests changed.
// STRYKER_CONCURRENCY (default 2) and STRYKER_TIMEOUT_MS (default 5000) tune the runs.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const GROUPS = {
  core: {
    mutate: ['core/**/*.ts'],
    tests: [
      'proofs/*.test.ts',
      'test/neuron.test.ts',
      'test/core-contracts.test.ts',
      'test/encoders.test.ts',
      'test/fold.test.ts',
      'test/network/rng.test.ts',
      'test/network/smoke.test.ts',
      'test/network/checkpoint.test.ts',
      'test/network/parser.test.ts',
      'test/network/network-contracts.test.ts',
      'test/network/pool-ties.test.ts',
      'test/network/memory-estimate.test.ts',
      'test/network/safetensors.test.ts',
      'test/network/structure-contracts.test.ts',
      'test/network/handles.test.ts',
      'test/readout-contracts.test.ts',
    ],
  },
  // worker.ts runs only in worker threads, which load the built dist/: no test can see a mutant of it
  'backends-cpu': {
    mutate: ['backends/cpu/**/*.ts', '!backends/cpu/worker.ts', '!backends/cpu/wasm/assembly/**', '!**/*.d.ts'],
    tests: ['test/cpu/contracts.test.ts', 'test/cpu/kernel-ranges.test.ts', 'test/cpu/wasm-kernels.test.ts', 'proofs/conformance-cpu.test.ts'],
  },
  reference: {
    mutate: ['reference/**/*.ts'],
    tests: ['proofs/*.test.ts'],
  },
  training: {
    mutate: ['training/loop.ts'],
    tests: ['test/training/train.test.ts', 'test/training/curve-and-flags.test.ts', 'test/training/plot.test.ts', 'test/reliability/training.test.ts', 'test/encoders.test.ts', 'test/encoders-training.test.ts'],
  },
};

const asked = process.argv.slice(2);
for (const g of asked) if (!(g in GROUPS)) throw new Error(`unknown group '${g}' (groups: ${Object.keys(GROUPS).join(', ')})`);
const run = asked.length ? asked : Object.keys(GROUPS);
for (const group of run) {
  const { mutate, tests } = GROUPS[group];
  console.log(`\n== mutation testing: ${group} (${mutate.join(', ')}) ==`);
  const r = spawnSync('npx', ['stryker', 'run', '--mutate', mutate.join(',')], {
    stdio: 'inherit',
    env: { ...process.env, PLIF_MUTATE_GROUP: group, PLIF_MUTATE_TESTS: tests.join(',') },
  });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const reports = Object.keys(GROUPS)
  .map((g) => `.stryker-tmp/reports/${g}.json`)
  .filter((p) => existsSync(p));
spawnSync('node', ['scripts/mutation-scores.mjs', ...reports], { stdio: 'inherit' });
