// Checkpoints of a run: core's model checkpoint (safetensors: parameters, BN running statistics, per-layer
// tau, Adam moments and step) plus the training state under the metadata key "training", so that an
// interrupted run resumes bit for bit. Files are written atomically (core/checkpoint-file.ts).
import { stat } from 'node:fs/promises';
import type { Backend } from '../core/backend.js';
import { CheckpointError } from '../core/checkpoint.js';
import { loadCheckpointFile, saveCheckpointFile } from '../core/checkpoint-file.js';
import type { Network, NetworkConfig } from '../core/network/network.js';
import type { AdamState } from '../core/network/train.js';
import type { TrainConfig } from './config.js';

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

export async function saveTrainingCheckpoint(
  path: string,
  net: Network,
  adam: AdamState,
  t: { config: TrainConfig; state: TrainingState; version: string },
): Promise<void> {
  await saveCheckpointFile(path, net, { optimizer: adam, extra: { library: t.version, training: JSON.stringify({ config: t.config, state: t.state }) } });
}

async function load(path: string, backend: Backend) {
  try {
    await stat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CheckpointError(`${path}: no such file`);
    throw err;
  }
  const ck = await loadCheckpointFile(backend, path);
  let training: CheckpointMeta['training'];
  try {
    training = ck.metadata.training ? (JSON.parse(ck.metadata.training) as CheckpointMeta['training']) : undefined;
  } catch {
    ck.net.dispose();
    throw new CheckpointError(`${path}: its training metadata is not JSON`);
  }
  const meta: CheckpointMeta = {
    network: ck.config,
    taus: ck.net.taus().map((t) => ({ layer: t.index, tau: t.tau })),
    library: ck.metadata.library ?? 'unknown',
    ...(training ? { training } : {}),
  };
  return { ck, meta };
}

/** The network of a checkpoint on `backend`, with parameters and BN running statistics restored. */
export async function loadCheckpoint(path: string, backend: Backend): Promise<{ net: Network; meta: CheckpointMeta }> {
  const { ck, meta } = await load(path, backend);
  if (ck.optimizer) for (const t of [...ck.optimizer.m, ...ck.optimizer.v]) backend.dispose(t);
  return { net: ck.net, meta };
}

/** Network, Adam state and training state of a checkpoint written by plif train. */
export async function loadTrainingCheckpoint(path: string, backend: Backend) {
  const { ck, meta } = await load(path, backend);
  if (!meta.training || !ck.optimizer) {
    ck.net.dispose();
    throw new CheckpointError(`${path}: holds a model but no training state (not written by plif train)`);
  }
  return { net: ck.net, adam: ck.optimizer, state: meta.training.state, network: meta.network, config: meta.training.config };
}
