// Model checkpoints in the safetensors layout: 8-byte little-endian header length, a JSON header
// { "__metadata__": {string: string}, name: { dtype: "F32", shape, data_offsets: [begin, end] } },
// then little-endian float32 data. A model file holds the network config, every parameter, the BN
// running statistics and the per-layer tau; optionally the Adam state (moments, step) and the RNG
// state so that training resumes exactly. Pure bytes here; training/checkpoint-file.ts writes files atomically.
import type { Backend, Tensor } from './backend.js';
import { Network, networkConfig, type NetworkConfig } from './network/network.js';
import { MAX_SIZE } from './network/parser.js';
import { networkShapes, type LayerShape } from './network/shapes.js';
import type { AdamState } from './network/train.js';
import { adamConfig, type AdamConfig } from './optim.js';
import { Rng, type RngState } from './rng.js';
import type { FloatArray } from './types.js';
import { parseJsonBounded, quoteJson } from './quote.js';

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
  // no prototype: a tensor named '__proto__' is a key like any other
  const header: Record<string, unknown> = Object.assign(Object.create(null) as Record<string, unknown>, { __metadata__: metadata });
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
    writeFloat32LEInto(out, p, t.data);
    p += t.data.byteLength;
  }
  return out;
}

/**
 * Writes data as little-endian float32 into out at byte offset p: the bytes as they are on a little-endian
 * host, else value by value through a DataView (`hostLittleEndian` is the host's byte order, given only by tests).
 */
export function writeFloat32LEInto(out: Uint8Array, p: number, data: Float32Array, hostLittleEndian = LITTLE_ENDIAN): void {
  if (hostLittleEndian) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), p);
  else {
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let i = 0; i < data.length; i++) dv.setFloat32(p + 4 * i, data[i]!, true);
  }
}

/**
 * The largest safetensors header read: a plif-snn checkpoint's header is a few kB (at most about 1 MB for a
 * network of the parser's 1000 layers with Adam's moments), and parsing JSON costs some 16 times its
 * length in memory, so a longer header is refused before it is read.
 */
export const MAX_HEADER_BYTES = 4 * 1024 * 1024;

/** A tensor's header entry: its shape and the bytes [begin, end) of the data it reads. */
export interface TensorEntry {
  name: string;
  shape: number[];
  begin: number;
  end: number;
}

/** What a safetensors header says, checked against the size of the data that follows it. */
export interface SafetensorsHeader {
  /** In the header's order. */
  entries: TensorEntry[];
  metadata: Record<string, string>;
}

/**
 * The header length of a safetensors file of `fileLength` bytes from its first 8 bytes: refused when the
 * file is shorter than 8 bytes, when the header would run past the end, or when it is longer than
 * MAX_HEADER_BYTES.
 */
export function safetensorsHeaderLength(first: Uint8Array, fileLength: number): number {
  if (fileLength < 8 || first.length < 8) throw new CheckpointError(`not a safetensors file: ${fileLength} bytes, shorter than the 8-byte header length`);
  const hlen = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (hlen > BigInt(fileLength - 8)) {
    throw new CheckpointError(`truncated or not a safetensors file: header length ${hlen} exceeds the ${fileLength - 8} bytes that follow`);
  }
  if (hlen > BigInt(MAX_HEADER_BYTES)) {
    throw new CheckpointError(`not a plif-snn checkpoint: a header of ${hlen} bytes, more than the ${MAX_HEADER_BYTES} read (a checkpoint's header is a few kB)`);
  }
  return Number(hlen);
}

