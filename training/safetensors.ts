// The safetensors layout: an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
// shape and byte range, then the little-endian float32 data. Metadata values are strings.
export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: ArrayLike<number>;
}

export class CheckpointFormatError extends Error {
  override readonly name = 'CheckpointFormatError';
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
  }
}

export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const size = t.shape.reduce((a, d) => a * d, 1);
    if (size !== t.data.length) throw new RangeError(`tensor ${t.name}: shape [${t.shape.join(', ')}] does not hold ${t.data.length} values`);
    if (Object.hasOwn(header, t.name)) throw new RangeError(`tensor name ${t.name} used twice`);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' '; // align the data to 8 bytes
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let p = 8 + head.length;
  for (const t of tensors) {
    for (let i = 0; i < t.data.length; i++, p += 4) view.setFloat32(p, t.data[i]!, true);
  }
  return out;
}

export interface DecodedSafetensors {
  metadata: Record<string, string>;
  tensors: Map<string, { shape: number[]; data: Float32Array }>;
}

export function decodeSafetensors(bytes: Uint8Array, file: string): DecodedSafetensors {
  if (bytes.length < 8) throw new CheckpointFormatError(file, `${bytes.length} bytes: too short for a safetensors header (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) throw new CheckpointFormatError(file, `header length ${n} exceeds the file (${bytes.length} bytes): truncated or not a safetensors file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + Number(n))));
  } catch {
    throw new CheckpointFormatError(file, 'the header is not JSON: not a safetensors file');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new CheckpointFormatError(file, 'the header is not a JSON object');
  const dataStart = 8 + Number(n);
  const metadata = (header['__metadata__'] ?? {}) as Record<string, string>;
  const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') throw new CheckpointFormatError(file, `tensor ${name}: dtype ${String(e.dtype)}, only F32 is read`);
    const shape = e.shape as number[];
    const [from, to] = e.data_offsets as [number, number];
    const size = shape.reduce((a, d) => a * d, 1);
    if (!Array.isArray(shape) || !Number.isInteger(from) || to - from !== 4 * size) throw new CheckpointFormatError(file, `tensor ${name}: byte range does not match its shape`);
    if (dataStart + to > bytes.length) throw new CheckpointFormatError(file, `tensor ${name}: data ends at byte ${dataStart + to}, the file has ${bytes.length} (truncated)`);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = view.getFloat32(dataStart + from + 4 * i, true);
    tensors.set(name, { shape, data });
  }
  return { metadata, tensors };
}
