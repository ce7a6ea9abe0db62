// The whole-step property of whole-step.ts on the gpu.js modes cpu, webasm and headlessgl (float32).
import { describe, it } from 'vitest';
import { modeEnv, mustRun } from '../test/gpujs/env.js';
import { wholeStepSuite } from './whole-step.js';

for (const mode of ['cpu', 'webasm', 'headlessgl'] as const) {
  const env = await modeEnv(mode);
  if (env.backend) {
    const b = env.backend;
    wholeStepSuite(`gpujs:${mode}`, () => b, 15);
  } else if (mustRun(mode)) {
    describe(`whole training step: gpujs:${mode}`, () => {
      it('has its mode (PLIF_REQUIRE_GL=1)', () => {
        throw new Error(`gpu.js mode ${mode} is required but unavailable: ${env.why}`);
      });
    });
  } else {
    describe.skip(`whole training step: gpujs:${mode} (skipped: ${env.why})`, () => {
      it('needs the mode', () => {});
    });
  }
}
