// Event datasets (N-MNIST, CIFAR10-DVS, DVS128 Gesture): sample lists, splits, and frames through
// the on-disk cache, so that the second epoch reads frames instead of decoding events.
import { readdir, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readAedat2File, DVS128_SIZE } from './aedat2.js';
import { cutGestureSample, labelsPathFor, parseTrialList, readAedat3File, readGestureLabels, type GestureLabel } from './aedat3.js';
import { cacheKey, defaultCacheDir, fileIdentity, readCachedFrames, writeCachedFrames } from './cache.js';
import { DataFormatError, type DataWarning, type ReadOptions } from './errors.js';
import type { EventStream } from './events.js';
import { eventsToFrames, frameShape, type SplitBy } from './frames.js';
import { locateDataset, type LocateOptions } from './locate.js';
import { CIFAR10DVS_CLASSES, type EventDatasetName, type Split } from './names.js';
import { NMNIST_HEIGHT, NMNIST_WIDTH, readNMnistFile } from './nmnist.js';

/** Event file formats, named as the `--format` flag of `plif frames` / `plif events`. */
export type EventFormat = EventDatasetName;

export const SENSOR: Record<EventFormat, { width: number; height: number }> = {
  nmnist: { width: NMNIST_WIDTH, height: NMNIST_HEIGHT },
  cifar10dvs: { width: DVS128_SIZE, height: DVS128_SIZE },
  dvs128: { width: DVS128_SIZE, height: DVS128_SIZE },
};

export const DVS128_GESTURE_CLASSES = [
  'hand clap', 'right hand wave', 'left hand wave', 'right arm clockwise', 'right arm counter clockwise',
  'left arm clockwise', 'left arm counter clockwise', 'arm roll', 'air drums', 'air guitar', 'other gestures',
] as const;

/** Reads all events of a file of the given format (DVS128 Gesture: the whole recording). */
export function readEventFile(format: EventFormat, file: string, opts: ReadOptions = {}): Promise<EventStream> {
  switch (format) {
    case 'nmnist':
      return readNMnistFile(file, opts);
    case 'cifar10dvs':
      return readAedat2File(file, opts);
    case 'dvs128':
      return readAedat3File(file, opts);
    default:
      throw new RangeError(`unknown event format '${String(format)}'; use nmnist, cifar10dvs or dvs128`);
  }
}

/** One sample of an event dataset. */
export interface EventSample {
  file: string;
  label: number;
  /** DVS128 Gesture: the labelled window of the recording (start <= t < end, µs) and its CSV row. */
  window?: { start: number; end: number; row: number; labelsFile: string };
}

export interface FramesOptions {
  /** Cache directory (default $PLIF_CACHE or ./.plif-cache); null disables the cache. */
  cacheDir?: string | null;
  strict?: boolean;
  /** CIFAR10-DVS: samples of each class (natural file-name order) that train; default 900 (the paper). */
  trainPerClass?: number;
}

/** An event dataset split: a sample list, labels, and frames on demand. */
export interface EventDataset {
  name: EventDatasetName;
  split: Split;
  samples: EventSample[];
  labels: Uint8Array;
  n: number;
  /** Frame shape per time step: [2, H, W]. */
  shape: [number, number, number];
  classes: readonly string[];
  dir: string;
  /** Frames [T, 2, H, W] (event counts, Eq. S1) of sample i, from the cache when present. */
  framesOf(i: number, T: number, splitBy?: SplitBy): Promise<Float32Array>;
  /** The decoded events of sample i. */
  eventsOf(i: number): Promise<EventStream>;
  /** Counters: how many frame requests were served from the cache and how many decoded events. */
  stats: { cacheHits: number; decodes: number };
  /** Warnings gathered while decoding (timestamps going backwards, empty files). */
  warnings: DataWarning[];
}

/** Natural order of file names: numbers inside compare by value (cifar10_cat_2 < cifar10_cat_10). */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

async function listFiles(dir: string, ext: string): Promise<string[]> {
  const names = (await readdir(dir)).filter((f) => f.toLowerCase().endsWith(ext));
  return names.sort(naturalCompare).map((f) => join(dir, f));
}

/** Number of each class's samples (in file order) that CIFAR10-DVS puts in training (Supp. 4). */
export const CIFAR10DVS_TRAIN_PER_CLASS = 900;

async function listSamples(name: EventDatasetName, split: Split, dir: string, trainPerClass: number): Promise<EventSample[]> {
  const samples: EventSample[] = [];
  if (name === 'nmnist') {
    const root = join(dir, split === 'train' ? 'Train' : 'Test');
    for (let c = 0; c < 10; c++) for (const f of await listFiles(join(root, String(c)), '.bin')) samples.push({ file: f, label: c });
  } else if (name === 'cifar10dvs') {
    for (let c = 0; c < CIFAR10DVS_CLASSES.length; c++) {
      const files = await listFiles(join(dir, CIFAR10DVS_CLASSES[c]!), '.aedat');
      const part = split === 'train' ? files.slice(0, trainPerClass) : files.slice(trainPerClass);
      for (const f of part) samples.push({ file: f, label: c });
    }
  } else {
    const list = join(dir, split === 'train' ? 'trials_to_train.txt' : 'trials_to_test.txt');
    const names = parseTrialList(await readFile(list, 'latin1'), list);
    const missing = names.flatMap((n) => [join(dir, n), labelsPathFor(join(dir, n))]).filter((f) => !existsSync(f));
    if (missing.length) throw new DataFormatError(list, null, `the trial list names files that are missing: ${missing.join(', ')}`);
    for (const n of names) {
      const file = join(dir, n);
      const labelsFile = labelsPathFor(file);
      const rows = await readGestureLabels(labelsFile);
      rows.forEach((r, row) => samples.push({ file, label: r.label, window: { start: r.start, end: r.end, row, labelsFile } }));
    }
  }
  return samples;
}

