// plif bench --checkpoint: timing training steps from a run's checkpoint (what plif train writes as
// last.safetensors): its network, weights, BN running statistics and Adam state, on every backend timed, and
// the same state as a flat file of float32 values for the PyTorch peer.
import { writeFileSync } from 'node:fs';
import { cpuBackend } from '../backends/cpu/index.js';
import type { NetworkConfig } from '../core/network/network.js';
import { loadTrainingCheckpoint } from '../training/checkpoint.js';
import type { TrainConfig } from '../training/config.js';
import type { StepStart } from './step-timing.js';

/** Host copies of a checkpoint's state, in the library's orders. */
export interface HostState {
  /** Parameters in net.params() order (conv/linear weight, BN gamma then beta, PLIF a). */
  params: Float32Array[];
  /** BN running mean then variance of each BN layer, in layer order (net.buffers()). */
  buffers: Float32Array[];
  /** Adam's first and second moments, one per parameter, and the number of updates done. */
  m: Float32Array[];
  v: Float32Array[];
  step: number;
}

export interface CheckpointStart {
  path: string;
  cfg: NetworkConfig;
  /** The run's training config (its dataset, data directory, learning rate). */
  train: TrainConfig;
  /** Adam's learning rate of the checkpoint (its base rate). */
  lr: number;
  host: HostState;
  /** The checkpoint loaded on a backend: network and Adam state as the run left them. */
  from: StepStart;
}

/**
 * Reads a run's checkpoint once (on a one-thread CPU backend) for its config and a host copy of its state;
 * `from` loads it again on each backend timed. Errors are CheckpointError naming the file.
 */
export async function checkpointStart(path: string): Promise<CheckpointStart> {
  const b = cpuBackend({ threads: 1 });
  try {
    const ck = await loadTrainingCheckpoint(b, path);
    const ps = ck.net.params();
    const host: HostState = {
      params: ps.map((p) => Float32Array.from(b.download(p.value))),
      buffers: ck.net.buffers().map((t) => Float32Array.from(b.download(t.value))),
      m: ck.adam.m.map((t) => Float32Array.from(b.download(t))),
      v: ck.adam.v.map((t) => Float32Array.from(b.download(t))),
      step: ck.adam.step,
    };
    const cfg = ck.net.config;
    const lr = ck.adam.config.lr;
    ck.net.dispose();
    for (const t of [...ck.adam.m, ...ck.adam.v]) b.dispose(t);
    const from: StepStart = async (backend) => {
      const c = await loadTrainingCheckpoint(backend, path);
      return { net: c.net, opt: c.adam };
    };
    return { path, cfg, train: ck.config, lr, host, from };
  } finally {
    b.destroy();
  }
}

/**
 * Writes the state for the PyTorch peer: every tensor's float32 values (little-endian) one after the
 * other, parameters, BN running statistics, Adam's m, Adam's v; the peer checks the total length.
 */
export function writeHostState(path: string, s: HostState): number {
  const all = [...s.params, ...s.buffers, ...s.m, ...s.v];
  const n = all.reduce((k, a) => k + a.length, 0);
  const out = new Float32Array(n);
  let at = 0;
  for (const a of all) {
    out.set(a, at);
    at += a.length;
  }
  const bytes = new Uint8Array(out.buffer);
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    for (let i = 0; i < bytes.length; i += 4) bytes.subarray(i, i + 4).reverse(); // big-endian host
  }
  writeFileSync(path, bytes);
  return n;
}