/**
 * Parses and checks a safetensors header (the bytes after the length) against the `dataLength` bytes of
 * data that follow it, reading no data: every entry's dtype, shape and offsets, no offset past the data,
 * no two tensors sharing a byte, no data byte outside every tensor.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataLength: number): SafetensorsHeader {
  let header: Record<string, unknown>;
  try {
    header = parseJsonBounded(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes)) as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(`not a safetensors file: the header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CheckpointError('not a safetensors file: the header is not a JSON object');
  const dataLen = dataLength;
  const meta = header.__metadata__ ?? {};
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new CheckpointError(`__metadata__ is ${quoteJson(meta)}, not an object of strings`);
  for (const [k, v] of Object.entries(meta)) if (typeof v !== 'string') throw new CheckpointError(`metadata field '${k}' is ${quoteJson(v)}, not a string`);
  const metadata = meta as Record<string, string>;
  const entries: TensorEntry[] = [];
  for (const [name, v] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new CheckpointError(`tensor '${name}': its header entry is ${quoteJson(v)}, not an object`);
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') throw new CheckpointError(`tensor '${name}': dtype ${quoteJson(e.dtype)}, only F32 is supported`);
    const shape = e.shape;
    const off = e.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new CheckpointError(`tensor '${name}': bad shape ${quoteJson(shape)}`);
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0)) throw new CheckpointError(`tensor '${name}': bad data_offsets`);
    const [b0, b1] = off as [number, number];
    const n = (shape as number[]).reduce((a, c) => a * c, 1);
    if (b1 - b0 !== 4 * n) throw new CheckpointError(`tensor '${name}': data_offsets span ${b1 - b0} bytes, shape [${shape}] needs ${4 * n}`);
    if (b1 > dataLen) throw new CheckpointError(`truncated file: tensor '${name}' ends at byte ${b1} of the data, which has only ${dataLen} bytes`);
    entries.push({ name, shape: shape as number[], begin: b0, end: b1 });
  }
  // in the order of the data: each tensor starts where the ones before it end (empty tensors hold no byte)
  const held = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let last: TensorEntry | null = null;
  for (const e of held) {
    if (last && e.begin < last.end) {
      throw new CheckpointError(`corrupt file: tensors '${last.name}' (data bytes ${last.begin}..${last.end}) and '${e.name}' (data bytes ${e.begin}..${e.end}) share bytes ${e.begin}..${Math.min(last.end, e.end)}`);
    }
    if (e.begin > covered) throw new CheckpointError(`corrupt file: data bytes ${covered}..${e.begin} belong to no tensor (before tensor '${e.name}')`);
    covered = e.end;
    last = e;
  }
  if (covered !== dataLen) throw new CheckpointError(`corrupt file: ${dataLen} data bytes but the tensors cover ${covered}`);
  return { entries, metadata };
}

/** Float32 values from their little-endian bytes (a copy; bit for bit, NaN payloads included). */
export function float32FromLE(bytes: Uint8Array, hostLittleEndian = LITTLE_ENDIAN): Float32Array {
  const n = bytes.length >>> 2;
  if (hostLittleEndian) {
    // a copy: a Node Buffer's slice() is a view of its (possibly larger) ArrayBuffer, not a copy
    const copy = new Uint8Array(4 * n);
    copy.set(bytes.subarray(0, 4 * n));
    return new Float32Array(copy.buffer);
  }
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  return out;
}

export function decodeSafetensors(bytes: Uint8Array): { tensors: Map<string, NamedTensor>; metadata: Record<string, string> } {
  const hl = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.length);
  const dataStart = 8 + hl;
  const { entries, metadata } = parseSafetensorsHeader(bytes.subarray(8, dataStart), bytes.length - dataStart);
  const tensors = new Map<string, NamedTensor>();
  for (const e of entries) tensors.set(e.name, { name: e.name, shape: e.shape, data: float32FromLE(bytes.subarray(dataStart + e.begin, dataStart + e.end)) });
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

/** The tensors a checkpoint holds, in file order: parameters, buffers, then Adam's moments. */
function checkpointTensors(net: Network, opts: SaveOptions): { name: string; value: Tensor }[] {
  const params = net.params();
  const list = [...params.map((p) => ({ name: `param.${p.name}`, value: p.value })), ...net.buffers().map((q) => ({ name: `buffer.${q.name}`, value: q.value }))];
  const o = opts.optimizer;
  if (o) params.forEach((p, i) => list.push({ name: `optim.m.${p.name}`, value: o.m[i]! }, { name: `optim.v.${p.name}`, value: o.v[i]! }));
  return list;
}

