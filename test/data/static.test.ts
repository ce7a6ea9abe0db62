import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DataFormatError,
  DatasetNotFoundError,
  decodeCifar10Batch,
  loadStaticDataset,
  locateDataset,
  readIdxFile,
} from '../../data/index.js';
import { cifarBatch, idxBytes } from './writers.js';

const root = mkdtempSync(join(tmpdir(), 'plif-static-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function writeIdxSet(dir: string, n: number, gzip: boolean, labels?: number[]): void {
  mkdirSync(dir, { recursive: true });
  const lab = labels ?? Array.from({ length: n }, (_, i) => i % 10);
  for (const [prefix, count] of [['train', n], ['t10k', Math.max(1, n >> 1)]] as const) {
    const img = Array.from({ length: count * 28 * 28 }, (_, k) => (k * 7 + count) & 255);
    const sfx = gzip ? '.gz' : '';
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte${sfx}`), idxBytes([count, 28, 28], img, gzip));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte${sfx}`), idxBytes([count], lab.slice(0, count), gzip));
  }
}

describe('IDX files', () => {
  it('reads gzip and raw files alike', async () => {
    writeIdxSet(join(root, 'gz'), 20, true);
    writeIdxSet(join(root, 'raw'), 20, false);
    for (const sub of ['gz', 'raw']) {
      const d = await loadStaticDataset('mnist', 'train', { dataDir: join(root, sub) });
      expect(d.n).toBe(20);
      expect(d.shape).toEqual([1, 28, 28]);
      expect(Array.from(d.labels.slice(0, 12))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
      expect(d.images[5]).toBe((5 * 7 + 20) & 255);
      expect(d.images.length).toBe(20 * 784);
      const t = await loadStaticDataset('mnist', 'test', { dataDir: join(root, sub) });
      expect(t.n).toBe(10);
    }
  });

  it('checks the magic number, naming the file', async () => {
    const f = join(root, 'swapped-idx');
    writeFileSync(f, idxBytes([3], [1, 2, 3]));
    await expect(readIdxFile(f, 3)).rejects.toThrow(/swapped-idx \(byte offset 0\): bad IDX magic 0x00000801, expected 0x00000803 \(a labels file where images were expected\)/);
  });

  it('reports truncated data with the offset where the file ends', async () => {
    const f = join(root, 'short-idx');
    const full = idxBytes([4, 28, 28], new Array(4 * 784).fill(1));
    writeFileSync(f, full.subarray(0, full.length - 100));
    const err = await readIdxFile(f, 3).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataFormatError);
    expect((err as DataFormatError).offset).toBe(full.length - 100);
    expect((err as DataFormatError).message).toMatch(/truncated IDX data/);
  });

  it('reports a damaged gzip stream', async () => {
    const f = join(root, 'bad.gz');
    const gz = idxBytes([4], [1, 2, 3, 4], true);
    writeFileSync(f, gz.subarray(0, gz.length - 6));
    await expect(readIdxFile(f, 1)).rejects.toThrow(/bad\.gz: damaged gzip stream/);
  });

  it('rejects labels outside 0..9', async () => {
    writeIdxSet(join(root, 'badlab'), 4, false, [0, 1, 12, 3]);
    await expect(loadStaticDataset('fashion-mnist', 'train', { dataDir: join(root, 'badlab') })).rejects.toThrow(/label 12 of sample 2/);
  });
});

describe('CIFAR-10 binary batches', () => {
  it('reads records as [3, 32, 32] with labels', () => {
    const b = cifarBatch([3, 7], (i, k) => i * 100 + (k % 50));
    const d = decodeCifar10Batch(b, 'x.bin');
    expect(d.n).toBe(2);
    expect(Array.from(d.labels)).toEqual([3, 7]);
    expect(d.images[3072 + 51]).toBe(101);
  });

  it('rejects truncated records and the Python pickle version', () => {
    const b = cifarBatch([1, 2, 3], () => 0);
    expect(() => decodeCifar10Batch(b.subarray(0, b.length - 1), 'c.bin')).toThrow(/c\.bin \(byte offset 6146\): truncated record/);
    expect(() => decodeCifar10Batch(Buffer.from([0x80, 0x02, 0x7d]), 'p.bin')).toThrow(/Python pickle/);
    const bad = cifarBatch([1, 2, 3], () => 0);
    bad[3073] = 10;
    expect(() => decodeCifar10Batch(bad, 'l.bin')).toThrow(/l\.bin \(byte offset 3073\): label 10 of record 1/);
  });

  it('loads train and test from cifar-10-batches-bin/', async () => {
    const dir = join(root, 'cifar', 'cifar-10-batches-bin');
    mkdirSync(dir, { recursive: true });
    for (let k = 1; k <= 5; k++) writeFileSync(join(dir, `data_batch_${k}.bin`), cifarBatch([k, k + 1], () => k));
    writeFileSync(join(dir, 'test_batch.bin'), cifarBatch([9], () => 200));
    const tr = await loadStaticDataset('cifar10', 'train', { dataDir: join(root, 'cifar') });
    expect(tr.n).toBe(10);
    expect(tr.shape).toEqual([3, 32, 32]);
    expect(Array.from(tr.labels)).toEqual([1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
    expect(tr.images[2 * 3072 * 4]).toBe(5);
    const te = await loadStaticDataset('cifar10', 'test', { dataDir: join(root, 'cifar') });
    expect(te.classes[te.labels[0]!]).toBe('truck');
  });
});

describe('locating datasets', () => {
  it('uses $PLIF_DATA/<dataset>', async () => {
    writeIdxSet(join(root, 'plifdata', 'mnist'), 10, true);
    const d = await loadStaticDataset('mnist', 'test', { env: { PLIF_DATA: join(root, 'plifdata') } });
    expect(d.dir).toBe(join(root, 'plifdata', 'mnist'));
  });

  it('names the dataset, every place searched, the files expected and the publisher', () => {
    let err: unknown = null;
    try {
      locateDataset('mnist', 'train', { env: { PLIF_DATA: join(root, 'nowhere') } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    const m = (err as Error).message;
    expect(m).toContain("dataset 'mnist' not found");
    expect(m).toContain(join(root, 'nowhere', 'mnist'));
    expect(m).toContain('/usr/share/datasets/mnist');
    expect(m).toContain('train-images-idx3-ubyte.gz');
    expect(m).toContain('train-labels-idx1-ubyte.gz');
    expect(m).toContain('yann.lecun.com');
  });

  it('lists the missing files of an explicit --data-dir and searches nothing else', () => {
    mkdirSync(join(root, 'half'), { recursive: true });
    writeFileSync(join(root, 'half', 'test_batch.bin'), cifarBatch([1], () => 0));
    expect(() => locateDataset('cifar10', 'train', { dataDir: join(root, 'half') })).toThrow(/--data-dir\]: missing data_batch_1\.bin, data_batch_2\.bin/);
    expect(locateDataset('cifar10', 'test', { dataDir: join(root, 'half') })).toBe(join(root, 'half'));
    const m = (() => {
      try {
        locateDataset('fashion-mnist', 'train', { dataDir: join(root, 'half') });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(m).not.toContain('/usr/share/datasets');
    expect(m).toContain('github.com/zalandoresearch/fashion-mnist');
  });
});
