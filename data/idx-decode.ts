// IDX files (MNIST, Fashion-MNIST; LeCun et al.): decoding of the bytes (no I/O; data/idx.ts reads files).
// Header: two zero bytes, a type byte (0x08 = unsigned byte), a byte with the number of dimensions,
// then one big-endian u32 per dimension; then the data, C order. Images: magic 0x00000803
// [n, rows, cols]; labels: magic 0x00000801 [n].
import { DataFormatError } from './errors.js';

export interface IdxArray {
  data: Uint8Array;
  dims: number[];
}

/** True when bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decodes an (uncompressed) IDX buffer of unsigned bytes with `ndim` dimensions. */
export function decodeIdx(bytes: Uint8Array, file: string, ndim: number): IdxArray {
  if (bytes.length < 4) throw new DataFormatError(file, 0, `truncated IDX header: ${bytes.length} byte(s)`);
  const magic = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const want = 0x800 | ndim;
  if (magic !== want) {
    const hint = magic === 0x801 || magic === 0x803 ? ` (a ${magic === 0x801 ? 'labels' : 'images'} file where ${ndim === 1 ? 'labels' : 'images'} were expected)` : '';
    throw new DataFormatError(file, 0, `bad IDX magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${want.toString(16).padStart(8, '0')}${hint}`);
  }
  const head = 4 + 4 * ndim;
  if (bytes.length < head) throw new DataFormatError(file, bytes.length, `truncated IDX header: ${bytes.length} of ${head} bytes`);
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) {
    const o = 4 + 4 * d;
    dims.push(((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const have = bytes.length - head;
  if (have < count) {
    throw new DataFormatError(file, bytes.length, `truncated IDX data: dimensions [${dims.join(', ')}] need ${count} bytes after the ${head}-byte header, the file has ${have} (ends at this offset)`);
  }
  if (have > count) {
    throw new DataFormatError(file, head + count, `${have - count} unexpected byte(s) after the IDX data of dimensions [${dims.join(', ')}]`);
  }
  return { data: bytes.subarray(head, head + count), dims };
}
