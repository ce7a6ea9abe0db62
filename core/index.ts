export * from './types.js';
export * as scalar from './scalar.js';
export * from './surrogates.js';
export * from './neuron.js';
