// A static image dataset held in memory as a SampleSource: batches normalised, and augmented per the paper's
// recipe when an RNG is given. No I/O: the CLI reads the files (training/source.ts), the browser page
// fetches them or takes dropped files.
import type { StaticDataset } from '../data/static.js';
import { prepareBatch } from '../data/transforms.js';
import type { SampleSource } from './sample-source.js';

/** intensities: pixels in [0, 1], not normalised (what the spike encoders take). */
export function staticSource(ds: StaticDataset, intensities = false): SampleSource {
  const C = ds.shape[0];
  const unit = intensities ? { norm: { mean: new Array<number>(C).fill(0), std: new Array<number>(C).fill(1) } } : {};
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
      prepareBatch(ds, indices, augment ? { augment: true, rng: augment, ...unit } : { augment: false, ...unit }),
  };
}
