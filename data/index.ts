// Public API of the data layer: readers of the original dataset files, event -> frame integration
// (Eq. S1), the frame cache, dataset location, transforms, splits and batching.
export * from './errors.js';
export * from './rng.js';
export * from './events.js';
export { FileCursor, withCursor } from './io.js';
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
