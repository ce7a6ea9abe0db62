// Where a training run's samples come from: a static image dataset (images normalised, augmented per the
// paper's recipe) or an event dataset (frames of Eq. S1 from the cache), behind one batch() call that
// returns the network input: [B, C, H, W] for static images, [T, B, 2, H, W] for events.
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { FileIoError } from '../data/file-io.js';
import {
  CIFAR10_TEST_FILES,
  CIFAR10_TRAIN_FILES,
  eventBatch,
  idxFiles,
  locateDataset,
  loadEventDataset,
  loadStaticDataset,
  type DatasetName,
  type EventDataset,
  type LocateOptions,
  type Split,
} from '../data/index.js';
import type { SampleSource } from './sample-source.js';
import { staticSource } from './static-source.js';


const STATIC = new Set<DatasetName>(['mnist', 'fashion-mnist', 'cifar10']);

export function isStaticDataset(name: DatasetName): name is 'mnist' | 'fashion-mnist' | 'cifar10' {
  return STATIC.has(name);
}

/** intensities: static images as pixels in [0, 1], not normalised (what the spike encoders take). */
export async function openSource(dataset: DatasetName, split: Split, opts: LocateOptions & { cacheDir?: string | null; intensities?: boolean } = {}): Promise<SampleSource> {
  try {
    if (isStaticDataset(dataset)) return staticSource(await loadStaticDataset(dataset, split, opts), opts.intensities ?? false);
    return eventSource(await loadEventDataset(dataset, split, opts));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (typeof code !== 'string' || !code.startsWith('E')) throw err;
    throw await explainReadError(dataset, split, opts, err);
  }
}

/**
 * An errno error while reading a dataset (Node's text often lacks the path: `EISDIR: illegal operation on
 * a directory, read`): the file at fault when one of the expected files is not a regular file, else the
 * dataset, the split and the directory.
 */
async function explainReadError(dataset: DatasetName, split: Split, opts: LocateOptions, err: unknown): Promise<Error> {
  let dir: string | null = null;
  try {
    dir = locateDataset(dataset, split, opts);
  } catch {
    // keep dir null
  }
  const errPath = (err as NodeJS.ErrnoException).path;
  const files: string[] = [];
  if (dir !== null && isStaticDataset(dataset)) {
    if (dataset === 'cifar10') files.push(...(split === 'train' ? CIFAR10_TRAIN_FILES : CIFAR10_TEST_FILES).map((f) => join(dir!, f)));
    else {
      const f = idxFiles(split);
      for (const gz of [f.images, f.labels]) files.push(existsSync(join(dir, gz)) ? join(dir, gz) : join(dir, gz.slice(0, -3)));
    }
  }
  for (const f of files) {
    const st = await stat(f).catch(() => null);
    if (st?.isDirectory()) return new FileIoError(f, 'read the data file', err, 'it is a directory, not a data file');
    if (st && !st.isFile()) return new FileIoError(f, 'read the data file', err, 'it is not a regular file');
  }
  if (errPath) return new FileIoError(errPath, `read the ${dataset} ${split} set from`, err);
  return new FileIoError(dir ?? dataset, `read the ${dataset} ${split} set in`, err);
}

function eventSource(ds: EventDataset): SampleSource {
  return {
    dataset: ds.name,
    split: ds.split,
    n: ds.n,
    labels: ds.labels,
    classes: ds.classes,
    shape: ds.shape,
    static: false,
    dir: ds.dir,
    batch: (indices, T) => eventBatch(ds, indices, T), // [T, B, 2, H, W]
  };
}
