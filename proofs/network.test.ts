// Whole-network properties: the static encoder computed once equals feeding the image at every step;
// a seeded CPU run is bitwise reproducible; no tensor leaks; a network learns a tiny synthetic task.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../backends/cpu/index.js';
import type { Backend } from '../core/backend.js';
import { Network, buildNetwork, networkConfig, presetConfig } from '../core/network/network.js';
import { createAdam, lossAndGradients, predictBatch, trainStep } from '../core/network/train.js';
import { initialA, tauOf } from '../core/neuron.js';
import { Rng } from '../core/rng.js';
import { referenceBackend } from '../reference/ops-backend.js';
import { expectClose, structureArb } from './conformance.js';

function randInput(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.range(-2, 3));
}

describe('network', () => {
  it('static encoder once per sample = the same image fed at every step (loss, every gradient)', async () => {
    const ref = referenceBackend();
    await fc.assert(
      fc.asyncProperty(structureArb, fc.integer({ min: 0, max: 1e9 }), async (s, seed) => {
        const opts = { T: s.T, loss: s.loss, tau0: s.tau0 };
        const cs = networkConfig(s.structure, [s.inC, s.hw, s.hw], s.classes, { ...opts, static: true });
        const ce = networkConfig(s.structure, [s.inC, s.hw, s.hw], s.classes, { ...opts, static: false });
        const rng = Rng.seeded(seed);
        const per = s.inC * s.hw * s.hw;
        const x = randInput(rng, per * s.N);
        const xr = new Float32Array(x.length * s.T);
        for (let t = 0; t < s.T; t++) xr.set(x, t * x.length);
        const labels = Int32Array.from({ length: s.N }, () => rng.int(s.classes));
        const run = async (cfg: typeof cs, input: Float32Array) => {
          const net = new Network(ref, cfg, Rng.seeded(seed + 1));
          const r = await lossAndGradients(net, { x: input, labels }, Rng.seeded(seed + 2));
          const g = net.params().map((p) => ref.download(p.grad!));
          net.dispose();
          return { loss: r.loss, g };
        };
        const a = await run(cs, x);
        const b = await run(ce, xr);
        expect(Math.abs(a.loss - b.loss)).toBeLessThanOrEqual(1e-12);
        a.g.forEach((g, i) => expectClose(g, b.g[i]!, `${s.structure} param ${i}`, { rtol: 1e-9, atol: 1e-11 }));
      }),
      { numRuns: 40 },
    );
  });

  it('parameters: weights without bias, BN gamma/beta, one a per PLIF layer initialised at -ln(tau0 - 1)', () => {
    const b = cpuBackend();
    const net = buildNetwork(b, 'fmnist-small', Rng.seeded(1), { tau0: 3 });
    const names = net.params().map((p) => p.name);
    expect(names).toEqual(['0.weight', '1.gamma', '1.beta', '2.a', '4.weight', '5.gamma', '5.beta', '6.a', '9.weight', '10.a', '12.weight', '13.a']);
    const w0 = b.download(net.params()[0]!.value);
    expect(Math.max(...w0.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(9)); // U(+-1/sqrt(fan_in)), fan_in = 1*3*3
    expect(Math.max(...w0.map(Math.abs))).toBeGreaterThan(0.9 / Math.sqrt(9));
    const fcw = b.download(net.params()[8]!.value);
    expect(Math.max(...fcw.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(16 * 7 * 7));
    expect(b.download(net.params()[3]!.value)[0]).toBeCloseTo(initialA(3), 6);
    expect(net.taus().map((t) => t.tau)).toEqual([3, 3, 3, 3].map((t) => expect.closeTo(t, 5)));
    expect(tauOf(initialA(3))).toBeCloseTo(3, 12);
    const lif = buildNetwork(b, 'fmnist-small', Rng.seeded(1), { neuronKind: 'lif' });
    expect(lif.params().some((p) => p.kind === 'a')).toBe(false);
    expect(lif.describe().filter((l) => l.token === 'LIF')).toHaveLength(4);
    const avg = buildNetwork(b, 'fmnist-small', Rng.seeded(1), { pool: 'avg' });
    expect(avg.describe().map((l) => l.token)).toContain('APk2s2');
    expect(avg.describe().map((l) => l.token)).not.toContain('MPk2s2');
    expect(avg.describe().at(-1)!.token).toBe('APk10s10');
  });

  it('every preset of Table S1 builds with the right shapes and parameter counts', () => {
    const b = cpuBackend();
    const count = (name: string) => {
      const net = buildNetwork(b, name, Rng.seeded(0));
      const d = net.describe();
      net.dispose();
      return { total: d.reduce((s, l) => s + l.params, 0), out: d.at(-1)!.outShape, d };
    };
    // *MNIST: conv 1->128, conv 128->128, FC 128*7*7->2048, FC 2048->100; 2 BN (2*128 each); 4 PLIF a
    const mnist = count('mnist');
    expect(mnist.total).toBe(128 * 9 + 128 * 128 * 9 + 6272 * 2048 + 2048 * 100 + 4 * 128 + 4);
    expect(mnist.out).toEqual([10]);
    expect(mnist.d[8]!.inShape).toEqual([128, 7, 7]);
    const nm = count('nmnist');
    expect(nm.d[8]!.inShape).toEqual([128, 8, 8]); // 34 -> 17 -> 8
    const dvs = count('dvs128');
    expect(dvs.out).toEqual([11]);
    expect(dvs.d.find((l) => l.token === 'FC512')!.inShape).toEqual([128, 4, 4]);
    const c10dvs = count('cifar10dvs');
    expect(c10dvs.d.find((l) => l.token === 'FC512')!.inShape).toEqual([128, 8, 8]);
    expect(() => buildNetwork(b, networkConfig('c4k3s1-PLIF-FC30-PLIF-APk10s10', [1, 4, 4], 2), Rng.seeded(0))).toThrow(/expected \[2\]/);
    expect(() => buildNetwork(b, networkConfig('FC20-c4k3s1', [1, 4, 4], 2), Rng.seeded(0))).toThrow(/layer 1 \(c4k3s1\).*needs a \[C, H, W\] input/);
  });

  it('the CIFAR-10 preset builds (256 channels, nested blocks)', () => {
    const cfg = presetConfig('cifar10');
    expect(cfg.input).toEqual([3, 32, 32]);
    const b = cpuBackend();
    const net = buildNetwork(b, cfg, Rng.seeded(0));
    const d = net.describe();
    expect(d.filter((l) => l.token === 'c256k3s1')).toHaveLength(6);
    expect(d.find((l) => l.token === 'FC2048')!.inShape).toEqual([256, 8, 8]);
    net.dispose();
    expect(b.liveTensors()).toBe(0);
  });

  const tiny = (b: Backend, seed: number) => {
    const cfg = networkConfig('c4k3s1-BN-PLIF-MPk2s2-DP-FC20-PLIF-APk10s10', [1, 6, 6], 2, { T: 4 });
    return new Network(b, cfg, Rng.seeded(seed));
  };
  const task = (rng: Rng, N: number) => {
    const x = new Float32Array(N * 36);
    const labels = new Int32Array(N);
    for (let n = 0; n < N; n++) {
      labels[n] = rng.int(2);
      for (let i = 0; i < 36; i++) x[n * 36 + i] = ((i < 18) === (labels[n] === 1) ? 1 : 0) + 0.3 * rng.uniform();
    }
    return { x, labels };
  };

  it('a seeded CPU run is bitwise reproducible, and leaks no tensors', async () => {
    const run = async () => {
      const b = cpuBackend();
      const net = tiny(b, 5);
      const opt = createAdam(net);
      const rng = Rng.seeded(9);
      const losses: number[] = [];
      const live0 = b.liveTensors();
      for (let i = 0; i < 5; i++) {
        losses.push((await trainStep(net, opt, task(rng, 6), rng)).loss);
        expect(b.liveTensors()).toBe(live0);
      }
      return { losses, params: net.params().map((p) => Array.from(b.download(p.value))), state: rng.state() };
    };
    const a = await run();
    const c = await run();
    expect(c.losses).toEqual(a.losses);
    expect(c.params).toEqual(a.params);
    expect(c.state).toEqual(a.state);
  });

  it('trains on a tiny synthetic task: the loss goes down and the predictions become right', async () => {
    const b = cpuBackend();
    const net = tiny(b, 3);
    const opt = createAdam(net, { lr: 1e-2 });
    const rng = Rng.seeded(4);
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) losses.push((await trainStep(net, opt, task(rng, 8), rng)).loss);
    const first = losses.slice(0, 10).reduce((a, v) => a + v, 0) / 10;
    const last = losses.slice(-10).reduce((a, v) => a + v, 0) / 10;
    expect(last).toBeLessThan(0.5 * first);
    const test = task(Rng.seeded(77), 32);
    const p = await predictBatch(net, test.x, 32);
    let ok = 0;
    for (let i = 0; i < 32; i++) if (p[i] === test.labels[i]) ok++;
    expect(ok).toBeGreaterThanOrEqual(30);
  });
});
