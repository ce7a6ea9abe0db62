// The conformance page: runs the library's backend conformance suite (proofs/conformance.ts, unchanged, on the
// vitest harness of shims/vitest.ts) on a backend of this browser, and on the gpu.js modes also the whole-step
// gradient property (proofs/whole-step.ts) and the device-memory check over training (proofs/leaks.ts). #backend holds the backend's JSON,
// #results one JSON line per test ({suite, name, ok, ms, error}), #status running, then done or error.
// The whole of core/ imports in a browser: the build fails on any Node import it reaches (vite.config.ts).
import '../core/index.js';
import { conformanceSuite } from '../proofs/conformance.js';
import { leakSuite } from '../proofs/leaks.js';
import { wholeStepSuite } from '../proofs/whole-step.js';
import { defaultBackend, openPageBackend } from './backends.js';
import { runCollected } from './shims/vitest.js';

const $ = (id: string) => document.getElementById(id)!;

async function main(): Promise<void> {
  const spec = new URLSearchParams(location.search).get('backend') ?? (await defaultBackend()).backend;
  $('status').textContent = 'running';
  const opened = await openPageBackend(spec);
  $('backend').textContent = JSON.stringify(opened.info);
  const label = `${spec} (${opened.info.renderer})`;
  conformanceSuite(label, () => opened.backend, async () => (await openPageBackend(spec)).backend);
  // the whole-step gradient property and the leak check, as every backend passes them in Node
  if (spec !== 'cpu') {
    wholeStepSuite(label, () => opened.backend, 15);
    leakSuite(label, () => opened.backend);
  }
  const results = await runCollected((r) => {
    $('results').textContent += JSON.stringify(r) + '\n';
  });
  opened.close();
  const failed = results.filter((r) => !r.ok);
  $('status').textContent = failed.length ? `error: ${failed.length} of ${results.length} tests failed` : 'done';
}

main().catch((e: Error) => {
  $('status').textContent = `error: ${e.message}`;
});
