// The paper's defaults (Sec. 4, Supplementary 2 and 6), pinned where a user gets them: the config `plif
// train` builds from its flags with nothing but --preset, the network and optimiser a run makes of it (its
// neuron layers, its Adam steps against Adam worked by hand), core's default objects (the table, the neuron,
// the network options, Adam's settings), the schedule, Table S1's structures and dropout, Table 3's T and
// the help text. Each value is written out here, not read from core/defaults.ts, so that a changed default
// fails.
import { describe, expect, it } from 'vitest';
import { parseFlags } from '../cli/args.js';
import { run as train, TRAIN_FLAGS, trainSettings } from '../cli/commands/train.js';
import { PAPER_DEFAULTS } from '../core/defaults.js';
import { DEFAULT_NEURON, neuronConfig, type NeuronConfig } from '../core/neuron.js';
import { adamConfig, cosineAnnealingLr, DEFAULT_ADAM } from '../core/optim.js';
import { DEFAULT_NETWORK_OPTIONS, networkConfig, presetConfig } from '../core/network/network.js';
import { NeuronLayer } from '../core/network/layers.js';
import type { Backend, Tensor } from '../core/backend.js';
import { cpuBackend } from '../backends/cpu/index.js';
import { parseStructure } from '../core/network/parser.js';
import { PRESETS } from '../core/network/presets.js';
import { adamUpdate, createAdam, epochLr } from '../core/network/train.js';
import { Network } from '../core/network/network.js';
import { Rng } from '../core/rng.js';
import { referenceBackend } from '../reference/ops-backend.js';
import { trainConfig } from '../training/config.js';
import { trainNetworkConfig } from '../training/recipe.js';
import { capture } from './capture.js';

const PAPER_PRESETS = ['mnist', 'fashion-mnist', 'cifar10', 'nmnist', 'cifar10dvs', 'dvs128'];
const NEURON = { detachReset: true, vThreshold: 1, vReset: 0, surrogate: { name: 'atan', alpha: 2 } };
/** Table 3: T per dataset. */
const PAPER_T: Record<string, number> = { mnist: 8, 'fashion-mnist': 8, cifar10: 8, nmnist: 10, cifar10dvs: 20, dvs128: 20 };
/** Table S1 (*MNIST: MNIST, Fashion-MNIST and N-MNIST). */
const MNIST_S1 = '{c128k3s1-BN-PLIF-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10';
const TABLE_S1: Record<string, string> = {
  mnist: MNIST_S1,
  'fashion-mnist': MNIST_S1,
  nmnist: MNIST_S1,
  cifar10: '{{c256k3s1-BN-PLIF}*3-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10',
  cifar10dvs: '{c128k3s1-BN-PLIF-MPk2s2}*4-DP-FC512-PLIF-DP-FC100-PLIF-APk10s10',
  dvs128: '{c128k3s1-BN-PLIF-MPk2s2}*5-DP-FC512-PLIF-DP-FC110-PLIF-APk10s10',
};

/** A neuron layer as the paper has it: PLIF, tau0 = 2 (Eq. 6: H = V + k(a)(X - (V - Vr))), Vth 1, Vr 0, reset detached, sigma'(x) = 1 / (1 + (pi x)^2). */
function expectPaperNeuron(cfg: NeuronConfig, where: string): void {
  expect({ kind: cfg.kind, tau: cfg.tau, vThreshold: cfg.vThreshold, vReset: cfg.vReset, decayInput: cfg.decayInput, detachReset: cfg.detachReset }, where).toEqual({ kind: 'plif', tau: 2, vThreshold: 1, vReset: 0, decayInput: true, detachReset: true });
  for (const x of [-1, -0.3, 0, 0.25, 2]) expect(cfg.surrogate.grad(x), `${where}: sigma'(${x})`).toBeCloseTo(1 / (1 + (Math.PI * x) ** 2), 14);
}

/**
 * Adam as torch.optim.Adam and Kingma & Ba's Algorithm 1 write it, in float64, with the paper's constants
 * (lr 1e-3, betas 0.9 / 0.999, eps 1e-8) written out: the parameters after each of the steps t = 1, 2, ...
 */
function adamByHand(p0: readonly number[], grads: readonly (readonly number[])[]): number[][] {
  const m = p0.map(() => 0);
  const v = p0.map(() => 0);
  let p = [...p0];
  return grads.map((g, k) => {
    const t = k + 1;
    p = p.map((pi, i) => {
      m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * g[i]! * g[i]!;
      const mHat = m[i]! / (1 - 0.9 ** t);
      const vHat = v[i]! / (1 - 0.999 ** t);
      return pi - (1e-3 * mHat) / (Math.sqrt(vHat) + 1e-8);
    });
    return p;
  });
}

