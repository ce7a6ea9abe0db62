// Splits and batching. All order-dependent choices are explicit: "first k of each class" keeps the
// dataset order; shuffling takes a seeded Rng.
import type { Rng } from '../core/rng.js';

/**
 * Splits indices class by class: the first `countFor(classSize)` indices of each class (in dataset
 * order) go to `first`, the rest to `rest`. Both keep dataset order.
 */
export function splitPerClass(labels: ArrayLike<number>, countFor: (classSize: number) => number): { first: Uint32Array; rest: Uint32Array } {
  const size = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) size.set(labels[i]!, (size.get(labels[i]!) ?? 0) + 1);
  const seen = new Map<number, number>();
  const first: number[] = [];
  const rest: number[] = [];
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i]!;
    const k = seen.get(l) ?? 0;
    seen.set(l, k + 1);
    (k < countFor(size.get(l)!) ? first : rest).push(i);
  }
  return { first: Uint32Array.from(first), rest: Uint32Array.from(rest) };
}

/**
 * Validation split of Supplementary 7: the first 85% of each class's training samples train, the
 * remaining 15% validate. The train count is ceil(0.85·n) per class (as SpikingJelly's
 * split_to_train_test_set), guarded against floating-point error: 6000 -> 5100/900.
 */
export function validationSplit(labels: ArrayLike<number>, trainFraction = 0.85): { train: Uint32Array; val: Uint32Array } {
  if (!(trainFraction > 0 && trainFraction <= 1)) throw new RangeError(`trainFraction must be in (0, 1], got ${trainFraction}`);
  const { first, rest } = splitPerClass(labels, (n) => Math.ceil(n * trainFraction - 1e-9));
  return { train: first, val: rest };
}

/**
 * Batches of indices for one epoch: shuffled with rng when given (training), in order otherwise;
 * with dropLast the final short batch is left out (training), otherwise kept (evaluation).
 */
export function makeBatches(indices: ArrayLike<number> | number, batchSize: number, opts: { rng?: Rng; dropLast?: boolean } = {}): Uint32Array[] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const order = typeof indices === 'number' ? Uint32Array.from({ length: indices }, (_, i) => i) : Uint32Array.from(indices);
  opts.rng?.shuffle(order); // Fisher-Yates
  const out: Uint32Array[] = [];
  for (let s = 0; s < order.length; s += batchSize) {
    if (s + batchSize > order.length && opts.dropLast) break;
    out.push(order.slice(s, s + batchSize));
  }
  return out;
}

/** Training batches of the paper's recipe: shuffled (seeded) with drop-last. */
export function trainingBatches(indices: ArrayLike<number> | number, batchSize: number, rng: Rng): Uint32Array[] {
  return makeBatches(indices, batchSize, { rng, dropLast: true });
}

/**
 * `k` of `indices`, stratified by class: each class gets a share of `k` in proportion to its count among
 * `indices` (largest remainders; equal remainders go to the smaller label), filled with its first indices
 * in the given order. The result keeps the given order. A validation set cut down to `k` samples this way
 * covers every class, where the first `k` of it (in dataset order) may hold only a few.
 */
export function stratifiedSubset(indices: ArrayLike<number>, labels: ArrayLike<number>, k: number): Uint32Array {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be an integer >= 0, got ${k}`);
  if (k >= indices.length) return Uint32Array.from(indices);
  const count = new Map<number, number>();
  for (let i = 0; i < indices.length; i++) {
    const l = labels[indices[i]!];
    if (l === undefined) throw new RangeError(`index ${indices[i]} has no label (${labels.length} labels)`);
    count.set(l, (count.get(l) ?? 0) + 1);
  }
  const classes = [...count.keys()].sort((a, b) => a - b);
  const quota = new Map<number, number>();
  let given = 0;
  for (const c of classes) {
    const q = Math.floor((k * count.get(c)!) / indices.length);
    quota.set(c, q);
    given += q;
  }
  const remainder = (c: number) => (k * count.get(c)!) % indices.length;
  const byRemainder = [...classes].sort((a, b) => remainder(b) - remainder(a) || a - b);
  for (let i = 0; given < k; i++, given++) {
    const c = byRemainder[i % byRemainder.length]!;
    quota.set(c, quota.get(c)! + 1);
  }
  const out: number[] = [];
  for (let i = 0; i < indices.length; i++) {
    const l = labels[indices[i]!]!;
    const left = quota.get(l)!;
    if (left > 0) {
      out.push(indices[i]!);
      quota.set(l, left - 1);
    }
  }
  return Uint32Array.from(out);
}
