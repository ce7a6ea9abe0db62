// Checkpoints of a run: core's model checkpoint (safetensors: parameters, BN running statistics, per-layer
// tau, Adam moments and step) plus the training state under the metadata key "training", so that an
// interrupted run resumes bit for bit. Files are written atomically (training/checkpoint-file.ts).
// One API throughout the package, backend first: loadCheckpoint(backend, bytes) (plif-snn),
// loadCheckpointFile(backend, path) (plif-snn/checkpoints), re-exported here with the run's own loaders.
import type { Backend } from '../core/backend.js';
import { CheckpointError } from '../core/checkpoint.js';
import { loadCheckpointFile, saveCheckpointFile } from './checkpoint-file.js';
import type { Network } from '../core/network/network.js';
import { disposeAdam, type AdamState } from '../core/network/train.js';
import type { TrainConfig } from './config.js';
import { readTrainingMeta, trainingSaveOptions, validateTraining, type TrainingState } from './checkpoint-state.js';
import { open } from 'node:fs/promises';

export { validateTraining, checkpointTraining, readTrainingMeta, type CheckpointMeta, type TrainingState } from './checkpoint-state.js';
export { loadCheckpoint, saveCheckpoint, snapshotCheckpoint, CheckpointError, type CheckpointMetadata, type LoadedCheckpoint, type SaveOptions } from '../core/checkpoint.js';
export { loadCheckpointFile, saveCheckpointFile, readCheckpointBytes } from './checkpoint-file.js';

/** Writes a run's checkpoint (what plif train writes as last.safetensors): the model, Adam's state and the training state. */
export async function saveTrainingCheckpoint(
  path: string,
  net: Network,
  adam: AdamState,
  t: { config: TrainConfig; state: TrainingState; version: string },
): Promise<void> {
  await saveCheckpointFile(path, net, trainingSaveOptions(adam, t));
}

/**
 * Network, Adam state and training state of a checkpoint file written by a run (plif train, runTraining), to
 * continue it; a checkpoint without training or optimizer state is refused (CheckpointError naming the file).
 */
export async function loadTrainingCheckpoint(backend: Backend, path: string) {
  const { ck, meta } = readTrainingMeta(await loadCheckpointFile(backend, path), path, backend);
  if (!meta.training || !ck.optimizer) {
    ck.net.dispose();
    if (ck.optimizer) disposeAdam(backend, ck.optimizer);
    throw new CheckpointError(`${path}: holds a model but no training state (not written by plif train)`);
  }
  return { net: ck.net, adam: ck.optimizer, state: meta.training.state, network: meta.network, config: meta.training.config };
}

/** Headers larger than this are not read for a training state (a run's header is a few kB). */
const STATE_HEADER_LIMIT = 16 * 1024 * 1024;

/**
 * The training state of a run's checkpoint file from its header alone (no tensor is read or built);
 * errors are CheckpointError naming the file.
 */
export async function readTrainingState(path: string): Promise<TrainingState> {
  let header: string;
  try {
    const fh = await open(path, 'r');
    try {
      const len = new Uint8Array(8);
      if ((await fh.read(len, 0, 8, 0)).bytesRead < 8) throw new Error('shorter than the 8-byte header length');
      const n = Number(new DataView(len.buffer).getBigUint64(0, true));
      if (n > STATE_HEADER_LIMIT) throw new Error(`a header of ${n} bytes`);
      const bytes = new Uint8Array(n);
      if ((await fh.read(bytes, 0, n, 8)).bytesRead < n) throw new Error('truncated header');
      header = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new CheckpointError(`${path}: cannot read its header (${(e as Error).message})`);
  }
  let training: unknown;
  try {
    training = JSON.parse((JSON.parse(header) as { __metadata__: { training: string } }).__metadata__.training);
  } catch {
    throw new CheckpointError(`${path}: holds no training state`);
  }
  return validateTraining(path, training).state;
}