/** Gradients that change sign and size from step to step (one is 0 at step 2). */
const gradAt = (t: number, n: number, salt: number) => Array.from({ length: n }, (_, i) => (t === 2 && i === 0 ? 0 : Math.sin(7.1 * (i + 1) * t + salt) * (i % 3 === 1 ? 0.01 : 0.8)));

function expectClose(got: ArrayLike<number>, want: readonly number[], where: string): void {
  expect(got.length, where).toBe(want.length);
  for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i]! - want[i]!) <= 2e-7 * Math.max(1, Math.abs(want[i]!)))) expect.fail(`${where} [${i}]: ${got[i]}, by hand ${want[i]}`);
}

/** The config of `plif train --preset NAME`, through the command's own flag parsing. */
function cliConfig(preset: string) {
  const { values } = parseFlags(['--preset', preset], TRAIN_FLAGS);
  return trainConfig(trainSettings({ ...values, preset }));
}

describe("the paper's defaults", () => {
  it('the presets of the paper are the ones checked here', () => {
    expect(Object.keys(PRESETS).filter((p) => p !== 'fmnist-small').sort()).toEqual([...PAPER_PRESETS].sort());
  });

  it.each(PAPER_PRESETS)('plif train --preset %s: the run config and the network it builds', (preset) => {
    const c = cliConfig(preset);
    expect(c).toMatchObject({ ...NEURON, tau0: 2, lr: 1e-3, batch: 16, tMax: 64 });
    expect(c.surrogate).toEqual({ name: 'atan', alpha: 2 });
    expect(trainNetworkConfig(c)).toMatchObject({ ...NEURON, tau0: 2, decayInput: true });
  });

  it('the optimiser a run makes: Adam lr 1e-3, betas 0.9 / 0.999, eps 1e-8', () => {
    const c = cliConfig('fmnist-small');
    const net = new Network(referenceBackend(), networkConfig('FC2-PLIF', [1, 2, 2], 2, { T: 2 }), Rng.seeded(0));
    expect(createAdam(net, { lr: c.lr }).config).toEqual({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    expect(createAdam(net).config).toEqual({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    expect(adamConfig()).toEqual({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
    net.dispose();
  });

  it('Adam by hand: a constant gradient moves a parameter by lr per step (the bias corrections make m^ = g, v^ = g^2)', () => {
    const steps = adamByHand([1], [[0.5], [0.5], [0.5]]).map((p) => p[0]!);
    const move = (1e-3 * 0.5) / (0.5 + 1e-8);
    steps.forEach((p, k) => expect(p).toBeCloseTo(1 - (k + 1) * move, 15));
    // a bias correction one step ahead would move it by less at first: 1e-3 (1 - 0.9) / (1 - 0.9^2) / sqrt((1 - 0.999) / (1 - 0.999^2))
    expect(Math.abs(1 - steps[0]! - (1e-3 * (0.1 / 0.19)) / Math.sqrt(0.001 / (1 - 0.999 ** 2)))).toBeGreaterThan(2e-4);
  });

  it.each([
    ['the CPU backend', () => cpuBackend()],
    ['the float64 reference', () => referenceBackend()],
  ] as const)('the optimiser a run makes, on %s: three Adam steps of a network equal Adam by hand', (_name, make) => {
    const b: Backend = make();
    const net = new Network(b, networkConfig('c2k3s1-BN-PLIF-FC3-PLIF', [1, 3, 3], 3, { T: 2 }), Rng.seeded(4));
    const s = createAdam(net); // the paper's settings, as the engine makes it
    const ps = net.params();
    expect(ps.map((p) => p.kind).sort()).toEqual(['a', 'a', 'beta', 'gamma', 'weight', 'weight']);
    const p0 = ps.map((p) => Array.from(b.download(p.value)));
    const grads = ps.map((p, j) => [1, 2, 3].map((t) => gradAt(t, p.value.size, j)));
    const want = ps.map((_p, j) => adamByHand(p0[j]!, grads[j]!));
    for (let t = 1; t <= 3; t++) {
      ps.forEach((p, j) => {
        if (p.grad) b.dispose(p.grad);
        p.grad = b.upload(grads[j]![t - 1]!, p.value.shape);
      });
      adamUpdate(net, s);
      expect(s.step).toBe(t);
      ps.forEach((p, j) => expectClose(b.download(p.value), want[j]![t - 1]!, `${p.name} after step ${t}`));
    }
    net.dispose();
  });

  it("the CPU backend's Adam op at steps 1, 2 and 3 equals Adam by hand", () => {
    const b = cpuBackend({ simd: false });
    const p0 = [0.5, -1, 2, 0.03];
    const grads = [1, 2, 3].map((t) => gradAt(t, 4, 9));
    const want = adamByHand(p0, grads);
    const [param, m, v] = [p0, [0, 0, 0, 0], [0, 0, 0, 0]].map((a) => b.upload(a, [4])) as [Tensor, Tensor, Tensor];
    for (let t = 1; t <= 3; t++) {
      b.adam(param, b.upload(grads[t - 1]!, [4]), m, v, { ...DEFAULT_ADAM, step: t });
      expectClose(b.download(param), want[t - 1]!, `step ${t}`);
    }
  });

  it('cosine annealing over T_max = 64 epochs: half the rate at 32, none at 64, in both schedule functions', () => {
    expect(cosineAnnealingLr(1, 32)).toBeCloseTo(0.5, 15);
    expect(cosineAnnealingLr(1, 64)).toBeCloseTo(0, 15);
    expect(cosineAnnealingLr(1, 63)).toBeGreaterThan(0);
    const s = { config: adamConfig() } as Parameters<typeof epochLr>[0];
    expect(epochLr(s, 32)).toBeCloseTo(5e-4, 15);
    expect(epochLr(s, 64)).toBeCloseTo(0, 15);
  });

  it("core's default neuron and network options", () => {
    const n = neuronConfig();
    expect(n).toMatchObject({ kind: 'plif', tau: 2, vThreshold: 1, vReset: 0, detachReset: true, decayInput: true });
    expect({ name: n.surrogate.name, alpha: n.surrogate.alpha }).toEqual({ name: 'atan', alpha: 2 });
    for (const cfg of [presetConfig('mnist'), networkConfig('FC2-PLIF', [1, 2, 2], 2)]) expect(cfg).toMatchObject({ ...NEURON, tau0: 2, decayInput: true });
  });

  it("core's default objects: the neuron, the network options, Adam's settings", () => {
    expectPaperNeuron(DEFAULT_NEURON, 'DEFAULT_NEURON');
    expect(DEFAULT_NETWORK_OPTIONS).toMatchObject({ ...NEURON, tau0: 2, decayInput: true, neuronKind: null, loss: 'rate', encoder: 'direct' });
    expect(DEFAULT_ADAM).toEqual({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8 });
  });

  it('every neuron layer of the network a run builds, and of a network built with the default options, is the paper\'s; its a starts at 0 (k(a) = 1/2 = 1/tau0)', () => {
    const b = referenceBackend();
    const built = [
      ['plif train --preset fmnist-small', new Network(b, trainNetworkConfig(cliConfig('fmnist-small')), Rng.seeded(1)), 4],
      ['networkConfig with the default options', new Network(b, networkConfig('c4k3s1-BN-PLIF-MPk2s2-DP-FC20-PLIF-DP-FC10-PLIF-APk10s10', [1, 8, 8], 1), Rng.seeded(1)), 3],
    ] as const;
    for (const [where, net, count] of built) {
      const neurons = net.layers.filter((l): l is NeuronLayer => l instanceof NeuronLayer);
      expect(neurons.length, where).toBe(count);
      for (const l of neurons) {
        expectPaperNeuron(l.cfg, `${where}, layer ${l.index}`);
        expect(l.a!.shape, `${where}, layer ${l.index}`).toEqual([1]);
        expect(b.download(l.a!)[0], `${where}, layer ${l.index}`).toBeCloseTo(0, 15); // a0 = -ln(tau0 - 1)
      }
      net.dispose();
    }
  });

  it.each(PAPER_PRESETS)('plif train --preset %s: Table S1\'s network, Table 3\'s T', (preset) => {
    const c = cliConfig(preset);
    expect(c.T).toBe(PAPER_T[preset]);
    expect(PRESETS[preset]!.structure).toBe(TABLE_S1[preset]);
    expect(trainNetworkConfig(c)).toMatchObject({ structure: TABLE_S1[preset], T: PAPER_T[preset], classes: preset === 'dvs128' ? 11 : 10 });
  });

  it("dropout p = 0.5 in every DP layer of the paper presets (Table S1 writes no p: the parser's default)", () => {
    for (const preset of PAPER_PRESETS) {
      const drops = parseStructure(PRESETS[preset]!.structure).filter((l) => l.kind === 'dropout');
      expect(drops.length, preset).toBe(2);
      for (const d of drops) expect(d).toEqual({ kind: 'dropout', p: 0.5 });
    }
  });

  it('plif train --help states them', async () => {
    const r = await capture(() => train(['--help']));
    expect(r.code).toBe(0);
    for (const text of ['batch size (16)', 'Adam learning rate (0.001), cosine annealing with T_max 64 per epoch', 'fixed tau of LIF (2)', 'default atan:2', 'V_th (1)', 'V_reset (0;', 'default: detached, as the paper']) {
      expect(r.out).toContain(text);
    }
  });

  it('the table holds the same values', () => {
    expect(PAPER_DEFAULTS).toEqual({ ...NEURON, tau0: 2, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, tMax: 64, batch: 16, dropout: 0.5 });
  });
});
