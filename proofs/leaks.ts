// Device memory over training: the checked training step that plif train and the page run (forward, loss,
// backward, Adam, the divergence check, one readback) leaves the live tensor count, and on a backend that
// counts them its live textures or device buffers, where they were after the first step. Run on the gpu.js
// modes in Node (test/gpujs) and inside the conformance page on webgpu and WebGL.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../core/backend.js';
import { Network, networkConfig } from '../core/network/network.js';
import { createAdam, disposeAdam } from '../core/network/train.js';
import { Rng } from '../core/rng.js';
import { checkedTrainStep } from '../training/recipe.js';

type Counting = Backend & { liveTextures?(): number; flush?(): Promise<void> };

/** deviceResident: the backend keeps tensors in device memory it counts (liveTextures grows with the network). */
export function leakSuite(name: string, factory: () => Counting, steps = 30, deviceResident = true): void {
  describe(`device memory over training: ${name}`, () => {
    it(`${steps} checked training steps keep the live tensor and device texture/buffer counts constant`, async () => {
      const b = factory();
      await b.flush?.(); // what earlier tests dropped is freed before the counts are taken
      const cfg = networkConfig('c2k3s1-BN-PLIF-MPk2s2-DP-FC20-LIF-APk10s10', [1, 4, 4], 2, { T: 2 });
      const tensors0 = b.liveTensors();
      const textures0 = b.liveTextures?.() ?? 0;
      const net = new Network(b, cfg, Rng.seeded(2));
      const opt = createAdam(net);
      const rng = Rng.seeded(4);
      const batch = { x: Float32Array.from({ length: 2 * 16 }, () => rng.range(-1, 2)), labels: Int32Array.of(0, 1) };
      const step = async () => {
        const r = await checkedTrainStep(net, opt, batch, rng, 1e-3);
        expect(r.ok, 'the step did not diverge').toBe(true);
        await b.flush?.(); // a deferred backend frees what the step dropped once its queue has run
      };
      await step();
      const tensors1 = b.liveTensors();
      const textures1 = b.liveTextures?.() ?? 0;
      expect(tensors1, 'parameters and Adam moments are live tensors').toBeGreaterThan(tensors0);
      if (deviceResident) expect(textures1, 'they are resident on the device').toBeGreaterThan(textures0);
      for (let s = 1; s < steps; s++) {
        await step();
        expect(b.liveTensors(), `tensors after step ${s + 1}`).toBe(tensors1);
        if (b.liveTextures) expect(b.liveTextures(), `textures/buffers after step ${s + 1}`).toBe(textures1);
      }
      disposeAdam(b, opt);
      net.dispose();
      await b.flush?.();
      expect(b.liveTensors()).toBe(tensors0);
      if (b.liveTextures) expect(b.liveTextures()).toBe(textures0);
    });
  });
}
