// The class-stratified validation subset, and a $PLIF_DATA directory that is used as given.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatasetNotFoundError, locateDataset, stratifiedSubset, validationSplit } from '../../data/index.js';

const classCounts = (idx: ArrayLike<number>, labels: ArrayLike<number>) => {
  const c = new Map<number, number>();
  for (let i = 0; i < idx.length; i++) c.set(labels[idx[i]!]!, (c.get(labels[idx[i]!]!) ?? 0) + 1);
  return c;
};

describe('stratifiedSubset', () => {
  it('cuts a held-out set whose first samples are of few classes down to a sample of every class', () => {
    // 10 classes in blocks of 600 (the worst order for "the first k")
    const labels = Uint8Array.from({ length: 6000 }, (_, i) => Math.floor(i / 600));
    const { val } = validationSplit(labels, 0.85);
    expect(classCounts(val.subarray(0, 45), labels).size).toBe(1); // what the first 45 held
    const sub = stratifiedSubset(val, labels, 45);
    expect(sub.length).toBe(45);
    const counts = classCounts(sub, labels);
    expect(counts.size).toBe(10);
    for (const n of counts.values()) expect([4, 5]).toContain(n);
    expect(Array.from(sub)).toEqual([...sub].sort((a, b) => a - b)); // keeps the given order
    for (const i of sub) expect(val).toContain(i);
  });

  it('gives each class its share by largest remainders, and everything when k is large', () => {
    const labels = [0, 0, 0, 0, 0, 0, 1, 1, 1, 2]; // shares 0.6 / 0.3 / 0.1
    const idx = Uint32Array.from(labels.keys());
    expect(Array.from(stratifiedSubset(idx, labels, 5))).toEqual([0, 1, 2, 6, 7]); // 3 / 1.5 / 0.5 -> 3, 2 (tie: smaller label), 0
    expect(Array.from(stratifiedSubset(idx, labels, 10))).toEqual(Array.from(idx));
    expect(Array.from(stratifiedSubset(idx, labels, 0))).toEqual([]);
    expect(() => stratifiedSubset(idx, labels, 1.5)).toThrow(/k must be an integer >= 0, got 1.5/);
    expect(() => stratifiedSubset([11], labels, 0)).toThrow(/index 11 has no label/);
  });
});

describe('$PLIF_DATA', () => {
  const DEBIAN = '/usr/share/datasets/fashion-mnist';
  it('a $PLIF_DATA/<dataset> directory missing files is an error naming it, not a silent fall-back to another place', () => {
    const root = mkdtempSync(join(tmpdir(), 'plif-data-'));
    mkdirSync(join(root, 'fashion-mnist'));
    writeFileSync(join(root, 'fashion-mnist', 'train-images-idx3-ubyte.gz'), '');
    let err: unknown = null;
    try {
      locateDataset('fashion-mnist', 'train', { env: { PLIF_DATA: root } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DatasetNotFoundError);
    const m = (err as Error).message;
    expect(m).toContain(`${join(root, 'fashion-mnist')} [$PLIF_DATA/fashion-mnist]: missing train-labels-idx1-ubyte.gz|train-labels-idx1-ubyte (it exists, so no other place is searched)`);
    expect(m).not.toContain(DEBIAN);
  });

  it.skipIf(!existsSync(join(DEBIAN, 'train-images-idx3-ubyte.gz')))('a $PLIF_DATA without the dataset\'s directory goes on to the well-known places', () => {
    const root = mkdtempSync(join(tmpdir(), 'plif-data-'));
    expect(locateDataset('fashion-mnist', 'train', { env: { PLIF_DATA: root } })).toBe(DEBIAN);
  });
});
