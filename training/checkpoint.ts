// Checkpoints of a run: core's model checkpoint (safetensors: parameters, BN running statistics, per-layer
// tau, Adam moments and step) plus the training state under the metadata key "training", so that an
// interrupted run resumes bit for bit. Files are written atomically (training/checkpoint-file.ts).
import type { Backend } from '../core/backend.js';
import { CheckpointError } from '../core/checkpoint.js';
import { loadCheckpointFile, saveCheckpointFile } from './checkpoint-file.js';
import type { Network } from '../core/network/network.js';
import type { AdamState } from '../core/network/train.js';
import type { TrainConfig } from './config.js';
import { readTrainingMeta, trainingSaveOptions, type CheckpointMeta, type TrainingState } from './checkpoint-state.js';

export { validateTraining, type CheckpointMeta, type TrainingState } from './checkpoint-state.js';

export async function saveTrainingCheckpoint(
  path: string,
  net: Network,
  adam: AdamState,
  t: { config: TrainConfig; state: TrainingState; version: string },
): Promise<void> {
  await saveCheckpointFile(path, net, trainingSaveOptions(adam, t));
}

async function load(path: string, backend: Backend) {
  return readTrainingMeta(await loadCheckpointFile(backend, path), path, backend);
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
    if (ck.optimizer) for (const t of [...ck.optimizer.m, ...ck.optimizer.v]) backend.dispose(t);
    throw new CheckpointError(`${path}: holds a model but no training state (not written by plif train)`);
  }
  return { net: ck.net, adam: ck.optimizer, state: meta.training.state, network: meta.network, config: meta.training.config };
}
