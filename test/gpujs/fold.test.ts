// BN folded into the convolutions on the gpu.js backend: the folded conv's output (conv with s w, then the
// bias added through eval-mode batchNorm with mean 0, variance 0, eps 1) equals BN(conv(x, w)) there too.
import { describe, expect, it } from 'vitest';
import type { Tensor } from '../../core/backend.js';
import { foldBatchNorm } from '../../core/network/fold.js';
import type { Layer } from '../../core/network/layers.js';
import { buildNetwork, networkConfig, type Network } from '../../core/network/network.js';
import { Rng } from '../../core/rng.js';
import { modeEnv, mustRun } from './env.js';

for (const mode of ['headlessgl', 'cpu'] as const) {
  const env = await modeEnv(mode);
  const run = env.backend || mustRun(mode) ? describe : describe.skip;
  run(`fold-bn on gpu.js ${mode}`, () => {
    it('conv + BN folded gives the unfolded BN output (float32) and the same voted output', () => {
      if (!env.backend) throw new Error(env.why ?? `gpu.js ${mode} unavailable`);
      const b = env.backend;
      const cfg = networkConfig('c4k3s1-BN-PLIF-MPk2s2-FC20-PLIF-APk10s10', [2, 6, 6], 2, { T: 2 });
      const make = () => {
        const net = buildNetwork(b, cfg, Rng.seeded(3));
        const rng = Rng.seeded(4);
        for (const slot of [...net.params().filter((p) => p.kind === 'gamma' || p.kind === 'beta'), ...net.buffers()]) {
          const v = Float32Array.from({ length: slot.value.size }, () => (slot.name.endsWith('running_var') ? rng.range(0.05, 3) : slot.name.endsWith('gamma') ? rng.range(0.3, 2) : rng.range(-1, 1)));
          b.dispose(slot.value);
          slot.value = b.upload(v, [v.length]);
        }
        return net;
      };
      const x = Float32Array.from({ length: 3 * 72 }, (_, i) => Math.sin(i * 0.37) * 2);
      const grab = (net: Network) => {
        let bn: number[] = [];
        const xt = b.upload(x, net.inputShape(3));
        const observe = (l: Layer, out: Tensor) => void (l.index === 1 && (bn = Array.from(b.download(out))));
        const y = Array.from(b.download(net.forward(xt, { training: false, rng: null, observe })));
        net.release();
        b.dispose(xt);
        return { bn, y };
      };
      const plain = make();
      const folded = make();
      foldBatchNorm(folded);
      const p = grab(plain);
      const f = grab(folded);
      expect(f.bn.length).toBe(p.bn.length);
      p.bn.forEach((v, i) => expect(Math.abs(f.bn[i]! - v)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
      expect(f.y).toEqual(p.y);
      plain.dispose();
      folded.dispose();
    });
  });
}
