// IDX files (MNIST, Fashion-MNIST; LeCun et al.), raw or gzip-compressed.
// Header: two zero bytes, a type byte (0x08 = unsigned byte), a byte with the number of dimensions,
// then one big-endian u32 per dimension; then the data, C order. Images: magic 0x00000803
// [n, rows, cols]; labels: magic 0x00000801 [n].
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { decodeIdx, isGzip, type IdxArray } from './idx-decode.js';
import { DataFormatError } from './errors.js';

/** Gunzips when the bytes are gzip, naming the file if the stream is damaged. */
export function maybeGunzip(bytes: Uint8Array, file: string): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    throw new DataFormatError(file, null, `damaged gzip stream (${(err as Error).message})`);
  }
}

/** Reads an IDX file (gzip or raw) with `ndim` dimensions. */
export async function readIdxFile(file: string, ndim: number): Promise<IdxArray> {
  const raw = await readFile(file);
  return decodeIdx(maybeGunzip(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), file), file, ndim);
}

/** Reads a pair of IDX image/label files and checks that they agree. */
export async function readIdxPair(imagesFile: string, labelsFile: string, classes: number): Promise<{ images: Uint8Array; labels: Uint8Array; n: number; rows: number; cols: number }> {
  const [im, lb] = await Promise.all([readIdxFile(imagesFile, 3), readIdxFile(labelsFile, 1)]);
  const [n, rows, cols] = im.dims as [number, number, number];
  if (lb.dims[0] !== n) throw new DataFormatError(labelsFile, 4, `${lb.dims[0]} labels for ${n} images in ${imagesFile}`);
  const labels = lb.data;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! >= classes) throw new DataFormatError(labelsFile, 8 + i, `label ${labels[i]} of sample ${i} is not below ${classes} (offset in the uncompressed data)`);
  }
  return { images: im.data, labels, n, rows, cols };
}
