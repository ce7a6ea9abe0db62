// Datasets of the browser page: the IDX files of Fashion-MNIST (or MNIST), fetched from `plif serve`
// (data/<dataset>/<file>) or taken from files dropped onto the page, gzip or raw, decoded by the library's
// IDX decoder (data/idx-decode.ts). Works in a window and in a worker (fetch, DecompressionStream).
import { DataFormatError } from '../data/errors.js';
import { decodeIdx, isGzip } from '../data/idx-decode.js';
import { FASHION_MNIST_CLASSES, idxFiles, MNIST_CLASSES, type Split } from '../data/names.js';
import type { StaticDataset } from '../data/static.js';

export type IdxDatasetName = 'fashion-mnist' | 'mnist';

/** The four files of a dataset by their canonical .gz name (train-images-idx3-ubyte.gz, ...). */
export type IdxFileSet = Map<string, Uint8Array>;

/** Canonical name of a dropped or fetched file (the .gz name), or null when it is not one of the four IDX files. */
export function canonicalIdxName(name: string): string | null {
  const base = name.split(/[\\/]/).pop()!.toLowerCase();
  for (const split of ['train', 'test'] as const) {
    for (const f of Object.values(idxFiles(split))) {
      const raw = f.slice(0, -3);
      // browsers and archivers may turn '-idx3-ubyte' into '.idx3-ubyte'
      if (base === f || base === raw || base.replace(/\./g, '-') === f.replace(/\./g, '-') || base.replace(/\./g, '-') === raw.replace(/\./g, '-')) return f;
    }
  }
  return null;
}

/** Gunzips gzip bytes (DecompressionStream); other bytes are returned as they are. */
export async function gunzipIfNeeded(bytes: Uint8Array, file: string): Promise<Uint8Array> {
  if (!isGzip(bytes)) return bytes;
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (err) {
    throw new DataFormatError(file, null, `damaged gzip stream (${(err as Error).message})`);
  }
}

/** One split of an IDX dataset from its files (decoded and checked as the CLI's reader does). */
export async function idxDataset(name: IdxDatasetName, split: Split, files: IdxFileSet, where: string): Promise<StaticDataset> {
  const f = idxFiles(split);
  const get = async (gz: string, ndim: number) => {
    const bytes = files.get(gz);
    if (!bytes) throw new Error(`${name} ${split}: ${gz} is missing (fetch it from plif serve, or drop it onto the page)`);
    return decodeIdx(await gunzipIfNeeded(bytes, gz), gz, ndim);
  };
  const im = await get(f.images, 3);
  const lb = await get(f.labels, 1);
  const [n, rows, cols] = im.dims as [number, number, number];
  if (lb.dims[0] !== n) throw new DataFormatError(f.labels, 4, `${lb.dims[0]} labels for ${n} images in ${f.images}`);
  for (let i = 0; i < lb.data.length; i++) if (lb.data[i]! >= 10) throw new DataFormatError(f.labels, 8 + i, `label ${lb.data[i]} of sample ${i} is not below 10`);
  return { name, split, images: im.data, labels: lb.data, n, shape: [1, rows, cols], classes: name === 'mnist' ? MNIST_CLASSES : FASHION_MNIST_CLASSES, dir: where, files: [f.images, f.labels] };
}

/**
 * Fetches the four IDX files of `name` from `base` (plif serve offers data/<dataset>/<file.gz>); the
 * files it cannot fetch are left out (the page then asks for them to be dropped).
 */
export async function fetchIdxFiles(base: string, name: IdxDatasetName): Promise<{ files: IdxFileSet; missing: string[] }> {
  const files: IdxFileSet = new Map();
  const missing: string[] = [];
  const all = [...Object.values(idxFiles('train')), ...Object.values(idxFiles('test'))];
  await Promise.all(
    all.map(async (gz) => {
      try {
        const r = await fetch(new URL(`data/${name}/${gz}`, base));
        if (!r.ok) throw new Error(`HTTP ${r.status}`);
        files.set(gz, new Uint8Array(await r.arrayBuffer()));
      } catch {
        missing.push(gz);
      }
    }),
  );
  return { files, missing };
}
