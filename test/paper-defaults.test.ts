// The paper's defaults (Sec. 4, Supplementary 5), pinned where a user gets them: the config `plif train`
// builds from its flags with nothing but --preset, the network and optimiser a run makes of it, core's
// default neuron and network options, the schedule, Table S1's dropout and the help text. Each value is
// written out here, not read from core/defaults.ts, so that a changed default fails.
import { describe, expect, it } from 'vitest';
import { parseFlags } from '../cli/args.js';
import { run as train, TRAIN_FLAGS, trainSettings } from '../cli/commands/train.js';
import { PAPER_DEFAULTS } from '../core/defaults.js';
import { neuronConfig } from '../core/neuron.js';
import { adamConfig, cosineAnnealingLr } from '../core/optim.js';
import { networkConfig, presetConfig } from '../core/network/network.js';
import { parseStructure } from '../core/network/parser.js';
import { PRESETS } from '../core/network/presets.js';
import { createAdam, epochLr } from '../core/network/train.js';
import { Network } from '../core/network/network.js';
import { Rng } from '../core/rng.js';
import { referenceBackend } from '../reference/ops-backend.js';
import { trainConfig } from '../training/config.js';
import { trainNetworkConfig } from '../training/recipe.js';
import { capture } from './capture.js';

const PAPER_PRESETS = ['mnist', 'fashion-mnist', 'cifar10', 'nmnist', 'cifar10dvs', 'dvs128'];
const NEURON = { detachReset: true, vThreshold: 1, vReset: 0, surrogate: { name: 'atan', alpha: 2 } };

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
