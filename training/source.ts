// Where a training run's samples come from: a static image dataset (images normalised, augmented per the
// paper's recipe) or an event dataset (frames of Eq. S1 from the cache), behind one batch() call that
// returns the network input: [B, C, H, W] for static images, [T, B, 2, H, W] for events.
import {
  eventBatch,
  loadEventDataset,
  loadStaticDataset,
  prepareBatch,
  type DatasetName,
  type EventDataset,
  type LocateOptions,
  type Split,
  type StaticDataset,
} from '../data/index.js';
import type { Rng } from '../core/rng.js';

export interface SampleSource {
  readonly dataset: DatasetName;
  readonly split: Split;
  readonly n: number;
  readonly labels: Uint8Array;
  readonly classes: readonly string[];
  /** Per-step input shape [C, H, W]. */
  readonly shape: readonly [number, number, number];
  readonly static: boolean;
  /** Where the files were read from. */
  readonly dir: string;
  /** Network input of the samples `indices`; augmentation (training only) draws from `rng`. */
  batch(indices: ArrayLike<number>, T: number, augment: Rng | null): Promise<Float32Array>;
}

const STATIC = new Set<DatasetName>(['mnist', 'fashion-mnist', 'cifar10']);

export function isStaticDataset(name: DatasetName): name is 'mnist' | 'fashion-mnist' | 'cifar10' {
  return STATIC.has(name);
}

export async function openSource(dataset: DatasetName, split: Split, opts: LocateOptions & { cacheDir?: string | null } = {}): Promise<SampleSource> {
  if (isStaticDataset(dataset)) return staticSource(await loadStaticDataset(dataset, split, opts));
  return eventSource(await loadEventDataset(dataset, split, opts));
}

function staticSource(ds: StaticDataset): SampleSource {
  return {
    dataset: ds.name,
    split: ds.split,
    n: ds.n,
    labels: ds.labels,
    classes: ds.classes,
    shape: ds.shape,
    static: true,
    dir: ds.dir,
    batch: async (indices, _T, augment) =>
      prepareBatch(ds, indices, augment ? { augment: true, rng: augment } : { augment: false }),
  };
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
