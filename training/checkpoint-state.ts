// The training state inside a run's checkpoint (metadata key "training": the run's config and where its
// epoch stands), as bytes and back, without I/O: the CLI writes these bytes to files (training/checkpoint.ts),
// the browser page offers them as downloads. Errors name the checkpoint (a path or a file name).
import type { Backend } from '../core/backend.js';
import { CheckpointError, snapshotCheckpoint, type LoadedCheckpoint, type SaveOptions } from '../core/checkpoint.js';
import type { Network, NetworkConfig } from '../core/network/network.js';
import type { AdamState } from '../core/network/train.js';
import { capMessage, parseJsonBounded, quote, quoteJson } from '../core/quote.js';
import { trainConfig, type TrainConfig } from './config.js';

/** Where an epoch stands; enough to continue it bit for bit. */
export interface TrainingState {
  /** The epoch in progress (or next to start, when batch = 0 and seen = 0). */
  epoch: number;
  /** Batches of this epoch already done. */
  batch: number;
  lossSum: number;
  correct: number;
  seen: number;
  /** RNG states of the epoch's dropout and augmentation streams mid-epoch; null at an epoch boundary. */
  dropoutRng: number[] | null;
  augmentRng: number[] | null;
  /** Training seconds of this epoch so far. */
  seconds: number;
  /** Best score so far (validation accuracy when validating, else test accuracy) and its epoch. */
  best: { epoch: number; score: number } | null;
}

export interface CheckpointMeta {
  network: NetworkConfig;
  taus: { layer: number; tau: number }[];
  /** Library version that wrote it. */
  library: string;
  training?: { config: TrainConfig; state: TrainingState };
}

/** What a run's checkpoint holds besides the model: the Adam state, the library version and the training state. */
export function trainingSaveOptions(adam: AdamState, t: { config: TrainConfig; state: TrainingState; version: string }): SaveOptions {
  return { optimizer: adam, extra: { library: t.version, training: JSON.stringify({ config: t.config, state: t.state }) } };
}

/** The bytes of a run's checkpoint (what plif train writes as last.safetensors). */
export function trainingCheckpointBytes(net: Network, adam: AdamState, t: { config: TrainConfig; state: TrainingState; version: string }): Promise<Uint8Array> {
  return snapshotCheckpoint(net, trainingSaveOptions(adam, t));
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The training metadata of a checkpoint, every field checked (types, integers in range, consistency);
 * errors name the file and the field. Nothing is trusted before this passes.
 */
export function validateTraining(path: string, raw: unknown): { config: TrainConfig; state: TrainingState } {
  const fail = (field: string, why: string, v: unknown): never => {
    throw new CheckpointError(`${path}: training ${field} ${why}, got ${quoteJson(v)}`);
  };
  if (!isObject(raw)) return fail('metadata', 'must be an object', raw);
  if (!isObject(raw.config)) return fail('metadata field \'config\'', 'must be an object', raw.config);
  let config: TrainConfig;
  try {
    config = trainConfig(raw.config as Partial<TrainConfig> & { preset: string });
  } catch (e) {
    throw new CheckpointError(`${path}: training config: ${capMessage((e as Error).message)}`);
  }
  const st = raw.state;
  if (!isObject(st)) return fail('metadata field \'state\'', 'must be an object', st);
  const int = (k: string, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const v = st[k];
    if (!Number.isSafeInteger(v) || (v as number) < min || (v as number) > max) fail(`state field '${k}'`, `must be an integer in [${min}, ${max}]`, v);
    return v as number;
  };
  const num = (k: string): number => {
    const v = st[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(`state field '${k}'`, 'must be a finite number >= 0', v);
    return v as number;
  };
  const rng = (k: string): number[] | null => {
    const v = st[k];
    if (v === null) return null;
    if (!Array.isArray(v) || v.length !== 4 || !v.every((x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32)) fail(`state field '${k}'`, 'must be null or 4 uint32 values', v);
    return v as number[];
  };
  const epoch = int('epoch', 0, 1e9);
  const batch = int('batch', 0, 1e12);
  const seen = int('seen', 0);
  const correct = int('correct', 0, seen);
  const lossSum = num('lossSum');
  const seconds = num('seconds');
  const dropoutRng = rng('dropoutRng');
  const augmentRng = rng('augmentRng');
  if (seen !== batch * config.batch) fail(`state field 'seen'`, `must be batch x batch size = ${batch} x ${config.batch}`, seen);
  if (batch > 0 && (dropoutRng === null || augmentRng === null)) fail(`state fields 'dropoutRng', 'augmentRng'`, `must be RNG states mid-epoch (batch ${batch})`, [dropoutRng, augmentRng]);
  let best: TrainingState['best'] = null;
  if (st.best !== null) {
    const b = st.best;
    if (!isObject(b) || !Number.isSafeInteger(b.epoch) || (b.epoch as number) < 0 || (b.epoch as number) >= epoch || typeof b.score !== 'number' || !(b.score >= 0 && b.score <= 1)) {
      fail(`state field 'best'`, `must be null or { epoch < ${epoch}, score in [0, 1] }`, b);
    }
    best = { epoch: (b as { epoch: number }).epoch, score: (b as { score: number }).score };
  }
  return { config, state: { epoch, batch, lossSum, correct, seen, dropoutRng, augmentRng, seconds, best } };
}

/**
 * The training state of a loaded checkpoint (named `name` in errors: its path or file name), parsed from its
 * metadata field `training` and checked (validateTraining); null for a checkpoint without one (a bare model).
 */
export function checkpointTraining(ck: Pick<LoadedCheckpoint, 'metadata'>, name: string): { config: TrainConfig; state: TrainingState } | null {
  const text = ck.metadata.extra.training;
  if (text === undefined) return null;
  let raw: unknown;
  try {
    raw = parseJsonBounded(text);
  } catch (e) {
    throw new CheckpointError(`${name}: its training metadata is not JSON (${quote((e as Error).message)})`);
  }
  return validateTraining(name, raw);
}

/**
 * The training metadata of a loaded checkpoint (named `path` in errors), checked; on an error the loaded
 * network and optimizer state are disposed.
 */
export function readTrainingMeta(ck: LoadedCheckpoint, path: string, backend: Backend): { ck: LoadedCheckpoint; meta: CheckpointMeta } {
  let training: CheckpointMeta['training'] | null;
  try {
    training = checkpointTraining(ck, path);
  } catch (e) {
    ck.net.dispose();
    if (ck.optimizer) for (const t of [...ck.optimizer.m, ...ck.optimizer.v]) backend.dispose(t);
    throw e;
  }
  const meta: CheckpointMeta = {
    network: ck.config,
    taus: ck.net.taus().map((t) => ({ layer: t.index, tau: t.tau })),
    library: ck.metadata.extra.library ?? 'unknown',
    ...(training ? { training } : {}),
  };
  return { ck, meta };
}
