// What a training run reads samples through: a split of a dataset, its labels and a batch maker. Node's readers
// (training/source.ts) and the page's in-memory data (training/static-source.ts) both make one.
import type { Rng } from '../core/rng.js';
import type { DatasetName, Split } from '../data/names.js';

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
