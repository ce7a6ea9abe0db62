// Checkpoints of a run, in the safetensors layout (training/safetensors.ts): every parameter (weights, BN
// gamma/beta, each PLIF layer's a), the BN running statistics, optionally the Adam moments, and JSON
// metadata under the key "plif": the network config, per-layer tau, and the training state needed to
// resume exactly. Written atomically: temp file + rename.
import { readFile } from 'node:fs/promises';
import type { Backend } from '../core/backend.js';
import { buildNetwork, type Network, type NetworkConfig } from '../core/network/network.js';
import { createAdam, type AdamState } from '../core/network/train.js';
import { Rng } from '../core/rng.js';
import { writeFileAtomic } from '../data/index.js';
import type { TrainConfig } from './config.js';
import { CheckpointFormatError, decodeSafetensors, encodeSafetensors, type NamedTensor } from './safetensors.js';

export const CHECKPOINT_FORMAT = 'plif-checkpoint';
export const CHECKPOINT_VERSION = 1;

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
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** Version of the library that wrote it. */
  library: string;
  network: NetworkConfig;
  taus: { layer: number; tau: number }[];
  training?: { config: TrainConfig; state: TrainingState; adam: { step: number; config: AdamState['config'] } };
}

function collect(net: Network, adam: AdamState | null): NamedTensor[] {
  const b = net.backend;
  const out: NamedTensor[] = [];
  for (const p of net.params()) out.push({ name: `param.${p.name}`, shape: p.value.shape, data: b.download(p.value) });
  for (const q of net.buffers()) out.push({ name: `buffer.${q.name}`, shape: q.value.shape, data: b.download(q.value) });
  if (adam) {
    net.params().forEach((p, i) => {
      out.push({ name: `adam.m.${p.name}`, shape: p.value.shape, data: b.download(adam.m[i]!) });
      out.push({ name: `adam.v.${p.name}`, shape: p.value.shape, data: b.download(adam.v[i]!) });
    });
  }
  return out;
}

export async function saveCheckpoint(
  path: string,
  net: Network,
  adam: AdamState | null,
  training: { config: TrainConfig; state: TrainingState; version: string } | null,
): Promise<void> {
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    library: training?.version ?? 'unknown',
    network: net.config,
    taus: net.taus().map((t) => ({ layer: t.index, tau: t.tau })),
    ...(training && adam ? { training: { config: training.config, state: training.state, adam: { step: adam.step, config: adam.config } } } : {}),
  };
  await writeFileAtomic(path, encodeSafetensors(collect(net, adam), { plif: JSON.stringify(meta) }));
}

export async function saveTrainingCheckpoint(
  path: string,
  net: Network,
  adam: AdamState,
  t: { config: TrainConfig; network: NetworkConfig; state: TrainingState; version: string },
): Promise<void> {
  await saveCheckpoint(path, net, adam, t);
}

async function readCheckpoint(path: string) {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CheckpointFormatError(path, 'no such file');
    throw err;
  }
  const st = decodeSafetensors(bytes, path);
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(st.metadata['plif'] ?? 'null') as CheckpointMeta;
  } catch {
    throw new CheckpointFormatError(path, 'its "plif" metadata is not JSON');
  }
  if (!meta || meta.format !== CHECKPOINT_FORMAT) throw new CheckpointFormatError(path, 'a safetensors file, but not a checkpoint of this library (no "plif" metadata)');
  if (meta.version !== CHECKPOINT_VERSION) throw new CheckpointFormatError(path, `checkpoint format version ${meta.version}, this library reads ${CHECKPOINT_VERSION}`);
  return { meta, tensors: st.tensors };
}

function take(path: string, tensors: Map<string, { shape: number[]; data: Float32Array }>, name: string, shape: readonly number[]) {
  const t = tensors.get(name);
  if (!t) throw new CheckpointFormatError(path, `tensor ${name} is missing`);
  if (t.shape.join(',') !== shape.join(',')) throw new CheckpointFormatError(path, `tensor ${name} has shape [${t.shape.join(', ')}], the network needs [${shape.join(', ')}]`);
  return t.data;
}

/** The network of a checkpoint on `backend` (parameters and BN running statistics restored). */
export async function loadCheckpoint(path: string, backend: Backend): Promise<{ net: Network; meta: CheckpointMeta; tensors: Map<string, { shape: number[]; data: Float32Array }> }> {
  const { meta, tensors } = await readCheckpoint(path);
  const net = buildNetwork(backend, meta.network, Rng.seeded(0));
  try {
    for (const p of net.params()) {
      const data = take(path, tensors, `param.${p.name}`, p.value.shape);
      const shape = p.value.shape;
      backend.dispose(p.value);
      p.value = backend.upload(data, shape);
    }
    for (const q of net.buffers()) {
      const data = take(path, tensors, `buffer.${q.name}`, q.value.shape);
      const shape = q.value.shape;
      backend.dispose(q.value);
      q.value = backend.upload(data, shape);
    }
  } catch (err) {
    net.dispose();
    throw err;
  }
  return { net, meta, tensors };
}

export async function loadTrainingCheckpoint(path: string, backend: Backend) {
  const { net, meta, tensors } = await loadCheckpoint(path, backend);
  if (!meta.training) {
    net.dispose();
    throw new CheckpointFormatError(path, 'holds a model but no training state (not written by plif train)');
  }
  const adam = createAdam(net, meta.training.adam.config);
  adam.step = meta.training.adam.step;
  net.params().forEach((p, i) => {
    for (const [which, arr] of [['m', adam.m], ['v', adam.v]] as const) {
      const data = take(path, tensors, `adam.${which}.${p.name}`, p.value.shape);
      backend.dispose(arr[i]!);
      arr[i] = backend.upload(data, p.value.shape);
    }
  });
  return { net, adam, state: meta.training.state, network: meta.network, config: meta.training.config };
}
