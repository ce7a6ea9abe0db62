// `npm run mutate [group ...]`: mutation testing (StrykerJS), one run per group of source files with the
// tests that exercise them in-process, each with its own incremental file (.stryker-tmp/incremental-<group>.json)
// and report (.stryker-tmp/reports/<group>.{json,html}); then the scores per folder and file over every
// group's report. A rerun tests only the mutants whose code or covering tests changed.
// STRYKER_CONCURRENCY (default 2) and STRYKER_TIMEOUT_MS (default 5000) tune the runs.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

// Static mutants (code run when a module is imported: the presets table, default configs) would each need
// the whole test set, proofs included (hours for core). The `core` group leaves them out; `core-static`
// then tests exactly those (as found in core's report) against core's fast unit tests.
const CORE_FAST_TESTS = [
  'test/neuron.test.ts',
  'test/core-contracts.test.ts',
  'test/encoders.test.ts',
  'test/fold.test.ts',
  'test/readout-contracts.test.ts',
  'proofs/readout.test.ts',
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
  'test/paper-defaults.test.ts', // the defaults table and every place that reads it
];

/**
 * file:line-line of every static mutant of a group's last report that it did not kill: those it left out,
 * and the "hybrid" ones (reached at import and by some tests) that survived the tests that reach them,
 * which ran them switched on only at run time, after the module-level code had run.
 */
function staticMutants(group) {
  const path = `.stryker-tmp/reports/${group}.json`;
  if (!existsSync(path)) throw new Error(`${path} is missing: run npm run mutate ${group} first`);
  const ranges = new Set();
  for (const [file, f] of Object.entries(JSON.parse(readFileSync(path, 'utf8')).files))
    for (const m of f.mutants) {
      const leftOut = m.status === 'Ignored' && /static/i.test(m.statusReason ?? '');
      if (leftOut || (m.static && (m.status === 'Survived' || m.status === 'NoCoverage'))) ranges.add(`${file}:${m.location.start.line}-${m.location.end.line}`);
    }
  return [...ranges];
}

export const GROUPS = {
  core: {
    mutate: ['core/**/*.ts'],
    tests: ['proofs/*.test.ts', ...CORE_FAST_TESTS],
    ignoreStatic: true,
  },
  'core-static': {
    mutate: () => staticMutants('core'),
    tests: CORE_FAST_TESTS,
    ignoreStatic: false,
    // a few minutes: always from scratch (an incremental run would keep a static survivor's result after
    // the test that kills it was added)
    fresh: true,
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
  // the epoch loop (engine.ts), the step and its divergence check (recipe.ts) and the CLI's run around them (loop.ts)
  training: {
    mutate: ['training/loop.ts', 'training/engine.ts', 'training/recipe.ts'],
    tests: ['test/training/train.test.ts', 'test/training/engine.test.ts', 'test/training/recipe-engine.test.ts', 'test/training/run-files-agree.test.ts', 'test/training/loop-run.test.ts', 'test/training/engine-hooks.test.ts', 'test/training/curve-and-flags.test.ts', 'test/training/plot.test.ts', 'test/reliability/training.test.ts', 'test/encoders.test.ts', 'test/encoders-training.test.ts', 'test/paper-defaults.test.ts'],
  },
  // the rest of training/: the run's config, state, checkpoints, run directory, data sources and evaluation,
  // against the in-process tests written for them (each under 3 s, so static mutants are tested too)
  // (no braces in these globs: the list reaches Stryker joined by commas)
  'training-files': {
    mutate: ['config', 'checkpoint-state', 'checkpoint', 'checkpoint-file', 'evaluate', 'rundir', 'source', 'static-source', 'sample-source', 'memory'].map((f) => `training/${f}.ts`),
    tests: [...['config', 'source', 'evaluate', 'evaluate-rates', 'checkpoint-files', 'rundir', 'memory'].map((f) => `test/training/${f}.test.ts`), 'test/paper-defaults.test.ts', 'test/network/checkpoint.test.ts', 'test/nir/checkpoint.test.ts'],
    ignoreStatic: false,
  },
  // what training/ draws: progress lines, charts and plots, against their in-process tests (static mutants too)
  'training-output': {
    mutate: ['progress', 'charts', 'plot', 'plot-data', 'plot-confusion'].map((f) => `training/${f}.ts`),
    tests: ['test/training/output-*.test.ts', 'test/training/plot.test.ts'],
    ignoreStatic: false,
  },
};

const asked = process.argv.slice(2);
for (const g of asked) if (!(g in GROUPS)) throw new Error(`unknown group '${g}' (groups: ${Object.keys(GROUPS).join(', ')})`);
const run = asked.length ? asked : Object.keys(GROUPS);
for (const group of run) {
  const { tests, ignoreStatic, fresh } = GROUPS[group];
  const mutate = typeof GROUPS[group].mutate === 'function' ? GROUPS[group].mutate() : GROUPS[group].mutate;
  console.log(`\n== mutation testing: ${group} (${mutate.length > 4 ? `${mutate.length} ranges` : mutate.join(', ')}) ==`);
  const env = { ...process.env, PLIF_MUTATE_GROUP: group, PLIF_MUTATE_TESTS: tests.join(',') };
  if (ignoreStatic !== undefined) env.STRYKER_IGNORE_STATIC = ignoreStatic ? '1' : '';
  if (fresh) env.STRYKER_FRESH = '1';
  const r = spawnSync('npx', ['stryker', 'run', '--mutate', mutate.join(',')], { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const reports = Object.keys(GROUPS)
  .map((g) => `.stryker-tmp/reports/${g}.json`)
  .filter((p) => existsSync(p));
spawnSync('node', ['scripts/mutation-scores.mjs', ...reports], { stdio: 'inherit' });
