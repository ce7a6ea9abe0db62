// NumPy .npy files, format version 1.0 (numpy/lib/format.py): magic "\x93NUMPY", version bytes 1 0,
// u16 little-endian header length, an ASCII dict {'descr', 'fortran_order', 'shape'} padded with
// spaces and ending in '\n' so that the data starts at a multiple of 64 bytes; then the raw data, C order.
import { DataFormatError } from './errors.js';

export type NpyArray = Float32Array | Float64Array | Uint8Array | Uint16Array | Uint32Array | Int32Array;

const DESCR: Array<[string, new (n: number) => NpyArray, number]> = [
  ['<f4', Float32Array, 4],
  ['<f8', Float64Array, 8],
  ['|u1', Uint8Array, 1],
  ['<u2', Uint16Array, 2],
  ['<u4', Uint32Array, 4],
  ['<i4', Int32Array, 4],
];

function descrOf(a: NpyArray): string {
  for (const [d, C] of DESCR) if (a instanceof C) return d;
  throw new TypeError('unsupported array type for .npy');
}

/** Encodes a typed array with a shape as .npy bytes (little-endian machines, as Node on x86/ARM). */
export function encodeNpy(data: NpyArray, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`shape [${shape.join(', ')}] holds ${count} values, the array has ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descrOf(data)}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  out[8] = header.length & 0xff;
  out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

/** Decodes .npy bytes written by encodeNpy (or numpy, C order, the dtypes above). */
export function decodeNpy(bytes: Uint8Array, file = '<npy>'): { data: NpyArray; shape: number[] } {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) throw new DataFormatError(file, 0, 'not a .npy file (bad magic)');
  const major = bytes[6]!;
  let hlen: number;
  let start: number;
  if (major === 1) {
    hlen = bytes[8]! | (bytes[9]! << 8);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new DataFormatError(file, 8, 'truncated .npy header');
    hlen = (bytes[8]! | (bytes[9]! << 8) | (bytes[10]! << 16) | (bytes[11]! << 24)) >>> 0;
    start = 12;
  } else {
    throw new DataFormatError(file, 6, `unsupported .npy version ${major}`);
  }
  if (start + hlen > bytes.length) throw new DataFormatError(file, start, 'truncated .npy header');
  let header = '';
  for (let i = 0; i < hlen; i++) header += String.fromCharCode(bytes[start + i]!);
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new DataFormatError(file, start, `bad .npy header ${header.trim()}`);
  if (fortran === 'True') throw new DataFormatError(file, start, 'Fortran-order .npy arrays are not supported');
  const entry = DESCR.find(([d]) => d === descr);
  if (!entry) throw new DataFormatError(file, start, `unsupported .npy dtype ${descr}`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const off = start + hlen;
  const [, C, size] = entry;
  if (bytes.length - off !== count * size) {
    throw new DataFormatError(file, off, `.npy data has ${bytes.length - off} bytes, shape [${shape.join(', ')}] needs ${count * size}`);
  }
  const data = new C(count);
  new Uint8Array(data.buffer).set(bytes.subarray(off, off + count * size));
  return { data, shape };
}