/** The safetensors bytes of a checkpoint from the values of checkpointTensors() and of net.tauTensors(). */
function encodeCheckpoint(net: Network, opts: SaveOptions, values: readonly FloatArray[], aValues: readonly FloatArray[]): Uint8Array {
  const tensors: NamedTensor[] = checkpointTensors(net, opts).map((t, i) => ({ name: t.name, shape: [...t.value.shape], data: Float32Array.from(values[i]!) }));
  const metadata: Record<string, string> = {
    ...opts.extra,
    format: CHECKPOINT_FORMAT,
    config: JSON.stringify(net.config),
    tau: JSON.stringify(net.taus(aValues).map((t) => ({ layer: t.index, tau: Number.isFinite(t.tau) ? t.tau : null }))),
  };
  if (opts.optimizer) metadata.optimizer = JSON.stringify({ kind: 'adam', step: opts.optimizer.step, config: opts.optimizer.config });
  if (opts.rng) metadata.rng = JSON.stringify(opts.rng.state());
  return encodeSafetensors(tensors, metadata);
}

/** Serialises a network (and optionally optimizer and RNG state) to safetensors bytes, on a backend with synchronous readback. */
export function saveCheckpoint(net: Network, opts: SaveOptions = {}): Uint8Array {
  const b = net.backend;
  return encodeCheckpoint(net, opts, checkpointTensors(net, opts).map((t) => b.download(t.value)), net.tauTensors().map((a) => b.download(a)));
}

/** saveCheckpoint on any backend: every tensor read back with one host sync. */
export async function snapshotCheckpoint(net: Network, opts: SaveOptions = {}): Promise<Uint8Array> {
  const list = checkpointTensors(net, opts).map((t) => t.value);
  const as = net.tauTensors();
  const values = await net.backend.read([...list, ...as]);
  return encodeCheckpoint(net, opts, values.slice(0, list.length), values.slice(list.length));
}

/**
 * A checkpoint's metadata, parsed: the fields saveCheckpoint writes come back as the objects they were
 * (the file stores each as a JSON string in the safetensors `__metadata__`, which holds strings only).
 */
export interface CheckpointMetadata {
  /** The file format, CHECKPOINT_FORMAT ('plif-snn/1'). */
  format: string;
  /** The network's config, checked, with defaults filled. */
  config: NetworkConfig;
  /** tau of each spiking layer when saved (null where it is not finite, as for IF). */
  tau: { layer: number; tau: number | null }[];
  /** The saved Adam state's step and settings; null when the file holds no optimizer state. */
  optimizer: { kind: 'adam'; step: number; config: AdamConfig } | null;
  /** The saved RNG state; null when the file holds none. */
  rng: RngState | null;
  /**
   * Every other field, strings as saved (SaveOptions.extra): a run's checkpoint holds `library` (the version
   * that wrote it) and `training` (JSON of the run's settings and state; `checkpointTraining` of
   * plif-snn/training parses and checks it).
   */
  extra: Record<string, string>;
}

export interface LoadedCheckpoint {
  net: Network;
  /** The network's config (metadata.config). */
  config: NetworkConfig;
  /** Present when the file holds optimizer state: Adam's moments on the backend (free them with disposeAdam). */
  optimizer: AdamState | null;
  rngState: RngState | null;
  metadata: CheckpointMetadata;
}

