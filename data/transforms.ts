// Image transforms of the paper's recipe (Supplementary 5 and the released code's get_transforms):
//   MNIST: RandomAffine(degrees=30, translate=(0.15, 0.15), scale=(0.85, 1.11)), Normalize(0.1307, 0.3081)
//   Fashion-MNIST: Normalize(0.2860, 0.3530), no augmentation
//   CIFAR-10: RandomCrop(32, padding=4), RandomHorizontalFlip, Normalize per channel
//             mean (0.4914, 0.4822, 0.4465), std (0.2023, 0.1994, 0.2010)
// Augmentations act on one [C, H, W] image with values in [0, 1] before normalisation (so padding
// and fill are black, as in torchvision on PIL images). Every random choice comes from the Rng given.
import type { Rng } from '../core/rng.js';
import { randInt, uniform } from './rng.js';
import type { StaticDatasetName } from './names.js';

export interface Normalization {
  mean: readonly number[];
  std: readonly number[];
}

export const NORMALIZATION: Record<StaticDatasetName, Normalization> = {
  mnist: { mean: [0.1307], std: [0.3081] },
  'fashion-mnist': { mean: [0.286], std: [0.353] },
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.2010] },
};

/** Pixels 0..255 -> [0, 1] as Float32Array (a view range [from, to) of images, in images). */
export function toUnitFloat(bytes: Uint8Array, out: Float32Array = new Float32Array(bytes.length)): Float32Array {
  for (let i = 0; i < bytes.length; i++) out[i] = bytes[i]! / 255;
  return out;
}

/** In place: (x - mean[c]) / std[c] for images [n, C, H, W] given as flat data with shape [C, H, W]. */
export function normalizeInPlace(data: Float32Array, shape: readonly [number, number, number], norm: Normalization): Float32Array {
  const [C, H, W] = shape;
  if (norm.mean.length !== C || norm.std.length !== C) throw new RangeError(`normalisation for ${norm.mean.length} channel(s), images have ${C}`);
  const plane = H * W;
  const per = C * plane;
  if (data.length % per !== 0) throw new RangeError(`data length ${data.length} is not a multiple of ${C}x${H}x${W}`);
  for (let c = 0; c < C; c++) {
    const m = norm.mean[c]!;
    const inv = 1 / norm.std[c]!;
    for (let base = c * plane; base < data.length; base += per) {
      for (let i = base; i < base + plane; i++) data[i] = (data[i]! - m) * inv;
    }
  }
  return data;
}

/** All images of a dataset as normalised Float32Array [n, C, H, W] (test-time transform). */
export function normalizeImages(images: Uint8Array, shape: readonly [number, number, number], norm: Normalization): Float32Array {
  return normalizeInPlace(toUnitFloat(images), shape, norm);
}

export interface AffineParams {
  /** Rotation drawn uniformly from [-degrees, degrees]. */
  degrees: number;
  /** Maximum translation as a fraction of width and height. */
  translate: readonly [number, number];
  /** Scale drawn uniformly from [lo, hi]. */
  scale: readonly [number, number];
}

/** The released code's MNIST augmentation. */
export const MNIST_AFFINE: AffineParams = { degrees: 30, translate: [0.15, 0.15], scale: [0.85, 1.11] };

/**
 * Random affine transform of one [C, H, W] image about its centre (torchvision RandomAffine
 * semantics: angle ~ U(-deg, deg), translation = round(U(-t·W, t·W)) pixels, scale ~ U(lo, hi)),
 * nearest-neighbour sampling, fill 0. Writes into out (a new array by default).
 */
export function randomAffine(img: Float32Array, shape: readonly [number, number, number], rng: Pick<Rng, 'uniform'>, p: AffineParams = MNIST_AFFINE, out: Float32Array = new Float32Array(img.length)): Float32Array {
  const [C, H, W] = shape;
  const angle = (uniform(rng, -p.degrees, p.degrees) * Math.PI) / 180;
  const tx = Math.round(uniform(rng, -p.translate[0] * W, p.translate[0] * W));
  const ty = Math.round(uniform(rng, -p.translate[1] * H, p.translate[1] * H));
  const s = uniform(rng, p.scale[0], p.scale[1]);
  // Forward map about centre c: q = c + t + s·R(angle)·(p - c). Inverse: p = c + R(-angle)·(q - c - t)/s.
  const cx = W * 0.5;
  const cy = H * 0.5;
  const cos = Math.cos(angle) / s;
  const sin = Math.sin(angle) / s;
  const plane = H * W;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const dx = x + 0.5 - cx - tx;
      const dy = y + 0.5 - cy - ty;
      const sx = Math.floor(cos * dx + sin * dy + cx);
      const sy = Math.floor(-sin * dx + cos * dy + cy);
      const inside = sx >= 0 && sx < W && sy >= 0 && sy < H;
      for (let c = 0; c < C; c++) out[c * plane + y * W + x] = inside ? img[c * plane + sy * W + sx]! : 0;
    }
  }
  return out;
}

/** Random crop of the image zero-padded by `pad` on each side, then a horizontal flip with probability 1/2. */
export function randomCropFlip(img: Float32Array, shape: readonly [number, number, number], rng: Pick<Rng, 'uniform'>, pad = 4, out: Float32Array = new Float32Array(img.length)): Float32Array {
  const [C, H, W] = shape;
  const top = randInt(rng, 2 * pad + 1) - pad;
  const left = randInt(rng, 2 * pad + 1) - pad;
  const flip = rng.uniform() < 0.5;
  const plane = H * W;
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const sy = y + top;
      for (let x = 0; x < W; x++) {
        const sx = (flip ? W - 1 - x : x) + left;
        out[c * plane + y * W + x] = sy >= 0 && sy < H && sx >= 0 && sx < W ? img[c * plane + sy * W + sx]! : 0;
      }
    }
  }
  return out;
}

/** The augmentation of the paper's recipe for a dataset, or null (Fashion-MNIST: none). */
export function augmentationFor(name: StaticDatasetName): ((img: Float32Array, shape: readonly [number, number, number], rng: Pick<Rng, 'uniform'>) => Float32Array) | null {
  if (name === 'mnist') return (img, shape, rng) => randomAffine(img, shape, rng, MNIST_AFFINE);
  if (name === 'cifar10') return (img, shape, rng) => randomCropFlip(img, shape, rng, 4);
  return null;
}

/**
 * Builds the network input of a batch: Float32Array [B, C, H, W] of images[indices], scaled to
 * [0, 1], augmented when `augment` is true (training; needs rng), then normalised.
 */
export function prepareBatch(
  ds: { name: StaticDatasetName; images: Uint8Array; shape: readonly [number, number, number] },
  indices: ArrayLike<number>,
  opts: { augment: boolean; rng?: Pick<Rng, 'uniform'>; norm?: Normalization },
): Float32Array {
  const [C, H, W] = ds.shape;
  const per = C * H * W;
  const out = new Float32Array(indices.length * per);
  const aug = opts.augment ? augmentationFor(ds.name) : null;
  if (aug && !opts.rng) throw new TypeError('prepareBatch: augmentation needs a seeded rng');
  const tmp = new Float32Array(per);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b]!;
    const dst = out.subarray(b * per, (b + 1) * per);
    if (aug) {
      toUnitFloat(ds.images.subarray(i * per, (i + 1) * per), tmp);
      dst.set(aug(tmp, ds.shape, opts.rng!));
    } else {
      toUnitFloat(ds.images.subarray(i * per, (i + 1) * per), dst);
    }
  }
  return normalizeInPlace(out, ds.shape, opts.norm ?? NORMALIZATION[ds.name]);
}
