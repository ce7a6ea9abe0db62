// trainConfig in process: what a run takes when a setting is not given, and every refusal with its message
// (the CLI tests see the same refusals through a child process, where no mutant of training/ can reach).
import { describe, expect, it } from 'vitest';
import { PAPER_DEFAULTS } from '../../core/defaults.js';
import { PRESETS } from '../../core/network/presets.js';
import { DEFAULT_EVAL_BATCH, datasetOfPreset, trainConfig, type TrainConfig } from '../../training/config.js';

describe('trainConfig', () => {
  it('fills what is not given: the recipe of the paper, one epoch, seed 0, no validation or limits', () => {
    const c = trainConfig({ preset: 'fmnist-small' });
    expect(c).toEqual({
      preset: 'fmnist-small',
      dataset: 'fashion-mnist',
      dataDir: null,
      T: PRESETS['fmnist-small']!.T,
      batch: PAPER_DEFAULTS.batch,
      epochs: 1,
      lr: PAPER_DEFAULTS.lr,
      neuron: null,
      tau0: PAPER_DEFAULTS.tau0,
      pool: null,
      poolTies: 'first',
      loss: 'rate',
      backend: 'cpu',
      seed: 0,
      val: 0,
      limitTrain: null,
      limitTest: null,
      evalBatch: DEFAULT_EVAL_BATCH,
      tMax: PAPER_DEFAULTS.tMax,
      channels: null,
      encoder: 'direct',
      structure: null,
      surrogate: PAPER_DEFAULTS.surrogate,
      vThreshold: PAPER_DEFAULTS.vThreshold,
      vReset: PAPER_DEFAULTS.vReset,
      detachReset: PAPER_DEFAULTS.detachReset,
    } satisfies Record<keyof TrainConfig, unknown>);
    expect(DEFAULT_EVAL_BATCH).toBe(64);
    // the surrogate is the run's own copy, not the defaults table
    expect(c.surrogate).not.toBe(PAPER_DEFAULTS.surrogate);
  });

  it('keeps what is given, and the name of the preset', () => {
    const c = trainConfig({ preset: 'mnist', T: 4, batch: 8, epochs: 3, lr: 0.01, seed: 5, val: 0.1, limitTrain: 100, limitTest: 50, evalBatch: 7, channels: 16, tMax: 10 });
    expect(c).toMatchObject({ preset: 'mnist', dataset: 'mnist', T: 4, batch: 8, epochs: 3, lr: 0.01, seed: 5, val: 0.1, limitTrain: 100, limitTest: 50, evalBatch: 7, channels: 16, tMax: 10 });
  });

  it('names the default dataset of each preset, and refuses a preset without one', () => {
    expect(datasetOfPreset('fmnist-small')).toBe('fashion-mnist');
    for (const name of ['mnist', 'fashion-mnist', 'cifar10', 'nmnist', 'cifar10dvs', 'dvs128']) expect(datasetOfPreset(name)).toBe(name);
    expect(() => trainConfig({ preset: 'no-such-preset' })).toThrow(/no-such-preset/);
  });

  const refusals: Array<[string, Partial<TrainConfig>, RegExp]> = [
    ['T 0', { T: 0 }, /^T must be a positive integer, got 0$/],
    ['T 1.5', { T: 1.5 }, /^T must be a positive integer, got 1\.5$/],
    ['batch 0', { batch: 0 }, /^batch must be a positive integer, got 0$/],
    ['epochs -1', { epochs: -1 }, /^epochs must be a positive integer, got -1$/],
    ['evalBatch 0', { evalBatch: 0 }, /^evalBatch must be a positive integer, got 0$/],
    ['limitTrain 0', { limitTrain: 0 }, /^limitTrain must be a positive integer, got 0$/],
    ['limitTest 2.5', { limitTest: 2.5 }, /^limitTest must be a positive integer, got 2\.5$/],
    ['channels 0', { channels: 0 }, /^channels must be a positive integer, got 0$/],
    ['lr 0', { lr: 0 }, /^lr must be a number > 0, got 0$/],
    ['lr Infinity', { lr: Infinity }, /^lr must be a number > 0, got Infinity$/],
    ['lr NaN', { lr: NaN }, /^lr must be a number > 0, got NaN$/],
    ['tau0 1', { tau0: 1 }, /^tau0 must be a number > 1, got 1$/],
    ['tau0 Infinity', { tau0: Infinity }, /^tau0 must be a number > 1, got Infinity$/],
    ['val 1', { val: 1 }, /^val must be a fraction in \[0, 1\), got 1$/],
    ['val -0.1', { val: -0.1 }, /^val must be a fraction in \[0, 1\), got -0\.1$/],
    ['seed -1', { seed: -1 }, /^seed must be an integer >= 0, got -1$/],
    ['seed 0.5', { seed: 0.5 }, /^seed must be an integer >= 0, got 0\.5$/],
    ['poolTies', { poolTies: 'last' as TrainConfig['poolTies'] }, /^poolTies must be one of first, random, got 'last'$/],
    ['tMax 0', { tMax: 0 }, /^tMax must be > 0, got 0$/],
    ['surrogate null', { surrogate: null as unknown as TrainConfig['surrogate'] }, /^surrogate must be \{name, alpha\}, got null$/],
    ['surrogate a name', { surrogate: 'atan' as unknown as TrainConfig['surrogate'] }, /^surrogate must be \{name, alpha\}, got "atan"$/],
    ['dataset', { dataset: 'imagenet' as TrainConfig['dataset'] }, /^unknown dataset 'imagenet' \(known: mnist, fashion-mnist, cifar10, nmnist, cifar10dvs, dvs128\)$/],
  ];
  it.each(refusals)('refuses %s, saying what it must be', (_what, partial, message) => {
    expect(() => trainConfig({ preset: 'fmnist-small', ...partial })).toThrow(message);
  });

  it('refuses a spike encoder on an event preset, a bad structure, and neuron settings core refuses', () => {
    expect(() => trainConfig({ preset: 'nmnist', encoder: 'poisson' })).toThrow(/^the poisson encoder takes static images; preset 'nmnist' is for event frames \(spikes already\)$/);
    expect(trainConfig({ preset: 'mnist', encoder: 'poisson' }).encoder).toBe('poisson');
    expect(() => trainConfig({ preset: 'fmnist-small', structure: 'c8k3s1-XYZ' })).toThrow(/XYZ/);
    expect(() => trainConfig({ preset: 'fmnist-small', vThreshold: 0, vReset: 0 })).toThrow(/vThreshold \(0\) must be greater than vReset \(0\)/);
    expect(() => trainConfig({ preset: 'fmnist-small', surrogate: { name: 'atan', alpha: 0 } })).toThrow(/alpha must be a finite number > 0/);
  });
});