/** JSON of a metadata field, or a CheckpointError naming the field. */
function metaJson(metadata: Record<string, string>, field: string): unknown {
  const text = metadata[field];
  if (text === undefined) throw new CheckpointError(`metadata field '${field}' is missing`);
  try {
    return parseJsonBounded(text);
  } catch (e) {
    throw new CheckpointError(`metadata field '${field}' is not JSON (${(e as Error).message})`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The network config of a checkpoint's metadata, validated (defaults filled) and its shapes worked out, without allocating. */
export function checkpointConfig(metadata: Record<string, string>): { config: NetworkConfig; layers: LayerShape[] } {
  const c = metaJson(metadata, 'config');
  const bad = (why: string): never => {
    throw new CheckpointError(`metadata field 'config': ${why}`);
  };
  if (!isObject(c)) return bad(`${quoteJson(c)} is not an object`);
  if (typeof c.structure !== 'string') bad(`structure is ${quoteJson(c.structure)}, not a string`);
  const input = c.input;
  if (!Array.isArray(input) || input.length !== 3 || !input.every((d) => Number.isSafeInteger(d) && d > 0 && d <= MAX_SIZE)) bad(`input is ${quoteJson(input)}, not [C, H, W] of positive integers`);
  try {
    const config = networkConfig(c.structure as string, input as [number, number, number], c.classes as number, c as Partial<NetworkConfig>); // fills defaults, validates
    return { config, layers: networkShapes(config) };
  } catch (e) {
    return bad((e as Error).message);
  }
}

/** What loadCheckpoint checks from a header alone, before any value is read. */
export interface CheckpointPlan {
  config: NetworkConfig;
  /** The metadata, parsed and checked. */
  metadata: CheckpointMetadata;
  optimizer: { step: number; config: AdamState['config'] } | null;
  rngState: RngState | null;
  /** The tensors the network reads, in the order they are checked, each with its header entry. */
  tensors: TensorEntry[];
}

/** The metadata fields saveCheckpoint writes as JSON (the rest are SaveOptions.extra). */
const OWN_FIELDS = new Set(['format', 'config', 'tau', 'optimizer', 'rng']);

/** The saved per-layer tau: [{ layer, tau }] with tau a number or null. */
function metaTau(metadata: Record<string, string>): CheckpointMetadata['tau'] {
  const t = metaJson(metadata, 'tau');
  const ok = Array.isArray(t) && t.every((e) => isObject(e) && Number.isSafeInteger(e.layer) && (e.tau === null || typeof e.tau === 'number'));
  if (!ok) throw new CheckpointError(`metadata field 'tau' is ${quoteJson(t)}, not a list of { layer, tau }`);
  return (t as { layer: number; tau: number | null }[]).map((e) => ({ layer: e.layer, tau: e.tau }));
}

/**
 * Checks a checkpoint's header against the shapes its stored config implies, reading no value: every
 * tensor present with its shape, no other tensor, the format, optimizer and RNG metadata well formed.
 * CheckpointError naming the field or the tensor.
 */
export function planCheckpoint(header: SafetensorsHeader): CheckpointPlan {
  const { metadata } = header;
  const entries = new Map(header.entries.map((e) => [e.name, e]));
  if (metadata.format !== CHECKPOINT_FORMAT) throw new CheckpointError(`not a plif-snn checkpoint: metadata format is ${quoteJson(metadata.format)}, expected '${CHECKPOINT_FORMAT}'`);
  const { config, layers } = checkpointConfig(metadata);
  const params = layers.flatMap((l) => l.params);
  const buffers = layers.flatMap((l) => l.buffers);
  const tensors: TensorEntry[] = [];
  const want = (name: string, shape: readonly number[]) => {
    const t = entries.get(name);
    if (!t) throw new CheckpointError(`checkpoint lacks tensor '${name}'`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new CheckpointError(`tensor '${name}' has shape [${t.shape}], the network needs [${shape}]`);
    tensors.push(t);
  };
  for (const p of params) want(`param.${p.name}`, p.shape);
  for (const q of buffers) want(`buffer.${q.name}`, q.shape);
  let optimizer: CheckpointPlan['optimizer'] = null;
  if (metadata.optimizer !== undefined) {
    const o = metaJson(metadata, 'optimizer');
    if (!isObject(o)) throw new CheckpointError(`metadata field 'optimizer' is ${quoteJson(o)}, not an object`);
    if (!Number.isSafeInteger(o.step) || (o.step as number) < 0) throw new CheckpointError(`metadata field 'optimizer': step must be an integer >= 0, got ${quoteJson(o.step)}`);
    if (!isObject(o.config)) throw new CheckpointError(`metadata field 'optimizer': config is ${quoteJson(o.config)}, not an object`);
    let cfg: AdamState['config'];
    try {
      cfg = adamConfig(o.config as Partial<AdamState['config']>);
    } catch (e) {
      throw new CheckpointError(`metadata field 'optimizer': ${(e as Error).message}`);
    }
    optimizer = { step: o.step as number, config: cfg };
    for (const p of params) for (const k of ['m', 'v']) want(`optim.${k}.${p.name}`, p.shape);
  }
  const wanted = new Set(tensors.map((t) => t.name));
  for (const name of entries.keys()) if (!wanted.has(name)) throw new CheckpointError(`tensor '${name}' is not part of the network ${config.structure}`);
  let rngState: RngState | null = null;
  if (metadata.rng !== undefined) {
    const r = metaJson(metadata, 'rng');
    try {
      rngState = Rng.fromState(r as number[]).state();
    } catch (e) {
      throw new CheckpointError(`metadata field 'rng': ${(e as Error).message}`);
    }
  }
  const tau = metaTau(metadata);
  const extra = Object.fromEntries(Object.entries(metadata).filter(([k]) => !OWN_FIELDS.has(k)));
  const parsed: CheckpointMetadata = { format: metadata.format, config, tau, optimizer: optimizer && { kind: 'adam', ...optimizer }, rng: rngState, extra };
  return { config, metadata: parsed, optimizer, rngState, tensors };
}

/**
 * Builds the network of a plan on `backend` from the values of its tensors (by name): each checked to be
 * finite first (CheckpointError naming the tensor and the index).
 */
export function buildCheckpoint(backend: Backend, plan: CheckpointPlan, values: ReadonlyMap<string, Float32Array>): LoadedCheckpoint {
  const data = new Map<string, Float32Array>();
  for (const t of plan.tensors) {
    const v = values.get(t.name);
    if (!v) throw new CheckpointError(`checkpoint lacks tensor '${t.name}'`);
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i]!)) throw new CheckpointError(`tensor '${t.name}' holds ${v[i]} at index ${i}`);
    }
    data.set(t.name, v);
  }
  const { config, metadata, rngState } = plan;
  const optim = plan.optimizer;
  const net = new Network(backend, config, Rng.seeded(0));
  const uploaded: Tensor[] = [];
  try {
    for (const p of net.params()) {
      const v = backend.upload(data.get(`param.${p.name}`)!, p.value.shape);
      backend.dispose(p.value);
      p.value = v;
    }
    for (const q of net.buffers()) {
      const v = backend.upload(data.get(`buffer.${q.name}`)!, q.value.shape);
      backend.dispose(q.value);
      q.value = v;
    }
    let optimizer: AdamState | null = null;
    if (optim) {
      // each kept in `uploaded` as soon as it exists, so a failed upload frees all before it
      const moments = (which: 'm' | 'v') =>
        net.params().map((p) => {
          const t = backend.upload(data.get(`optim.${which}.${p.name}`)!, p.value.shape);
          uploaded.push(t);
          return t;
        });
      const m = moments('m');
      const v = moments('v');
      optimizer = { config: optim.config, step: optim.step, m, v };
    }
    return { net, config, optimizer, rngState, metadata };
  } catch (e) {
    for (const t of uploaded) backend.dispose(t);
    net.dispose();
    throw e;
  }
}

/**
 * Rebuilds the network on `backend` from checkpoint bytes (and the optimizer/RNG state when saved). The
 * header is checked against the shapes the stored config implies before any value is read (planCheckpoint),
 * then the values are checked to be finite and the network is built (buildCheckpoint).
 */
export function loadCheckpoint(backend: Backend, bytes: Uint8Array): LoadedCheckpoint {
  const hl = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.length);
  const dataStart = 8 + hl;
  const plan = planCheckpoint(parseSafetensorsHeader(bytes.subarray(8, dataStart), bytes.length - dataStart));
  const values = new Map(plan.tensors.map((t) => [t.name, float32FromLE(bytes.subarray(dataStart + t.begin, dataStart + t.end))]));
  return buildCheckpoint(backend, plan, values);
}
