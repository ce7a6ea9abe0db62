// bench/gpu-check.sh, as a user with a GPU runs it, here on a machine without one: it finishes, reports the
// adapter and renderer Chromium gives (software here, so only the small timing runs), the conformance and
// whole-step checks per mode, and why Node's gpujs:webgpu did not run.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { browserMissing, REQUIRE_BROWSER, ROOT } from './browser.js';

const missing = browserMissing();
/** The tests the conformance page runs on a gpu.js mode: those of the three proofs it imports. */
const declared = (file: string) => readFileSync(join(ROOT, 'proofs', file), 'utf8').match(/^ {4}(?:if \([^)]*\) )?it\(/gm)!.length; // `if (fresh) it(...)` counts: the page gives every suite a fresh backend
const pageTests = declared('conformance.ts') + declared('whole-step.ts') + declared('leaks.ts');
const suite = missing && !REQUIRE_BROWSER ? describe.skip : describe;

interface Bench {
  preset: string;
  batch: number;
  status: string;
  samples_per_s?: number;
  gpu_per_step?: { host_syncs: number };
}

suite('bench/gpu-check.sh', () => {
  it('reports the adapter, the gradient checks and samples/s per mode, within its 8 minutes', { timeout: 600_000 }, async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'plif-gpu-check-')), 'check.json');
    const t0 = Date.now();
    const { stdout } = await promisify(execFile)(join(ROOT, 'bench', 'gpu-check.sh'), [out], { timeout: 540_000 });
    expect(Date.now() - t0).toBeLessThan(480_000);
    expect(stdout).toMatch(/^GPU: /);
    const r = JSON.parse(readFileSync(out, 'utf8')) as { gpu: string; browser: Record<string, { conformance: { status: string; backend: { renderer: string; software: boolean } | null; passed: number; failed: string[] }; bench: Bench[] }>; node: Record<string, unknown> };
    for (const mode of ['webgpu', 'webgl2']) {
      const m = r.browser[mode]!;
      expect(m.conformance.status, mode).toBe('done');
      expect(m.conformance.failed).toEqual([]);
      expect(m.conformance.passed).toBe(pageTests); // the conformance suite, the whole-step property, the device-memory check
      expect(m.bench.map((b) => `${b.preset}@${b.batch}`)).toEqual(['fmnist-small@16', 'fmnist-small@128', 'fashion-mnist@16', 'fashion-mnist@128']);
      const first = m.bench[0]!;
      expect(first.samples_per_s, `${mode} fmnist-small@16`).toBeGreaterThan(0);
      expect(first.gpu_per_step!.host_syncs).toBe(1);
      if (m.conformance.backend!.software) for (const b of m.bench.slice(1)) expect(b.status).toMatch(/^skipped: software adapter or renderer/);
    }
    // Node's WebGPU: measured where the `webgpu` package loads and finds a GPU, else the reason is recorded
    const node = Object.values(r.node)[0] as { error?: string } | unknown[];
    if (!Array.isArray(node)) expect(node.error).toMatch(/gpu\.js mode 'webgpu' is not available: /);
  });
});
