// Whole training steps on gpu.js against the CPU backend: parity of one seeded step (loss and the Adam
// update of every parameter) on a network with every layer type, loss going down over ten steps, and
// a constant number of live textures and tensors over 50 steps (nothing leaks, nothing is re-uploaded).
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import type { Backend } from '../../core/backend.js';
import { Network, networkConfig, type NetworkConfig } from '../../core/network/network.js';
import { createAdam, disposeAdam, trainStep } from '../../core/network/train.js';
import { Rng } from '../../core/rng.js';
import { leakSuite } from '../../proofs/leaks.js';
import { modeEnv, mustRun } from './env.js';

/** Conv, BN, PLIF/LIF/IF, max and avg pooling, dropout, FC and voting: every layer type. */
const EVERY_LAYER = 'c3k3s1-BN-PLIF-MPk2s2-c4k3s1-BN-LIF-APk2s2-DP-FC12-PLIF-DP-FC20-IF-APk10s10';
const EVERY_CFG = (): NetworkConfig => networkConfig(EVERY_LAYER, [1, 8, 8], 2, { T: 3, static: true, loss: 'rate', tau0: 3 });

function batch(cfg: NetworkConfig, N: number, seed: number) {
  const rng = Rng.seeded(seed);
  const per = cfg.input[0] * cfg.input[1] * cfg.input[2] * (cfg.static ? 1 : cfg.T);
  const x = new Float32Array(per * N);
  const labels = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    labels[n] = n % cfg.classes;
    // class-dependent images, so a few steps can learn them
    for (let i = 0; i < per; i++) x[n * per + i] = (labels[n] === 1 ? (i % per < per / 2 ? 1.5 : -0.5) : i % per < per / 2 ? -0.5 : 1.5) + 0.5 * rng.range(-1, 1);
  }
  return { x, labels };
}

/** One seeded training step: loss, parameters before and after, and the smallest |H - Vth| seen. */
async function oneStep(b: Backend, cfg: NetworkConfig, seed: number) {
  let margin = Infinity;
  const neuron: Backend['neuron'] = (c, x, a) => {
    const tr = b.neuron(c, x, a);
    for (const h of b.download(tr.h)) margin = Math.min(margin, Math.abs(h - c.vThreshold));
    return tr;
  };
  const probe = new Proxy(b, {
    get(target, key) {
      if (key === 'neuron') return neuron;
      const v: unknown = Reflect.get(target, key, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const net = new Network(probe, cfg, Rng.seeded(seed));
  const opt = createAdam(net);
  const before = net.params().map((p) => b.download(p.value));
  const r = await trainStep(net, opt, batch(cfg, 4, seed + 1), Rng.seeded(seed + 2));
  const after = net.params().map((p) => b.download(p.value));
  const names = net.params().map((p) => p.name);
  disposeAdam(b, opt);
  net.dispose();
  return { loss: r.loss, before, after, names, margin };
}

for (const mode of ['cpu', 'webasm', 'headlessgl'] as const) {
  const env = await modeEnv(mode);
  const d = env.backend ? describe : describe.skip;
  describe(`gpujs:${mode} training`, () => {
    if (!env.backend) {
      if (mustRun(mode)) it('has its mode (PLIF_REQUIRE_GL=1)', () => expect.fail(`gpu.js mode ${mode} is required: ${env.why}`));
      else console.warn(`skipping gpujs:${mode} training tests: ${env.why}`);
    }
    d('steps', () => {
      it('one seeded step equals the CPU backend: loss (rel 1e-4) and every parameter update (rel 1e-3)', async () => {
        const b = env.backend!;
        const cfg = EVERY_CFG();
        // pick the first seed whose potentials stay clear of the threshold (a float32 difference could flip a spike)
        let seed = 1;
        let want = await oneStep(cpuBackend(), cfg, seed);
        while (want.margin < 1e-3) want = await oneStep(cpuBackend(), cfg, ++seed);
        const got = await oneStep(b, cfg, seed);
        expect(got.names).toEqual(want.names);
        expect(Math.abs(got.loss - want.loss), `loss ${got.loss} vs cpu ${want.loss}`).toBeLessThanOrEqual(1e-4 * Math.abs(want.loss));
        let moved = 0;
        for (let i = 0; i < want.names.length; i++) {
          const wb = want.before[i]!;
          const gb = got.before[i]!;
          for (let j = 0; j < wb.length; j++) expect(gb[j], `${want.names[i]} initial value`).toBe(wb[j]);
          const wa = want.after[i]!;
          const ga = got.after[i]!;
          let scale = 0;
          for (let j = 0; j < wa.length; j++) scale = Math.max(scale, Math.abs(wa[j]! - wb[j]!));
          for (let j = 0; j < wa.length; j++) {
            const du = wa[j]! - wb[j]!;
            const dg = ga[j]! - gb[j]!;
            if (du !== 0) moved++;
            // relative 1e-3 of the update; float32 parameters resolve updates only to ulp(p), hence the 2 ulp term
            const ulp = Math.abs(wb[j]!) * 2 ** -23;
            expect(Math.abs(dg - du), `${want.names[i]}[${j}] update ${dg} vs cpu ${du}`).toBeLessThanOrEqual(1e-3 * Math.max(Math.abs(du), 1e-3 * scale) + 2 * ulp);
          }
        }
        expect(moved, 'the step moved parameters').toBeGreaterThan(0);
      });

      it('ten training steps reduce the loss, as on the CPU backend', async () => {
        const cfg = networkConfig('c4k3s1-BN-PLIF-MPk2s2-DP-FC20-PLIF-APk10s10', [1, 6, 6], 2, { T: 4 });
        const run = async (b: Backend) => {
          const net = new Network(b, cfg, Rng.seeded(7));
          const opt = createAdam(net, { lr: 1e-2 });
          const data = batch(cfg, 8, 3);
          const rng = Rng.seeded(9);
          const losses: number[] = [];
          for (let s = 0; s < 10; s++) losses.push((await trainStep(net, opt, data, rng)).loss);
          disposeAdam(b, opt);
          net.dispose();
          return losses;
        };
        const cpu = await run(cpuBackend());
        const gpu = await run(env.backend!);
        expect(cpu.at(-1)!).toBeLessThan(0.8 * cpu[0]!);
        expect(gpu.at(-1)!, `gpujs losses ${gpu.map((l) => l.toFixed(4)).join(' ')}`).toBeLessThan(0.8 * gpu[0]!);
      });
    });
    if (env.backend) leakSuite(`gpujs:${mode}`, () => env.backend!, 50, mode === 'headlessgl');
  });
}
