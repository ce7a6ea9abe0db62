// Public API of training runs (`plif-snn/training`): the run configuration, the training loop with its
// run directory and resumable checkpoints, evaluation, progress reporting and the figures of `plif plot`
// (the line charts in charts.ts, the confusion matrix's in plot-confusion.ts).
export * from './config.js';
export * from './engine.js';
export * from './loop.js';
export { firstBad, PARAMETER_LIMIT, streamRng, trainNetworkConfig } from './recipe.js';
export * from './evaluate.js';
export * from './checkpoint.js';
export * from './sample-source.js';
export * from './source.js';
export * from './progress.js';
export * from './rundir.js';
export * from './plot.js';
export { accuracyChart, formatTick, intervalMeans, lineChart, lossChart, niceTicks, ROLE_COLORS, tauChart, tickScale, type Marker, type Series } from './charts.js';
export * from './plot-confusion.js';
