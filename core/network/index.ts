export * from './parser.js';
export * from './presets.js';
export * from './layers.js';
export * from './network.js';
export * from './train.js';
export * from './fold.js';
