// Static image datasets: MNIST, Fashion-MNIST (IDX) and CIFAR-10 (binary batches).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CIFAR10_CLASSES, CIFAR10_TEST_FILES, CIFAR10_TRAIN_FILES, readCifar10Batches } from './cifar10.js';
import { readIdxPair } from './idx.js';
import { locateDataset, type LocateOptions } from './locate.js';
import { FASHION_MNIST_CLASSES, idxFiles, MNIST_CLASSES, type Split, type StaticDatasetName } from './names.js';

/** A static image dataset split held in memory as raw bytes. */
export interface StaticDataset {
  name: StaticDatasetName;
  split: Split;
  /** Pixels 0..255, [n, C, H, W] row-major. Use toFloatImages / prepareBatch for network input. */
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
  shape: [number, number, number];
  classes: readonly string[];
  /** The directory the files were read from, and the files. */
  dir: string;
  files: string[];
}

function idxPath(dir: string, gz: string): string {
  const p = join(dir, gz);
  return existsSync(p) ? p : join(dir, gz.slice(0, -3));
}

/** Loads a split of 'mnist', 'fashion-mnist' or 'cifar10' from its located data directory. */
export async function loadStaticDataset(name: StaticDatasetName, split: Split, opts: LocateOptions = {}): Promise<StaticDataset> {
  if (split !== 'train' && split !== 'test') throw new RangeError(`split must be 'train' or 'test', got ${String(split)}`);
  const dir = locateDataset(name, split, opts);
  if (name === 'cifar10') {
    const files = (split === 'train' ? CIFAR10_TRAIN_FILES : CIFAR10_TEST_FILES).map((f) => join(dir, f));
    const { images, labels, n } = await readCifar10Batches(files);
    return { name, split, images, labels, n, shape: [3, 32, 32], classes: CIFAR10_CLASSES, dir, files };
  }
  if (name !== 'mnist' && name !== 'fashion-mnist') throw new RangeError(`'${String(name)}' is not a static dataset`);
  const f = idxFiles(split);
  const files = [idxPath(dir, f.images), idxPath(dir, f.labels)];
  const { images, labels, n, rows, cols } = await readIdxPair(files[0]!, files[1]!, 10);
  return { name, split, images, labels, n, shape: [1, rows, cols], classes: name === 'mnist' ? MNIST_CLASSES : FASHION_MNIST_CLASSES, dir, files };
}
