// Mutation testing (opt-in: `npm run mutate`, not part of npm test). Incremental: the result of every
// mutant is kept in .stryker-tmp/incremental.json and a rerun tests only mutants whose code or tests
// changed. Reports: .stryker-tmp/reports/mutation.{html,json}; scores per folder in docs/mutation.md.
// PLIF_MUTATE_GROUP names the run (scripts/mutate.mjs runs one per folder): each keeps its own
// incremental file and report, so measuring one folder does not drop another's results.
const group = process.env.PLIF_MUTATE_GROUP ?? 'all';

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts', related: false },
  // STRYKER_NO_CHECK=1: no type checker (faster; mutants that would not compile are run by the tests too)
  checkers: process.env.STRYKER_NO_CHECK ? [] : ['typescript'],
  // STRYKER_IGNORE_STATIC=1: leave out mutants of code run at import (each needs the whole test set)
  ignoreStatic: Boolean(process.env.STRYKER_IGNORE_STATIC),
  tsconfigFile: 'tsconfig.json',
  disableTypeChecks: '{core/**/*,reference/**/*,training/**/*,backends/cpu/*}.ts',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [
    'core/**/*.ts',
    'reference/**/*.ts',
    'backends/cpu/**/*.ts',
    'training/loop.ts',
    'training/engine.ts',
    'training/recipe.ts',
    '!backends/cpu/wasm/assembly/**',
    '!**/*.d.ts',
  ],
  ignorePatterns: ['runs', '.plif-cache'],
  coverageAnalysis: 'perTest',
  // STRYKER_FRESH=1: test every mutant again (core-static: Stryker reuses a static mutant's result even
  // after tests were added, since no test is listed as covering it)
  incremental: !process.env.STRYKER_FRESH,
  incrementalFile: `.stryker-tmp/incremental-${group}.json`,
  concurrency: Number(process.env.STRYKER_CONCURRENCY ?? 2),
  timeoutMS: Number(process.env.STRYKER_TIMEOUT_MS ?? 5_000),
  // the first run records which test covers which mutant with every line instrumented: slow
  dryRunTimeoutMinutes: 60,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `.stryker-tmp/reports/${group}.html` },
  jsonReporter: { fileName: `.stryker-tmp/reports/${group}.json` },
  cleanTempDir: 'always',
};
