// openSource in process, on tiny datasets in their original formats written here: what a static or an event
// source holds and returns from batch(), what passes through unchanged (a dataset not found, a bad file)
// and how an errno error while reading is explained (the file at fault, else the split and directory).
// staticSource on its own: normalised, unit-intensity and augmented batches.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Rng } from '../../core/rng.js';
import { DataFormatError, DatasetNotFoundError, FileIoError, type DatasetName } from '../../data/index.js';
import type { StaticDataset } from '../../data/static.js';
import { randomAffine } from '../../data/transforms.js';
import { isStaticDataset, openSource } from '../../training/source.js';
import { staticSource } from '../../training/static-source.js';
import { cifarBatch, idxBytes, nmnistBytes } from '../data/writers.js';

let root: string;
const servers: Server[] = [];

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'plif-src-'));
});

afterEach(async () => {
  vi.unstubAllEnvs();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  rmSync(root, { recursive: true, force: true });
});

/** pixel k of sample i of a split (distinct values, 0..255). */
const px = (i: number, k: number) => (i * 37 + k * 11) & 255;

/** An MNIST-style directory: train (nTrain) and t10k (nTest) samples of rows x cols, raw or gzip. */
function writeIdx(dir: string, opts: { nTrain?: number; nTest?: number; rows?: number; cols?: number; gzip?: boolean; labels?: number[] } = {}): string {
  const { nTrain = 3, nTest = 2, rows = 2, cols = 3, gzip = false } = opts;
  mkdirSync(dir, { recursive: true });
  const sfx = gzip ? '.gz' : '';
  for (const [prefix, n] of [['train', nTrain], ['t10k', nTest]] as const) {
    const images = Array.from({ length: n * rows * cols }, (_, k) => px(Math.floor(k / (rows * cols)), k % (rows * cols)));
    const labels = opts.labels ?? Array.from({ length: n }, (_, i) => (i * 3) % 10);
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte${sfx}`), idxBytes([n, rows, cols], images, gzip));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte${sfx}`), idxBytes([n], labels.slice(0, n), gzip));
  }
  return dir;
}

/** A CIFAR-10 binary directory: five training batches of one record each and a test batch of two. */
function writeCifar(dir: string): string {
  mkdirSync(dir, { recursive: true });
  for (let b = 1; b <= 5; b++) writeFileSync(join(dir, `data_batch_${b}.bin`), cifarBatch([b], (_i, k) => k + b));
  writeFileSync(join(dir, 'test_batch.bin'), cifarBatch([7, 2], (i, k) => px(i, k)));
  return dir;
}

/** An N-MNIST directory: one sample per digit and split; digit c's two events at (c, c+1) then (c+2, c+3). */
function writeNMnist(dir: string): string {
  for (const folder of ['Train', 'Test']) {
    for (let c = 0; c < 10; c++) {
      mkdirSync(join(dir, folder, String(c)), { recursive: true });
      const events = [
        { x: c, y: c + 1, p: 1, t: 100 },
        { x: c + 2, y: c + 3, p: 0, t: 200 },
      ];
      writeFileSync(join(dir, folder, String(c), '0.bin'), nmnistBytes(events));
    }
  }
  return dir;
}

/** A unix socket at `path`: a file that is neither regular nor a directory, and cannot be opened (ENXIO). */
async function socketAt(path: string): Promise<void> {
  const s = createServer();
  servers.push(s);
  await new Promise<void>((r) => s.listen(path, r));
}

const unit = (p: number) => Math.fround(p / 255);

describe('isStaticDataset', () => {
  it('is true for the image datasets only', () => {
    const names: DatasetName[] = ['mnist', 'fashion-mnist', 'cifar10', 'nmnist', 'cifar10dvs', 'dvs128'];
    expect(names.map((n) => isStaticDataset(n))).toEqual([true, true, true, false, false, false]);
  });
});

