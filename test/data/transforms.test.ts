import { describe, expect, it } from 'vitest';
import {
  createRng,
  makeBatches,
  NORMALIZATION,
  normalizeImages,
  prepareBatch,
  randomAffine,
  randomCropFlip,
  splitPerClass,
  trainingBatches,
  validationSplit,
} from '../../data/index.js';

describe('seeded RNG', () => {
  it('repeats for a seed and differs across seeds', () => {
    const a = createRng(7);
    const b = createRng(7);
    const c = createRng(8);
    const xa = Array.from({ length: 5 }, () => a.uniform());
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.uniform())).not.toEqual(xa);
    expect(xa.every((v) => v >= 0 && v < 1)).toBe(true);
  });
});

describe('normalisation', () => {
  it('uses the paper constants', () => {
    expect(NORMALIZATION['fashion-mnist']).toEqual({ mean: [0.286], std: [0.353] });
    expect(NORMALIZATION.mnist).toEqual({ mean: [0.1307], std: [0.3081] });
    expect(NORMALIZATION.cifar10.mean).toHaveLength(3);
  });

  it('applies (x/255 - mean[c]) / std[c] per channel', () => {
    const img = Uint8Array.from([0, 255, 51, 102, 0, 255]); // 2 images of [3, 1, 1]
    const x = normalizeImages(img, [3, 1, 1], NORMALIZATION.cifar10);
    const { mean, std } = NORMALIZATION.cifar10;
    expect(x[0]).toBeCloseTo((0 - mean[0]!) / std[0]!, 5);
    expect(x[1]).toBeCloseTo((1 - mean[1]!) / std[1]!, 5);
    expect(x[5]).toBeCloseTo((1 - mean[2]!) / std[2]!, 5);
    expect(x[3]).toBeCloseTo((0.4 - mean[0]!) / std[0]!, 5);
  });
});

describe('augmentations', () => {
  const shape = [1, 8, 8] as const;
  const img = Float32Array.from({ length: 64 }, (_, i) => i + 1);

  it('random affine with zero ranges is the identity; otherwise seeded and deterministic', () => {
    const id = randomAffine(img, shape, createRng(1), { degrees: 0, translate: [0, 0], scale: [1, 1] });
    expect(Array.from(id)).toEqual(Array.from(img));
    const a = randomAffine(img, shape, createRng(3));
    const b = randomAffine(img, shape, createRng(3));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a)).not.toEqual(Array.from(img));
    // values are moved (or filled with 0), never invented
    expect(Array.from(a).every((v) => v === 0 || img.includes(v))).toBe(true);
  });

  it('a 180° rotation about the centre reverses the image', () => {
    const r = randomAffine(img, shape, { uniform: () => 1 - 1e-12 }, { degrees: 180, translate: [0, 0], scale: [1, 1] });
    expect(Array.from(r)).toEqual(Array.from(img).reverse());
  });

  it('random crop with padding 4 shifts by at most 4 pixels and flips horizontally', () => {
    const shifts = new Set<string>();
    const rng = createRng(5);
    for (let k = 0; k < 200; k++) {
      const out = randomCropFlip(img, shape, rng, 4);
      // find where pixel value v = img[y][x] landed; every non-zero output is an input value
      expect(Array.from(out).every((v) => v === 0 || img.includes(v))).toBe(true);
      shifts.add(Array.from(out.subarray(0, 8)).join(','));
    }
    expect(shifts.size).toBeGreaterThan(20);
    // zero shift and a flip: first row reversed
    let i = 0;
    const seq = [4 / 9 + 1e-6, 4 / 9 + 1e-6, 0.1]; // top = 0, left = 0, flip
    const flipped = randomCropFlip(img, shape, { uniform: () => seq[i++]! }, 4);
    expect(Array.from(flipped.subarray(0, 8))).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
  });

  it('prepareBatch augments before normalising (padding is black) and needs an rng to augment', () => {
    const ds = { name: 'fashion-mnist' as const, images: Uint8Array.from({ length: 2 * 784 }, (_, i) => i % 256), shape: [1, 28, 28] as [number, number, number] };
    const x = prepareBatch(ds, [1], { augment: true, rng: createRng(1) });
    expect(x[0]).toBeCloseTo((((784 % 256) / 255) - 0.286) / 0.353, 5); // Fashion-MNIST: no augmentation
    const c = { name: 'cifar10' as const, images: new Uint8Array(3 * 32 * 32).fill(255), shape: [3, 32, 32] as [number, number, number] };
    expect(() => prepareBatch(c, [0], { augment: true })).toThrow(/rng/);
    const y = prepareBatch(c, [0, 0, 0, 0], { augment: true, rng: createRng(2) });
    const black = (0 - 0.4914) / 0.2023;
    expect(Array.from(y).some((v) => Math.abs(v - black) < 1e-5)).toBe(true);
  });
});

describe('splits and batches', () => {
  it('validation split: first 85% of each class train, the rest validate, in dataset order', () => {
    const labels = Uint8Array.from({ length: 60000 }, (_, i) => i % 10);
    const { train, val } = validationSplit(labels);
    expect(train.length).toBe(51000);
    expect(val.length).toBe(9000);
    const perClass = new Array(10).fill(0);
    for (const i of train) perClass[labels[i]!]++;
    expect(perClass).toEqual(new Array(10).fill(5100));
    expect(train[5099]).toBe(5099);
    expect(val[0]).toBe(51000);
    // uneven classes
    const s = splitPerClass([0, 1, 0, 0, 1, 0], (n) => Math.ceil(n * 0.5));
    expect(Array.from(s.first)).toEqual([0, 1, 2]);
    expect(Array.from(s.rest)).toEqual([3, 4, 5]);
  });

  it('training batches are shuffled with the seed, full-sized (drop-last), and cover distinct indices', () => {
    const a = trainingBatches(100, 16, createRng(1));
    const b = trainingBatches(100, 16, createRng(1));
    const c = trainingBatches(100, 16, createRng(2));
    expect(a).toHaveLength(6);
    expect(a.every((x) => x.length === 16)).toBe(true);
    expect(a.map((x) => Array.from(x))).toEqual(b.map((x) => Array.from(x)));
    expect(a.map((x) => Array.from(x))).not.toEqual(c.map((x) => Array.from(x)));
    const seen = new Set(a.flatMap((x) => Array.from(x)));
    expect(seen.size).toBe(96);
    const ev = makeBatches([5, 6, 7, 8, 9], 2);
    expect(ev.map((x) => Array.from(x))).toEqual([[5, 6], [7, 8], [9]]);
  });

  it("shuffle with core's Rng.shuffle: the order every earlier run drew (a resumed run depends on it)", () => {
    expect(trainingBatches(10, 4, createRng(1)).map((x) => Array.from(x))).toEqual([[1, 0, 2, 6], [9, 8, 3, 5]]);
    const rng = createRng(1);
    const twin = createRng(1);
    makeBatches([10, 11, 12, 13, 14], 5, { rng });
    for (let i = 0; i < 4; i++) twin.uniform(); // n - 1 draws for n indices
    expect(rng.uniform()).toBe(twin.uniform());
  });
});
