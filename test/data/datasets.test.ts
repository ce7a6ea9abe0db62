import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventBatch, CIFAR10DVS_CLASSES, CIFAR10DVS_TRAIN_PER_CLASS, DataFormatError, DatasetNotFoundError, eventsToFrames, loadEventDataset, readAedat3File } from '../../data/index.js';
import { aedat2Bytes, aedat3Bytes, labelsCsv, nmnistBytes, randomEvents } from './writers.js';

const root = mkdtempSync(join(tmpdir(), 'plif-ds-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function same(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => d.name);
}

describe('N-MNIST dataset', () => {
  const dir = join(root, 'nmnist');
  for (const split of ['Train', 'Test']) {
    for (let c = 0; c < 10; c++) {
      mkdirSync(join(dir, split, String(c)), { recursive: true });
      for (let k = 0; k < (split === 'Train' ? 2 : 1); k++) {
        writeFileSync(join(dir, split, String(c), `${String(k + 1).padStart(5, '0')}.bin`), nmnistBytes(randomEvents(50 + c, 34, 34, c * 10 + k)));
      }
    }
  }

  it('lists Train/<class>/*.bin with labels and serves frames from the cache on the second epoch', async () => {
    const cacheDir = join(root, 'cache-nmnist');
    const ds = await loadEventDataset('nmnist', 'train', { dataDir: dir, cacheDir });
    expect(ds.n).toBe(20);
    expect(ds.shape).toEqual([2, 34, 34]);
    expect(Array.from(ds.labels.slice(0, 4))).toEqual([0, 0, 1, 1]);
    const f1 = await ds.framesOf(3, 10);
    expect(f1.length).toBe(10 * 2 * 34 * 34);
    expect(f1.reduce((a, b) => a + b, 0)).toBe(51);
    expect(ds.stats).toEqual({ cacheHits: 0, decodes: 1 });
    const f2 = await ds.framesOf(3, 10);
    expect(ds.stats).toEqual({ cacheHits: 1, decodes: 1 });
    expect(same(f2, f1)).toBe(true);
    // other parameters are other entries
    await ds.framesOf(3, 10, 'time');
    await ds.framesOf(3, 8);
    expect(ds.stats.decodes).toBe(3);
    expect(filesUnder(cacheDir).filter((f) => f.endsWith('.npy'))).toHaveLength(3);
    // the cache is safe to delete
    rmSync(cacheDir, { recursive: true });
    expect(same(await ds.framesOf(3, 10), f1)).toBe(true);
    expect(ds.stats.decodes).toBe(4);
    // a damaged entry is recomputed
    const entry = readdirSync(cacheDir, { recursive: true, withFileTypes: true }).find((d) => d.isFile())!;
    writeFileSync(join(entry.parentPath, entry.name), 'garbage');
    expect(same(await ds.framesOf(3, 10), f1)).toBe(true);
    expect(ds.stats.decodes).toBe(5);
  });

  it('leaves no cache entry behind when a sample is corrupt', async () => {
    const bad = join(root, 'nmnist-bad');
    for (let c = 0; c < 10; c++) mkdirSync(join(bad, 'Test', String(c)), { recursive: true });
    writeFileSync(join(bad, 'Test', '0', '00001.bin'), nmnistBytes(randomEvents(20, 34, 34, 1)).subarray(0, 42));
    const cacheDir = join(root, 'cache-bad');
    const ds = await loadEventDataset('nmnist', 'test', { dataDir: bad, cacheDir });
    await expect(ds.framesOf(0, 10)).rejects.toThrow(DataFormatError);
    await expect(ds.framesOf(0, 10)).rejects.toThrow(/00001\.bin \(byte offset 40\): truncated event record/);
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it('says where N-MNIST is published when the folders are missing', async () => {
    const err = await loadEventDataset('nmnist', 'train', { dataDir: join(root, 'nothing') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    expect((err as Error).message).toMatch(/Train\/0\//);
    expect((err as Error).message).toMatch(/garrickorchard\.com/);
  });
});

describe('CIFAR10-DVS dataset', () => {
  const dir = join(root, 'c10dvs');
  for (const cls of CIFAR10DVS_CLASSES) {
    mkdirSync(join(dir, cls), { recursive: true });
    for (const k of [0, 1, 2, 10, 11]) writeFileSync(join(dir, cls, `cifar10_${cls}_${k}.aedat`), aedat2Bytes(randomEvents(30 + k, 128, 128, k)));
  }

  it('keeps the first samples of each class (natural file order) for training, the rest for testing', async () => {
    expect(CIFAR10DVS_TRAIN_PER_CLASS).toBe(900);
    const tr = await loadEventDataset('cifar10dvs', 'train', { dataDir: dir, cacheDir: null, trainPerClass: 3 });
    const te = await loadEventDataset('cifar10dvs', 'test', { dataDir: dir, cacheDir: null, trainPerClass: 3 });
    expect(tr.n).toBe(30);
    expect(te.n).toBe(20);
    expect(tr.samples.slice(0, 3).map((s) => s.file.split('/').pop())).toEqual(['cifar10_airplane_0.aedat', 'cifar10_airplane_1.aedat', 'cifar10_airplane_2.aedat']);
    expect(te.samples.slice(0, 2).map((s) => s.file.split('/').pop())).toEqual(['cifar10_airplane_10.aedat', 'cifar10_airplane_11.aedat']);
    expect(te.labels[19]).toBe(9);
    // time-major batch [T, B, 2, H, W]
    const batch = await eventBatch(te, [0, 5], 4);
    const per = 2 * 128 * 128;
    const f0 = await te.framesOf(0, 4);
    const f5 = await te.framesOf(5, 4);
    expect(batch.length).toBe(4 * 2 * per);
    expect(Array.from(batch.subarray(per * 3, per * 4))).toEqual(Array.from(f5.subarray(per, 2 * per)));
    expect(Array.from(batch.subarray(per * 2, per * 3))).toEqual(Array.from(f0.subarray(per, 2 * per)));
    const f = await te.framesOf(0, 20);
    expect(f.length).toBe(20 * 2 * 128 * 128);
    expect(f.reduce((a, b) => a + b, 0)).toBe(40);
    // with the paper's 900 per class, five files per class are all training samples
    const all = await loadEventDataset('cifar10dvs', 'test', { dataDir: dir, cacheDir: null });
    expect(all.n).toBe(0);
  });
});

describe('DVS128 Gesture dataset', () => {
  const dir = join(root, 'gesture', 'DvsGesture');
  mkdirSync(dir, { recursive: true });
  const recs: Record<string, ReturnType<typeof randomEvents>> = {};
  for (const [u, seed] of [['user01_fluorescent', 1], ['user02_lab', 2], ['user03_led', 3]] as const) {
    const evs = randomEvents(400, 128, 128, seed, 1000);
    recs[u] = evs;
    writeFileSync(join(dir, `${u}.aedat`), aedat3Bytes([{ type: 1, events: evs.slice(0, 250) }, { type: 1, events: evs.slice(250) }]));
    writeFileSync(join(dir, `${u}_labels.csv`), labelsCsv([[1, evs[10]!.t, evs[100]!.t], [seed + 5, evs[100]!.t, evs[300]!.t], [11, evs[300]!.t, evs[399]!.t + 1]]));
  }
  writeFileSync(join(dir, 'trials_to_train.txt'), 'user01_fluorescent.aedat\r\nuser02_lab.aedat\r\n');
  writeFileSync(join(dir, 'trials_to_test.txt'), 'user03_led.aedat\r\n');

  it('cuts each recording into its labelled samples and splits by the trial lists', async () => {
    const cacheDir = join(root, 'cache-gesture');
    const tr = await loadEventDataset('dvs128', 'train', { dataDir: join(root, 'gesture'), cacheDir });
    const te = await loadEventDataset('dvs128', 'test', { dataDir: join(root, 'gesture'), cacheDir });
    expect(tr.n).toBe(6);
    expect(te.n).toBe(3);
    expect(Array.from(tr.labels)).toEqual([0, 5, 10, 0, 6, 10]);
    expect(tr.classes).toHaveLength(11);
    const ev = await te.eventsOf(1);
    expect(ev.t.length).toBe(200);
    expect(ev.t[0]).toBe(recs['user03_led']![100]!.t);
    const f = await te.framesOf(1, 20);
    expect(same(f, eventsToFrames(ev, 20, 128, 128))).toBe(true);
    // one decode of the recording stored the frames of all its samples
    const decodes = te.stats.decodes;
    await te.framesOf(0, 20);
    await te.framesOf(2, 20);
    expect(te.stats.decodes).toBe(decodes);
    expect(te.stats.cacheHits).toBe(2);
    expect((await te.framesOf(2, 20)).reduce((a, b) => a + b, 0)).toBe(100);
  });

  it('decodes a recording once for concurrent requests of its samples', async () => {
    const tr = await loadEventDataset('dvs128', 'train', { dataDir: join(root, 'gesture'), cacheDir: null });
    const fs = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => tr.framesOf(i, 5, 'time')));
    expect(tr.stats.decodes).toBe(2);
    expect(fs.map((f) => f.reduce((a, b) => a + b, 0))).toEqual([90, 200, 100, 90, 200, 100]);
  });

  it('names missing recordings of a trial list', async () => {
    const d2 = join(root, 'gesture2');
    mkdirSync(d2, { recursive: true });
    writeFileSync(join(d2, 'trials_to_test.txt'), 'user09_led.aedat\n');
    await expect(loadEventDataset('dvs128', 'test', { dataDir: d2, cacheDir: null })).rejects.toThrow(/trials_to_test\.txt: the trial list names files that are missing: .*user09_led\.aedat, .*user09_led_labels\.csv/);
  });

  it('reads a recording identically with small and large read buffers', async () => {
    const f = join(dir, 'user02_lab.aedat');
    const a = await readAedat3File(f, { chunkSize: 7 });
    const b = await readAedat3File(f);
    expect(Array.from(a.t)).toEqual(Array.from(b.t));
    expect(Array.from(a.x)).toEqual(recs['user02_lab']!.map((e) => e.x));
  });
});
