// Messages between the page (main.ts) and its training worker (worker.ts).
import type { FiringMaps } from '../training/evaluate.js';
import type { EpochMetrics } from '../training/engine.js';
import type { BackendInfo } from './backends.js';
import type { SpikeRaster, StepReport } from './session.js';

/** The run settings of the page (the URL parameters of the automation contract). */
export interface PageSettings {
  preset: string;
  backend: string;
  epochs: number;
  batch: number;
  seed: number;
  /** Adam learning rate (the paper's 1e-3 by default). */
  lr: number;
  limitTrain: number | null;
  limitTest: number | null;
}

export type ToWorker =
  /** Starts a new run (dropped files, by canonical name, complete or replace what is fetched from `base`). */
  | { type: 'start'; settings: PageSettings; base: string; files: Record<string, ArrayBuffer> }
  /** Stops the run after the current batch. */
  | { type: 'stop' }
  /** Continues a stopped or loaded run, up to `epochs` epochs. */
  | { type: 'continue'; epochs: number }
  /** Asks for the run's checkpoint (answered with 'checkpoint'). */
  | { type: 'checkpoint' }
  /** Loads a checkpoint (and the metrics of the epochs before it, when known) and evaluates it. */
  | { type: 'load'; name: string; bytes: ArrayBuffer; metrics: EpochMetrics[] | null; settings: PageSettings; base: string; files: Record<string, ArrayBuffer> };

export type FromWorker =
  | { type: 'backend'; info: BackendInfo; why?: string }
  | { type: 'log'; text: string }
  | { type: 'data'; train: number; test: number; where: string }
  /** The samples the run trains, validates and tests on (its limits and validation split), of the dataset's. */
  | { type: 'runSizes'; train: number; val: number; test: number; trainTotal: number; testTotal: number }
  | { type: 'needFiles'; missing: string[] }
  | { type: 'step'; report: StepReport }
  | { type: 'evalStart'; what: 'val' | 'test'; samples: number }
  | { type: 'epoch'; metrics: EpochMetrics; firingMaps: FiringMaps | null; raster: SpikeRaster; classes: readonly string[] }
  | { type: 'evaluation'; accuracy: number; total: number; firingMaps: FiringMaps | null; raster: SpikeRaster; classes: readonly string[]; epoch: number }
  | { type: 'status'; status: 'running' | 'stopped' | 'done' | 'loaded' | 'error'; message?: string }
  | { type: 'checkpoint'; bytes: ArrayBuffer; config: unknown; network: unknown; metrics: EpochMetrics[]; epoch: number; batch: number };
