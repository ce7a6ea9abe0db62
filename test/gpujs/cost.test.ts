// The GPU cost of the training step plif train runs (checkedTrainStep), counted by the gpu.js backend: per step
// only the batch, its labels and the host-drawn dropout masks go up, and one small result comes back with one
// host sync (the output, two health counts and the PLIF parameters). The page's WebGPU counts are checked
// against the same numbers in test/browser/page.test.ts.
import { describe, expect, it } from 'vitest';
import { benchConfig, timeTrainSteps } from '../../bench/step-timing.js';
import { modeEnv, mustRun } from './env.js';
import { expectedTransfers } from './transfers.js';

for (const mode of ['headlessgl', 'webasm'] as const) {
  const env = await modeEnv(mode);
  describe(`gpujs:${mode}: device work of a training step of fmnist-small, batch 16`, () => {
    if (!env.backend) {
      if (mustRun(mode)) it('has its mode (PLIF_REQUIRE_GL=1)', () => expect.fail(`gpu.js mode ${mode} is required: ${env.why}`));
      return;
    }
    it('uploads only the batch, labels and dropout masks; reads back at most 4 KiB with one host sync', async () => {
      const spec = { preset: 'fmnist-small', batch: 16, steps: 2, warmup: 1, seed: 0 };
      const cfg = benchConfig(spec);
      const t = await timeTrainSteps(env.backend!, cfg, spec);
      const g = t.gpu_per_step!;
      const want = expectedTransfers(cfg, 16);
      expect(g.upload_bytes).toBe(want.up);
      // cpu/webasm keep tensors in host memory: nothing is read back from a device there
      expect(g.download_bytes).toBe(mode === 'headlessgl' ? want.down : 0);
      expect(g.download_bytes).toBeLessThanOrEqual(4096);
      expect(g.host_syncs).toBe(mode === 'headlessgl' ? 1 : 0);
      expect(g.dispatches).toBeGreaterThan(50); // every op is a kernel: the count is real
    });
  });
}
