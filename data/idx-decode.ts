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

/** An IDX header: the dimensions, the header's length and the number of data bytes it declares. */
export interface IdxHeader {
  dims: number[];
  head: number;
  count: number;
}

/**
 * Decodes the header at the start of `bytes` (an IDX file or its first bytes; `ended`: no more follow):
 * the magic is checked from the first 4 bytes. Null when more bytes are needed.
 */
export function decodeIdxHeader(bytes: Uint8Array, file: string, ndim: number, ended = true): IdxHeader | null {
  if (bytes.length < 4) {
    if (!ended) return null;
    throw new DataFormatError(file, 0, `truncated IDX header: ${bytes.length} byte(s)`);
  }
  const magic = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const want = 0x800 | ndim;
  if (magic !== want) {
    const hint = magic === 0x801 || magic === 0x803 ? ` (a ${magic === 0x801 ? 'labels' : 'images'} file where ${ndim === 1 ? 'labels' : 'images'} were expected)` : '';
    throw new DataFormatError(file, 0, `bad IDX magic 0x${magic.toString(16).padStart(8, '0')}, expected 0x${want.toString(16).padStart(8, '0')}${hint}`);
  }
  const head = 4 + 4 * ndim;
  if (bytes.length < head) {
    if (!ended) return null;
    throw new DataFormatError(file, bytes.length, `truncated IDX header: ${bytes.length} of ${head} bytes`);
  }
  const dims: number[] = [];
  for (let d = 0; d < ndim; d++) {
    const o = 4 + 4 * d;
    dims.push(((bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!) >>> 0);
  }
  return { dims, head, count: dims.reduce((a, b) => a * b, 1) };
}

/** The error for an IDX file whose data ends before its dimensions say (`have` data bytes). */
export function truncatedIdxData(file: string, h: IdxHeader, have: number): DataFormatError {
  return new DataFormatError(file, h.head + have, `truncated IDX data: dimensions [${h.dims.join(', ')}] need ${h.count} bytes after the ${h.head}-byte header, the file has ${have} (ends at this offset)`);
}

/** The error for an IDX file with `extra` bytes after its data (`atLeast`: perhaps more). */
export function idxTrailingBytes(file: string, h: IdxHeader, extra: number, atLeast = false): DataFormatError {
  return new DataFormatError(file, h.head + h.count, `${atLeast ? 'at least ' : ''}${extra} unexpected byte(s) after the IDX data of dimensions [${h.dims.join(', ')}]`);
}

/** Decodes an (uncompressed) IDX buffer of unsigned bytes with `ndim` dimensions. */
export function decodeIdx(bytes: Uint8Array, file: string, ndim: number): IdxArray {
  const h = decodeIdxHeader(bytes, file, ndim)!;
  const have = bytes.length - h.head;
  if (have < h.count) throw truncatedIdxData(file, h, have);
  if (have > h.count) throw idxTrailingBytes(file, h, have - h.count);
  return { data: bytes.subarray(h.head, h.head + h.count), dims: h.dims };
}
