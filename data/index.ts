// Public API of the data layer: readers of the original dataset files, event -> frame integration
// (Eq. S1), the frame cache, dataset location, transforms, splits and batching.
//
// For training code:
//   loadStaticDataset(name, split, { dataDir?, env? }) -> { images: Uint8Array [n,C,H,W], labels, n, shape, classes }
//   prepareBatch(ds, indices, { augment, rng })       -> Float32Array [B,C,H,W], augmented then normalised
//   loadEventDataset(name, split, { dataDir?, cacheDir?, env?, strict? })
//                                                     -> { samples, labels, n, shape: [2,H,W], framesOf(i, T, splitBy) }
//   eventBatch(ds, indices, T, splitBy)               -> Float32Array [T,B,2,H,W] (time-major)
//   validationSplit(labels) / trainingBatches(indices, batchSize, rng) / createRng(seed)
export * from './errors.js';
export * from './names.js';
export * from './file-io.js';
export * from './rng.js';
export * from './events.js';
export { FileCursor, withCursor } from './io.js';
export * from './idx-decode.js';
export * from './idx.js';
export * from './cifar10.js';
export * from './nmnist.js';
export * from './aedat2.js';
export * from './aedat3.js';
export * from './frames.js';
export * from './npy.js';
export * from './png.js';
export * from './cache.js';
export * from './locate.js';
export * from './static.js';
export * from './neuromorphic.js';
export * from './transforms.js';
export * from './splits.js';
