// The configuration of a training run: every choice the paper varies, with its defaults. Stored in
// config.json of the run directory and in every checkpoint, so a run can be reproduced or resumed.
import { DATASET_NAMES, type DatasetName } from '../data/names.js';
import type { LossForm } from '../core/backend.js';
import { parseStructure } from '../core/network/parser.js';
import { presetByName } from '../core/network/presets.js';
import { checkEncoderName, isSpikeEncoder, type EncoderName } from '../core/encoders.js';
import { POOL_TIE_RULES, type PoolTieRule } from '../core/network/layers.js';
import { PAPER_DEFAULTS } from '../core/defaults.js';
import { neuronConfig } from '../core/neuron.js';
import { surrogateByName, type SurrogateName } from '../core/surrogates.js';

export interface TrainConfig {
  preset: string;
  dataset: DatasetName;
  /** Explicit data directory, or null to search $PLIF_DATA and the well-known places. */
  dataDir: string | null;
  T: number;
  batch: number;
  epochs: number;
  lr: number;
  /** Replaces every neuron token (PLIF vs LIF ablation); null keeps the preset's. */
  neuron: 'plif' | 'lif' | 'if' | null;
  tau0: number;
  pool: 'max' | 'avg' | null;
  /** Max-pooling tie rule (NetworkConfig.poolTies): 'first' or 'random' (Fig. 5, drawn from the run's Rngs). */
  poolTies: PoolTieRule;
  loss: LossForm;
  /** cpu, gpujs or gpujs:MODE. */
  backend: string;
  seed: number;
  /** Fraction of each class held out for validation (Supplementary 7); 0: none. */
  val: number;
  limitTrain: number | null;
  limitTest: number | null;
  /** Batch size of the evaluation passes (eval mode: running BN statistics, so it does not change results). */
  evalBatch: number;
  /** Cosine annealing period in epochs (the paper's T_max: PAPER_DEFAULTS.tMax). */
  tMax: number;
  /** Replaces every conv's channel count of the preset (a smaller paper network for CPUs); null keeps it. */
  channels: number | null;
  /** Input encoder (Supplementary 10): direct (default), poisson or latency. */
  encoder: EncoderName;
  /** A Table S1 structure string replacing the preset's network (the preset still gives dataset, input, T); null keeps it. */
  structure: string | null;
  /** Surrogate gradient of every neuron (Eq. 13): name and alpha. */
  surrogate: { name: SurrogateName; alpha: number };
  /** Firing threshold V_th (Eq. 3). */
  vThreshold: number;
  /** Hard reset potential V_reset (Eq. 4), or null for soft reset (V = H - S V_th). */
  vReset: number | null;
  /** Detach S in the reset of the backward pass (Eq. 12; the paper: on). */
  detachReset: boolean;
}

/** Batch size of evaluation passes (plif train --eval-batch, plif eval --eval-batch): memory only, results do not depend on it. */
export const DEFAULT_EVAL_BATCH = 64;

/** Dataset a preset trains on by default. */
export function datasetOfPreset(preset: string): DatasetName {
  const p = presetByName(preset);
  const name = p.name === 'fmnist-small' ? 'fashion-mnist' : p.name;
  if (!(DATASET_NAMES as readonly string[]).includes(name)) throw new RangeError(`preset '${preset}' has no default dataset: give --dataset`);
  return name as DatasetName;
}

export function trainConfig(partial: Partial<TrainConfig> & { preset: string }): TrainConfig {
  const preset = presetByName(partial.preset);
  const c: TrainConfig = {
    dataset: datasetOfPreset(preset.name),
    dataDir: null,
    T: preset.T,
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
    surrogate: { ...PAPER_DEFAULTS.surrogate },
    vThreshold: PAPER_DEFAULTS.vThreshold,
    vReset: PAPER_DEFAULTS.vReset,
    detachReset: PAPER_DEFAULTS.detachReset,
    ...partial,
    preset: preset.name,
  };
  const posInt = (name: keyof TrainConfig, v: unknown) => {
    if (!Number.isInteger(v) || (v as number) <= 0) throw new RangeError(`${name} must be a positive integer, got ${String(v)}`);
  };
  posInt('T', c.T);
  posInt('batch', c.batch);
  posInt('epochs', c.epochs);
  posInt('evalBatch', c.evalBatch);
  if (c.limitTrain !== null) posInt('limitTrain', c.limitTrain);
  if (c.limitTest !== null) posInt('limitTest', c.limitTest);
  if (c.channels !== null) posInt('channels', c.channels);
  if (!(Number.isFinite(c.lr) && c.lr > 0)) throw new RangeError(`lr must be a number > 0, got ${c.lr}`);
  if (!(Number.isFinite(c.tau0) && c.tau0 > 1)) throw new RangeError(`tau0 must be a number > 1, got ${c.tau0}`);
  if (!(c.val >= 0 && c.val < 1)) throw new RangeError(`val must be a fraction in [0, 1), got ${c.val}`);
  if (!Number.isInteger(c.seed) || c.seed < 0) throw new RangeError(`seed must be an integer >= 0, got ${c.seed}`);
  if (!POOL_TIE_RULES.includes(c.poolTies)) throw new RangeError(`poolTies must be one of ${POOL_TIE_RULES.join(', ')}, got '${String(c.poolTies)}'`);
  if (!(c.tMax > 0)) throw new RangeError(`tMax must be > 0, got ${c.tMax}`);
  checkEncoderName(c.encoder);
  if (isSpikeEncoder(c.encoder) && !preset.static) throw new RangeError(`the ${c.encoder} encoder takes static images; preset '${preset.name}' is for event frames (spikes already)`);
  if (c.structure !== null) parseStructure(c.structure);
  if (typeof c.surrogate !== 'object' || c.surrogate === null) throw new RangeError(`surrogate must be {name, alpha}, got ${JSON.stringify(c.surrogate)}`);
  // The neuron settings as core checks them (thresholds, reset, surrogate name and alpha).
  neuronConfig({ kind: 'plif', tau: c.tau0, vThreshold: c.vThreshold, vReset: c.vReset, detachReset: c.detachReset, surrogate: surrogateByName(c.surrogate.name, c.surrogate.alpha) });
  if (!(DATASET_NAMES as readonly string[]).includes(c.dataset)) throw new RangeError(`unknown dataset '${c.dataset}' (known: ${DATASET_NAMES.join(', ')})`);
  return c;
}