describe('openSource: static datasets', () => {
  it('MNIST from raw IDX files: its fields, and batches normalised with the MNIST mean and std', async () => {
    const dir = writeIdx(join(root, 'mnist'));
    const src = await openSource('mnist', 'train', { dataDir: dir });
    expect(src.dataset).toBe('mnist');
    expect(src.split).toBe('train');
    expect(src.n).toBe(3);
    expect(Array.from(src.labels)).toEqual([0, 3, 6]);
    expect(src.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(src.shape).toEqual([1, 2, 3]);
    expect(src.static).toBe(true);
    expect(src.dir).toBe(dir);
    const x = await src.batch(Uint32Array.of(2, 0), 4, null); // T plays no part in a static batch
    const want = [2, 0].flatMap((i) => Array.from({ length: 6 }, (_, k) => (px(i, k) / 255 - 0.1307) / 0.3081));
    expect(x).toBeInstanceOf(Float32Array);
    expect(Array.from(x)).toEqual(want.map((v) => expect.closeTo(v, 5)));
  });

  it('intensities: pixels in [0, 1], not normalised; the test split from gzip files', async () => {
    const dir = writeIdx(join(root, 'fm'), { gzip: true });
    const src = await openSource('fashion-mnist', 'test', { dataDir: dir, intensities: true });
    expect(src.dataset).toBe('fashion-mnist');
    expect(src.split).toBe('test');
    expect(src.n).toBe(2);
    expect(src.classes[0]).toBe('T-shirt/top');
    const x = await src.batch(Uint32Array.of(1), 1, null);
    expect(Array.from(x)).toEqual(Array.from({ length: 6 }, (_, k) => unit(px(1, k))));
  });

  it('without options: $PLIF_DATA/<dataset> is where the files are looked for', async () => {
    writeIdx(join(root, 'fashion-mnist'));
    vi.stubEnv('PLIF_DATA', root);
    const src = await openSource('fashion-mnist', 'train');
    expect(src.dir).toBe(join(root, 'fashion-mnist'));
    expect(src.n).toBe(3);
    const x = await src.batch(Uint32Array.of(0), 1, null);
    expect(x[1]).toBeCloseTo((px(0, 1) / 255 - 0.286) / 0.353, 5);
  });

  it('CIFAR-10: three channels, the five training batches in order, the test batch for the test split', async () => {
    const dir = writeCifar(join(root, 'c10'));
    const train = await openSource('cifar10', 'train', { dataDir: dir });
    expect(train.n).toBe(5);
    expect(Array.from(train.labels)).toEqual([1, 2, 3, 4, 5]);
    expect(train.shape).toEqual([3, 32, 32]);
    expect(train.classes[9]).toBe('truck');
    const test = await openSource('cifar10', 'test', { dataDir: dir, intensities: true });
    expect(Array.from(test.labels)).toEqual([7, 2]);
    const x = await test.batch(Uint32Array.of(1), 1, null);
    expect(x.length).toBe(3072);
    for (const k of [0, 1023, 1024, 2047, 2048, 3071]) expect(x[k]).toBe(unit(px(1, k)));
    // normalised per channel: channel 2 with mean 0.4465 and std 0.2010
    const n = await (await openSource('cifar10', 'test', { dataDir: dir })).batch(Uint32Array.of(0), 1, null);
    expect(n[2048 + 5]).toBeCloseTo((px(0, 2048 + 5) / 255 - 0.4465) / 0.201, 5);
  });
});

describe('openSource: event datasets', () => {
  it('N-MNIST: its fields, and batch() gives the frames [T, B, 2, H, W] of the samples asked for', async () => {
    const dir = writeNMnist(join(root, 'nm'));
    const src = await openSource('nmnist', 'test', { dataDir: dir, cacheDir: null });
    expect(src.dataset).toBe('nmnist');
    expect(src.split).toBe('test');
    expect(src.n).toBe(10);
    expect(Array.from(src.labels)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(src.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(src.shape).toEqual([2, 34, 34]);
    expect(src.static).toBe(false);
    expect(src.dir).toBe(dir);
    // T = 2: each sample's first event in frame 0, its second in frame 1
    const x = await src.batch(Uint32Array.of(4, 7), 2, null);
    const plane = 34 * 34;
    const at = (t: number, b: number, p: number, y: number, xx: number) => (((t * 2 + b) * 2 + p) * plane) + y * 34 + xx;
    const ones = [at(0, 0, 1, 5, 4), at(1, 0, 0, 7, 6), at(0, 1, 1, 8, 7), at(1, 1, 0, 10, 9)];
    expect(x.length).toBe(2 * 2 * 2 * plane);
    expect(Array.from(x.keys()).filter((k) => x[k] !== 0)).toEqual([...ones].sort((a, b) => a - b));
    expect(ones.map((k) => x[k])).toEqual([1, 1, 1, 1]);
  });

  it('the options reach the event reader: frames go to the cache directory given', async () => {
    const dir = writeNMnist(join(root, 'nm'));
    const cache = join(root, 'cache');
    const src = await openSource('nmnist', 'train', { dataDir: dir, cacheDir: cache });
    await src.batch(Uint32Array.of(0), 2, null);
    expect(readdirSync(cache, { recursive: true }).length).toBeGreaterThan(0);
  });
});

describe('openSource: what passes through unchanged', () => {
  it('a dataset not found: DatasetNotFoundError naming the place searched', async () => {
    const missing = join(root, 'nowhere');
    const err = await openSource('mnist', 'train', { dataDir: missing }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect((err as Error).message).toMatch(new RegExp(`^dataset 'mnist' not found\\.\\nPlaces searched:\\n  - ${missing} \\[--data-dir\\]: does not exist\\n`));
  });

  it('a bad file: the DataFormatError of the reader', async () => {
    const dir = writeIdx(join(root, 'bad'), { labels: [1, 12, 3] });
    await expect(openSource('mnist', 'train', { dataDir: dir })).rejects.toThrow(
      new DataFormatError(join(dir, 'train-labels-idx1-ubyte'), 9, 'label 12 of sample 1 is not below 10 (offset in the uncompressed data)'),
    );
  });

  it('an unknown split: the RangeError of the reader', async () => {
    const dir = writeIdx(join(root, 'm'));
    await expect(openSource('mnist', 'val' as never, { dataDir: dir })).rejects.toThrow(new RangeError("split must be 'train' or 'test', got val"));
  });

  it('an error whose code is not an errno code is not explained', async () => {
    const boom = Object.assign(new Error('boom'), { code: 'NOT_ERRNO' });
    const opts = {
      get dataDir(): string {
        throw boom;
      },
    };
    await expect(openSource('mnist', 'train', opts).catch((e: unknown) => e)).resolves.toBe(boom);
  });
});

describe('openSource: an errno error while reading is explained', () => {
  async function fileIoError(p: Promise<unknown>): Promise<FileIoError> {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FileIoError);
    return err as FileIoError;
  }

  it('an IDX file that is a directory is named (raw name)', async () => {
    const dir = writeIdx(join(root, 'm'));
    const labels = join(dir, 'train-labels-idx1-ubyte');
    rmSync(labels);
    mkdirSync(labels);
    const err = await fileIoError(openSource('mnist', 'train', { dataDir: dir }));
    expect(err.message).toBe(`cannot read the data file ${labels}: it is a directory, not a data file`);
    expect(err.path).toBe(labels);
    expect(err.code).toBe('EISDIR');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('EISDIR');
  });

  it('an IDX file that is a directory is named (gzip name)', async () => {
    const dir = writeIdx(join(root, 'm'), { gzip: true });
    const images = join(dir, 't10k-images-idx3-ubyte.gz');
    rmSync(images);
    mkdirSync(images);
    const err = await fileIoError(openSource('fashion-mnist', 'test', { dataDir: dir }));
    expect(err.message).toBe(`cannot read the data file ${images}: it is a directory, not a data file`);
  });

  it('an IDX file that is a socket is named as not a regular file', async () => {
    const dir = writeIdx(join(root, 'm'));
    const labels = join(dir, 'train-labels-idx1-ubyte');
    rmSync(labels);
    await socketAt(labels);
    const err = await fileIoError(openSource('mnist', 'train', { dataDir: dir }));
    expect(err.message).toBe(`cannot read the data file ${labels}: it is not a regular file`);
    expect(err.code).toBe('ENXIO');
  });

  it('a CIFAR-10 batch that is a directory is named: a training batch, the test batch', async () => {
    const dir = writeCifar(join(root, 'c'));
    const b3 = join(dir, 'data_batch_3.bin');
    rmSync(b3);
    mkdirSync(b3);
    const err = await fileIoError(openSource('cifar10', 'train', { dataDir: dir }));
    expect(err.message).toBe(`cannot read the data file ${b3}: it is a directory, not a data file`);
    const t = join(dir, 'test_batch.bin');
    rmSync(t);
    mkdirSync(t);
    const err2 = await fileIoError(openSource('cifar10', 'test', { dataDir: dir }));
    expect(err2.message).toBe(`cannot read the data file ${t}: it is a directory, not a data file`);
  });

  it('CIFAR-10 test split: a training batch that is a socket is not blamed for a test batch that is a directory', async () => {
    const dir = join(root, 'c');
    mkdirSync(join(dir, 'test_batch.bin'), { recursive: true });
    await socketAt(join(dir, 'data_batch_1.bin'));
    const err = await fileIoError(openSource('cifar10', 'test', { dataDir: dir }));
    expect(err.message).toBe(`cannot read the data file ${join(dir, 'test_batch.bin')}: it is a directory, not a data file`);
  });

  it('an error with a path (a DVS128 trial list that is a socket): that path, the dataset and the split', async () => {
    const dir = join(root, 'dvs');
    mkdirSync(dir);
    const list = join(dir, 'trials_to_train.txt');
    await socketAt(list);
    const err = await fileIoError(openSource('dvs128', 'train', { dataDir: dir, cacheDir: null }));
    expect(err.message).toBe(`cannot read the dvs128 train set from ${list}: ENXIO: no such device or address, open '${list}'`);
    expect(err.path).toBe(list);
  });

  it('an error without a path (a DVS128 trial list that is a directory): the dataset, the split and the directory', async () => {
    const dir = join(root, 'dvs');
    mkdirSync(join(dir, 'trials_to_test.txt'), { recursive: true });
    // a folder named like an IDX file in an event dataset's directory is no data file of it
    mkdirSync(join(dir, 't10k-images-idx3-ubyte'));
    const err = await fileIoError(openSource('dvs128', 'test', { dataDir: dir, cacheDir: null }));
    expect(err.message).toBe(`cannot read the dvs128 test set in ${dir}: it is a directory (EISDIR)`);
    expect(err.path).toBe(dir);
  });

  it('a dataset gone by the time the error is explained: the dataset and split are named', async () => {
    writeIdx(join(root, 'mnist'));
    rmSync(join(root, 'mnist', 'train-labels-idx1-ubyte'));
    mkdirSync(join(root, 'mnist', 'train-labels-idx1-ubyte'));
    mkdirSync(join(root, 'dvs128', 'trials_to_train.txt'), { recursive: true });
    // the first search (the read) finds the files, the second (the explanation) finds nothing
    let searches = 0;
    const env = () => ({ PLIF_DATA: searches++ === 0 ? root : join(root, 'gone') });
    const err = await fileIoError(openSource('mnist', 'train', { get env() { return env(); } }));
    expect(searches).toBe(2);
    expect(err.message).toBe('cannot read the mnist train set in mnist: it is a directory (EISDIR)');
    searches = 0;
    const err2 = await fileIoError(openSource('dvs128', 'train', { cacheDir: null, get env() { return env(); } }));
    expect(searches).toBe(2);
    expect(err2.message).toBe('cannot read the dvs128 train set in dvs128: it is a directory (EISDIR)');
  });
});

describe('staticSource', () => {
  function dataset(name: StaticDataset['name'], shape: [number, number, number], n: number): StaticDataset {
    const per = shape[0] * shape[1] * shape[2];
    const images = Uint8Array.from({ length: n * per }, (_, k) => px(Math.floor(k / per), k % per));
    return { name, split: 'train', images, labels: Uint8Array.from({ length: n }, (_, i) => i), n, shape, classes: ['a', 'b'], dir: '/data/x', files: [] };
  }

  it('holds the dataset\'s fields', () => {
    const ds = dataset('mnist', [1, 8, 8], 2);
    const src = staticSource(ds);
    expect({ ...src, batch: null }).toEqual({ dataset: 'mnist', split: 'train', n: 2, labels: ds.labels, classes: ['a', 'b'], shape: [1, 8, 8], static: true, dir: '/data/x', batch: null });
  });

  it('augments with the Rng given (MNIST: the random affine map), then normalises', async () => {
    const ds = dataset('mnist', [1, 8, 8], 2);
    const plain = await staticSource(ds).batch(Uint32Array.of(1), 1, null);
    const aug = await staticSource(ds).batch(Uint32Array.of(1), 1, Rng.seeded(4));
    const img = Float32Array.from({ length: 64 }, (_, k) => unit(px(1, k)));
    const moved = randomAffine(img, [1, 8, 8], Rng.seeded(4));
    expect(Array.from(moved)).not.toEqual(Array.from(img)); // the map moves pixels
    expect(Array.from(aug)).toEqual(Array.from(moved, (v) => expect.closeTo((v - 0.1307) / 0.3081, 5)));
    expect(Array.from(plain)).toEqual(Array.from(img, (v) => expect.closeTo((v - 0.1307) / 0.3081, 5)));
  });

  it('intensities with augmentation: the augmented pixels, not normalised', async () => {
    const ds = dataset('mnist', [1, 8, 8], 2);
    const aug = await staticSource(ds, true).batch(Uint32Array.of(0, 1), 1, Rng.seeded(9));
    const r = Rng.seeded(9);
    const want = [0, 1].flatMap((i) => Array.from(randomAffine(Float32Array.from({ length: 64 }, (_, k) => unit(px(i, k))), [1, 8, 8], r)));
    expect(Array.from(aug)).toEqual(want);
  });

  it('intensities of three channels: every channel left in [0, 1]', async () => {
    const ds = dataset('cifar10', [3, 2, 2], 1);
    const x = await staticSource(ds, true).batch(Uint32Array.of(0), 1, null);
    expect(Array.from(x)).toEqual(Array.from({ length: 12 }, (_, k) => unit(px(0, k))));
  });
});
