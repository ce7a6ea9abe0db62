// Model checkpoints in the safetensors layout: 8-byte little-endian header length, a JSON header
// { "__metadata__": {string: string}, name: { dtype: "F32", shape, data_offsets: [begin, end] } },
// then little-endian float32 data. A model file holds the network config, every parameter, the BN
// running statistics and the per-layer tau; optionally the Adam state (moments, step) and the RNG
// state so that training resumes exactly. Pure bytes here; core/checkpoint-file.ts writes files atomically.
import type { Backend } from './backend.js';
import { Network, networkConfig, type NetworkConfig } from './network/network.js';
import type { AdamState } from './network/train.js';
import { adamConfig } from './optim.js';
import { Rng, type RngState } from './rng.js';

export const CHECKPOINT_FORMAT = 'plif-snn/1';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || Object.hasOwn(header, t.name)) throw new CheckpointError(`duplicate or reserved tensor name '${t.name}'`);
    const n = t.shape.reduce((a, c) => a * c, 1);
    if (n !== t.data.length) throw new CheckpointError(`tensor '${t.name}': shape [${t.shape}] does not hold ${t.data.length} values`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const hb = new Uint8Array(json.length + ((8 - (json.length % 8)) % 8)).fill(0x20); // pad with spaces to 8 bytes
  hb.set(json);
  const out = new Uint8Array(8 + hb.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const t of tensors) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    else for (let i = 0; i < t.data.length; i++) dv.setFloat32(p + 4 * i, t.data[i]!, true);
    p += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new CheckpointError(`not a safetensors file: ${bytes.length} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getBigUint64(0, true);
  if (hlen > BigInt(bytes.length - 8)) {
    throw new CheckpointError(`truncated or not a safetensors file: header length ${hlen} exceeds the ${bytes.length - 8} bytes that follow`);
  }
  const hl = Number(hlen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + hl)));
  } catch (e) {
    throw new CheckpointError(`not a safetensors file: the header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CheckpointError('not a safetensors file: the header is not a JSON object');
  const dataStart = 8 + hl;
  const dataLen = bytes.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors = new Map<string, NamedTensor>();
  let maxEnd = 0;
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') throw new CheckpointError(`tensor '${name}': dtype ${JSON.stringify(e.dtype)}, only F32 is supported`);
    const shape = e.shape;
    const off = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new CheckpointError(`tensor '${name}': bad shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0)) throw new CheckpointError(`tensor '${name}': bad data_offsets`);
    const [b0, b1] = off as [number, number];
    const n = (shape as number[]).reduce((a, c) => a * c, 1);
    if (b1 - b0 !== 4 * n) throw new CheckpointError(`tensor '${name}': data_offsets span ${b1 - b0} bytes, shape [${shape}] needs ${4 * n}`);
    if (b1 > dataLen) throw new CheckpointError(`truncated file: tensor '${name}' ends at byte ${b1} of the data, which has only ${dataLen} bytes`);
    maxEnd = Math.max(maxEnd, b1);
    const data = new Float32Array(n);
    const src = dataStart + b0;
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(src + 4 * i, true);
    tensors.set(name, { name, shape: shape as number[], data });
  }
  if (maxEnd !== dataLen) throw new CheckpointError(`corrupt file: ${dataLen} data bytes but the tensors cover ${maxEnd}`);
  return { tensors, metadata };
}

export interface SaveOptions {
  /** Include the Adam state (moments, step, hyper-parameters). */
  optimizer?: AdamState;
  /** Include the RNG state (dropout masks, shuffling) for an exact resume. */
  rng?: Rng;
  /** Free-form extra metadata (epoch, dataset, ...); values are strings. */
  extra?: Record<string, string>;
}

/** Serialises a network (and optionally optimizer and RNG state) to safetensors bytes. */
export function saveCheckpoint(net: Network, opts: SaveOptions = {}): Uint8Array {
  const b = net.backend;
  const tensors: NamedTensor[] = [];
  const params = net.params();
  for (const p of params) tensors.push({ name: `param.${p.name}`, shape: [...p.value.shape], data: Float32Array.from(b.download(p.value)) });
  for (const q of net.buffers()) tensors.push({ name: `buffer.${q.name}`, shape: [...q.value.shape], data: Float32Array.from(b.download(q.value)) });
  const metadata: Record<string, string> = {
    ...opts.extra,
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(net.config),
    tau: JSON.stringify(net.taus().map((t) => ({ layer: t.index, tau: Number.isFinite(t.tau) ? t.tau : null }))),
  };
  if (opts.optimizer) {
    const o = opts.optimizer;
    params.forEach((p, i) => {
      tensors.push({ name: `optim.m.${p.name}`, shape: [...p.value.shape], data: Float32Array.from(b.download(o.m[i]!)) });
      tensors.push({ name: `optim.v.${p.name}`, shape: [...p.value.shape], data: Float32Array.from(b.download(o.v[i]!)) });
    });
    metadata.optimizer = JSON.stringify({ kind: 'adam', step: o.step, config: o.config });
  }
  if (opts.rng) metadata.rng = JSON.stringify(opts.rng.state());
  return encodeSafetensors(tensors, metadata);
}

export interface LoadedCheckpoint {
  net: Network;
  config: NetworkConfig;
  /** Present when the file holds optimizer state. */
  optimizer: AdamState | null;
  rngState: RngState | null;
  metadata: Record<string, string>;
}

/** Rebuilds the network on `backend` from checkpoint bytes (and the optimizer/RNG state when saved). */
export function loadCheckpoint(backend: Backend, bytes: Uint8Array): LoadedCheckpoint {
  const { tensors, metadata } = decodeSafetensors(bytes);
  if (metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`not a plif-snn checkpoint: metadata format is ${JSON.stringify(metadata.format)}, expected '${CHECKPOINT_FORMAT}'`);
  let config: NetworkConfig;
  try {
    const c = JSON.parse(metadata.config ?? '') as NetworkConfig;
    config = networkConfig(c.structure, c.input, c.classes, c); // fills defaults, validates
  } catch (e) {
    throw new CheckpointError(`checkpoint metadata has no valid network config (${(e as Error).message})`);
  }
  const net = new Network(backend, config, Rng.seeded(0));
  const take = (name: string, shape: readonly number[]) => {
    const t = tensors.get(name);
    if (!t) throw new CheckpointError(`checkpoint lacks tensor '${name}'`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new CheckpointError(`tensor '${name}' has shape [${t.shape}], the network needs [${shape}]`);
    return t.data;
  };
  try {
    for (const p of net.params()) {
      const v = backend.upload(take(`param.${p.name}`, p.value.shape), p.value.shape);
      backend.dispose(p.value);
      p.value = v;
    }
    for (const q of net.buffers()) {
      const v = backend.upload(take(`buffer.${q.name}`, q.value.shape), q.value.shape);
      backend.dispose(q.value);
      q.value = v;
    }
  } catch (e) {
    net.dispose();
    throw e;
  }
  let optimizer: AdamState | null = null;
  if (metadata.optimizer) {
    const o = JSON.parse(metadata.optimizer) as { step: number; config: AdamState['config'] };
    const ps = net.params();
    optimizer = {
      config: adamConfig(o.config),
      step: o.step,
      m: ps.map((p) => backend.upload(take(`optim.m.${p.name}`, p.value.shape), p.value.shape)),
      v: ps.map((p) => backend.upload(take(`optim.v.${p.name}`, p.value.shape), p.value.shape)),
    };
  }
  const rngState = metadata.rng ? (Rng.fromState(JSON.parse(metadata.rng)).state() as RngState) : null;
  return { net, config, optimizer, rngState, metadata };
}
