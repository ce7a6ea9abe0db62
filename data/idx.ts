// IDX files (MNIST, Fashion-MNIST; LeCun et al.), raw or gzip-compressed.
// Header: two zero bytes, a type byte (0x08 = unsigned byte), a byte with the number of dimensions,
// then one big-endian u32 per dimension; then the data, C order. Images: magic 0x00000803
// [n, rows, cols]; labels: magic 0x00000801 [n].
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createGunzip, gunzipSync } from 'node:zlib';
import { decodeIdxHeader, idxTrailingBytes, isGzip, truncatedIdxData, type IdxArray, type IdxHeader } from './idx-decode.js';
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

/**
 * Reads an IDX file (gzip or raw) with `ndim` dimensions, deciding from its header first: the magic is
 * checked on the first bytes (of the inflated stream for gzip), the data's length against what the
 * dimensions declare, and no more than that is read or inflated. A refusal costs memory and time in
 * proportion to the header, not the file.
 */
export async function readIdxFile(file: string, ndim: number): Promise<IdxArray> {
  const fh = await open(file, 'r');
  let size: number;
  let first: Uint8Array;
  try {
    size = (await fh.stat()).size;
    first = new Uint8Array(Math.min(size, 4 + 4 * ndim));
    for (let done = 0; done < first.length; ) {
      const { bytesRead } = await fh.read(first, done, first.length - done, done);
      if (bytesRead === 0) {
        first = first.subarray(0, done);
        break;
      }
      done += bytesRead;
    }
    if (!isGzip(first)) {
      const h = decodeIdxHeader(first, file, ndim)!;
      const have = size - h.head;
      if (have < h.count) throw truncatedIdxData(file, h, have);
      if (have > h.count) throw idxTrailingBytes(file, h, have - h.count);
      const data = new Uint8Array(h.count);
      for (let done = 0; done < h.count; ) {
        const { bytesRead } = await fh.read(data, done, h.count - done, h.head + done);
        if (bytesRead === 0) throw truncatedIdxData(file, h, done); // the file shrank while being read
        done += bytesRead;
      }
      return { data, dims: h.dims };
    }
  } finally {
    await fh.close();
  }
  return gunzipIdx(file, ndim);
}

/** Inflates a gzip IDX file chunk by chunk, checking the header as soon as its bytes are out. */
async function gunzipIdx(file: string, ndim: number): Promise<IdxArray> {
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  const gunzip = createGunzip({ chunkSize: 1 << 20 }); // the magic is checked on the first MiB inflated
  source.on('error', (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  const chunks: Uint8Array[] = [];
  let total = 0;
  let h: IdxHeader | null = null;
  let prefix = new Uint8Array(0);
  try {
    try {
      for await (const chunk of gunzip as AsyncIterable<Buffer>) {
        const bytes = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        if (!h) {
          const joined = new Uint8Array(prefix.length + bytes.length);
          joined.set(prefix);
          joined.set(bytes, prefix.length);
          h = decodeIdxHeader(joined, file, ndim, false);
          if (!h) {
            prefix = joined;
            continue;
          }
          prefix = new Uint8Array(0);
          const rest = joined.subarray(h.head);
          if (rest.length > h.count) throw idxTrailingBytes(file, h, rest.length - h.count, true);
          chunks.push(rest.slice());
          total = rest.length;
          continue;
        }
        if (total + bytes.length > h.count) throw idxTrailingBytes(file, h, total + bytes.length - h.count, true);
        chunks.push(bytes);
        total += bytes.length;
      }
    } catch (err) {
      if (err instanceof DataFormatError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (typeof code === 'string' && code.startsWith('Z_')) {
        throw new DataFormatError(file, null, `damaged gzip stream (${(err as Error).message})`);
      }
      throw err;
    }
  } finally {
    source.destroy();
    gunzip.destroy();
  }
  if (!h) decodeIdxHeader(prefix, file, ndim); // throws: the stream ended inside the header
  if (total < h!.count) throw truncatedIdxData(file, h!, total);
  const data = new Uint8Array(h!.count);
  let at = 0;
  for (const c of chunks) {
    data.set(c, at);
    at += c.length;
  }
  return { data, dims: h!.dims };
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