/** Loads the sample list of an event dataset split (events are read later, per sample). */
export async function loadEventDataset(name: EventDatasetName, split: Split, opts: LocateOptions & FramesOptions = {}): Promise<EventDataset> {
  if (split !== 'train' && split !== 'test') throw new RangeError(`split must be 'train' or 'test', got ${String(split)}`);
  const dir = locateDataset(name, split, opts);
  const samples = await listSamples(name, split, dir, opts.trainPerClass ?? CIFAR10DVS_TRAIN_PER_CLASS);
  const { width, height } = SENSOR[name];
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir(opts.env) : opts.cacheDir;
  const classes = name === 'nmnist' ? ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] : name === 'cifar10dvs' ? CIFAR10DVS_CLASSES : DVS128_GESTURE_CLASSES;
  const inflight = new Map<string, Promise<Map<number, Float32Array>>>();
  const ds: EventDataset = {
    name,
    split,
    samples,
    labels: Uint8Array.from(samples, (s) => s.label),
    n: samples.length,
    shape: [2, height, width],
    classes,
    dir,
    stats: { cacheHits: 0, decodes: 0 },
    warnings: [],
    eventsOf: async (i) => {
      const s = sampleAt(ds, i);
      const rec = await readEventFile(name, s.file, { strict: opts.strict ?? false });
      ds.stats.decodes++;
      ds.warnings.push(...rec.warnings);
      return s.window ? cutGestureSample(rec, { label: s.label, start: s.window.start, end: s.window.end, line: 0 }) : rec;
    },
    framesOf: async (i, T, splitBy = 'number') => {
      const s = sampleAt(ds, i);
      const shape = frameShape(T, height, width);
      const keyOf = async (w: EventSample['window']) =>
        cacheKey({ format: name, source: await fileIdentity(s.file), window: w ? { start: w.start, end: w.end } : null, T, splitBy, width, height });
      if (cacheDir !== null) {
        const hit = await readCachedFrames(cacheDir, await keyOf(s.window), shape);
        if (hit) {
          ds.stats.cacheHits++;
          return hit;
        }
      }
      if (!s.window) {
        const ev = await ds.eventsOf(i);
        const frames = eventsToFrames(ev, T, width, height, splitBy);
        if (cacheDir !== null) await writeCachedFrames(cacheDir, await keyOf(undefined), frames, shape);
        return frames;
      }
      // DVS128 Gesture: decode the recording once and integrate all its samples; concurrent requests
      // for samples of the same recording share that work.
      const job = `${s.file}\0${T}\0${splitBy}`;
      let pending = inflight.get(job);
      if (!pending) {
        pending = (async () => {
          const rec = await readEventFile(name, s.file, { strict: opts.strict ?? false });
          ds.stats.decodes++;
          ds.warnings.push(...rec.warnings);
          const all = new Map<number, Float32Array>();
          for (let k = 0; k < ds.samples.length; k++) {
            const o = ds.samples[k]!;
            if (o.file !== s.file || !o.window) continue;
            const frames = eventsToFrames(cutGestureSample(rec, { ...o.window, label: o.label, line: 0 }), T, width, height, splitBy);
            if (cacheDir !== null) await writeCachedFrames(cacheDir, await keyOf(o.window), frames, shape);
            all.set(k, frames);
          }
          return all;
        })();
        inflight.set(job, pending);
        void pending.then(
          () => inflight.delete(job),
          () => inflight.delete(job),
        );
      }
      return (await pending).get(i)!;
    },
  };
  return ds;
}

function sampleAt(ds: EventDataset, i: number): EventSample {
  const s = ds.samples[i];
  if (!Number.isInteger(i) || s === undefined) throw new RangeError(`sample index ${i} outside 0..${ds.n - 1}`);
  return s;
}

/** Reads one sample for the CLI: a whole file, or (DVS128 Gesture) row `sample` of its labels CSV. */
export async function readEventSample(
  format: EventFormat,
  file: string,
  opts: ReadOptions & { labels?: string; sample?: number } = {},
): Promise<{ events: EventStream; label: GestureLabel | null }> {
  if (format !== 'dvs128') {
    if (opts.labels !== undefined || opts.sample !== undefined) throw new RangeError(`--labels and --sample apply to dvs128 recordings only, not ${format}`);
    return { events: await readEventFile(format, file, opts), label: null };
  }
  const rec = await readEventFile(format, file, opts);
  if (opts.sample === undefined) return { events: rec, label: null };
  const labelsFile = opts.labels ?? labelsPathFor(file);
  const rows = await readGestureLabels(labelsFile);
  const row = rows[opts.sample];
  if (row === undefined) throw new RangeError(`sample ${opts.sample} outside 0..${rows.length - 1} (${rows.length} label rows in ${labelsFile})`);
  return { events: cutGestureSample(rec, row), label: row };
}


/**
 * Frames of a batch of samples, time-major as the network consumes them: Float32Array
 * [T, B, 2, H, W] (frame t of sample b at ((t·B + b)·2·H·W)). Reads through the cache.
 */
export async function eventBatch(ds: EventDataset, indices: ArrayLike<number>, T: number, splitBy: SplitBy = 'number'): Promise<Float32Array> {
  const per = ds.shape[0] * ds.shape[1] * ds.shape[2];
  const B = indices.length;
  const out = new Float32Array(T * B * per);
  const frames = await Promise.all(Array.from(indices, (i) => ds.framesOf(i, T, splitBy)));
  frames.forEach((f, b) => {
    for (let t = 0; t < T; t++) out.set(f.subarray(t * per, (t + 1) * per), (t * B + b) * per);
  });
  return out;
}
