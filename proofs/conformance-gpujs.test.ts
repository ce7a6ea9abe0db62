// The CPU backend's conformance suite (every op forward/backward and whole training steps of random
// networks against the float64 reference), unchanged, on gpu.js modes cpu, webasm and headlessgl.
import { describe, it } from 'vitest';
import { conformanceSuite } from './conformance.js';
import { GpujsBackend } from '../backends/gpujs/backend.js';
import { loadGpujs } from '../backends/gpujs/modes.js';
import { modeEnv, mustRun } from '../test/gpujs/env.js';

for (const mode of ['cpu', 'webasm', 'headlessgl'] as const) {
  const env = await modeEnv(mode);
  if (env.backend) {
    const b = env.backend;
    // the shared backend, and for the destroy test one of its own
    conformanceSuite(`gpujs:${mode} (${b.info.renderer})`, () => b, async () => new GpujsBackend(await loadGpujs(), mode));
  } else if (mustRun(mode)) {
    describe(`backend conformance: gpujs:${mode}`, () => {
      it('has its mode (PLIF_REQUIRE_GL=1)', () => {
        throw new Error(`gpu.js mode ${mode} is required but unavailable: ${env.why}`);
      });
    });
  } else {
    console.warn(`skipping gpujs:${mode} conformance: ${env.why}`);
    describe.skip(`backend conformance: gpujs:${mode} (skipped: ${env.why})`, () => {
      it('needs the mode', () => {});
    });
  }
}
