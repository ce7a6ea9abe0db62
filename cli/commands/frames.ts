// `plif frames`: integrate the events of one sample into frames [T, 2, H, W] (Eq. S1) and write
// them as a NumPy .npy array, optionally with one PNG per frame to look at.
import { join } from 'node:path';
import { makeDirectory } from '../../data/file-io.js';
import { checkFits, TooLargeError } from '../../training/memory.js';
import { checkOutputPaths, intFlag, parseFlags, UsageError, withInputErrors, withUsage, type ParsedFlags } from '../args.js';
import {
  SENSOR,
  encodeNpy,
  encodePng,
  eventsToFrames,
  frameToRgb,
  readEventSample,
  writeFileAtomic,
  type EventFormat,
  type EventStream,
  type GestureLabel,
  type SplitBy,
} from '../../data/index.js';

const FORMATS: readonly EventFormat[] = ['nmnist', 'cifar10dvs', 'dvs128'];

/** The widest PNG plif frames draws, a side (a 128x128 sensor at --png-scale 128). */
const MAX_PNG_SIDE = 16384;

/** Options shared by `plif frames` and `plif events` to pick one sample. */
export const SAMPLE_OPTIONS = {
  format: { type: 'string' },
  file: { type: 'string' },
  labels: { type: 'string' },
  sample: { type: 'string' },
  strict: { type: 'boolean' },
} as const;
type SampleFlags = ParsedFlags<typeof SAMPLE_OPTIONS>['values'];

export const SAMPLE_USAGE =
  `  --format F       event file format: nmnist (.bin, 34x34), cifar10dvs (AEDAT 2.0, 128x128),\n` +
  `                   dvs128 (DVS128 Gesture AEDAT 3.1, 128x128)\n` +
  `  --file PATH      the event file\n` +
  `  --labels CSV     dvs128: the labels CSV (default: <file>_labels.csv beside the .aedat)\n` +
  `  --sample K       dvs128: take row K (0-based) of the labels CSV: events with start <= t < end\n` +
  `  --strict         treat tolerated problems (timestamps going backwards) as errors\n`;

/** Reads the sample selected by the shared options. */
export async function sampleFromFlags(v: SampleFlags, opts: { wholeRecordingOk: boolean }): Promise<{ format: EventFormat; file: string; events: EventStream; label: GestureLabel | null }> {
  const format = v.format;
  if (format === undefined) throw new UsageError(`--format is required (${FORMATS.join(' | ')})`);
  if (!FORMATS.includes(format as EventFormat)) throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got '${format}'`);
  const file = v.file;
  if (file === undefined || file === '') throw new UsageError('--file PATH is required');
  const sample = intFlag('sample', v.sample, 0);
  const labels = v.labels;
  if (format !== 'dvs128' && (labels !== undefined || sample !== undefined)) {
    throw new UsageError(`--labels and --sample apply to --format dvs128 only (a ${format} file is one sample)`);
  }
  if (format === 'dvs128' && sample === undefined && labels !== undefined) throw new UsageError('--labels needs --sample K');
  if (format === 'dvs128' && sample === undefined && !opts.wholeRecordingOk) {
    throw new UsageError('--format dvs128 needs --sample K: a recording holds several labelled samples (rows of its _labels.csv)');
  }
  const { events, label } = await readEventSample(format as EventFormat, file, { labels, sample, strict: v.strict === true });
  return { format: format as EventFormat, file, events, label };
}

export function describeSample(s: { file: string; events: EventStream; label: GestureLabel | null }): string {
  const n = s.events.t.length;
  const span = n ? ` t ${s.events.t[0]}..${s.events.t[n - 1]} µs` : '';
  const lab = s.label ? ` sample [${s.label.start}, ${s.label.end}) µs, label ${s.label.label} (CSV class ${s.label.label + 1}, line ${s.label.line}),` : '';
  return `${s.file}:${lab} ${n} events,${span}`;
}

const USAGE =
  `usage: plif frames --format nmnist|cifar10dvs|dvs128 --file PATH [--labels CSV --sample K]\n` +
  `                   --T N [--split-by number|time] --out OUT.npy [--png DIR [--png-scale S]]\n\n` +
  `Integrates the events of one sample into T frames of event counts (Eq. S1 of the paper) and writes\n` +
  `a float32 NumPy array of shape [T, 2, H, W] (channel 0 = polarity 0 / OFF, 1 = polarity 1 / ON).\n\n` +
  SAMPLE_USAGE +
  `  --T N            number of frames (the paper: 10 for N-MNIST, 20 for CIFAR10-DVS and DVS128 Gesture)\n` +
  `  --split-by M     number (default, the paper: equal event counts, remainder in the last frame)\n` +
  `                   or time (equal time windows; empty windows give empty frames)\n` +
  `  --out OUT.npy    output file\n` +
  `  --png DIR        also write DIR/frame_<j>.png: ON events green, OFF events magenta\n` +
  `  --png-scale S    pixel size in the PNGs (default 4 for 34x34, 2 for 128x128)\n`;

export async function run(argv: string[]): Promise<number> {
  return withUsage('frames', USAGE, argv, () =>
    withInputErrors('frames', async () => {
      const { values: v } = parseFlags(argv, { ...SAMPLE_OPTIONS, T: { type: 'string' }, 'split-by': { type: 'string' }, out: { type: 'string' }, png: { type: 'string' }, 'png-scale': { type: 'string' } });
      const T = intFlag('T', v.T);
      if (T === undefined) throw new UsageError('--T N is required');
      const splitBy = v['split-by'] ?? 'number';
      if (splitBy !== 'number' && splitBy !== 'time') throw new UsageError(`--split-by must be number or time, got '${splitBy}'`);
      const out = v.out;
      if (out === undefined || out === '') throw new UsageError('--out OUT.npy is required');
      const pngDir = v.png;
      const { width, height } = SENSOR[v.format as EventFormat] ?? { width: 0, height: 0 };
      const values = T * 2 * height * width;
      try {
        // the frames and their .npy encoding
        checkFits(`integrating ${T} frames`, 2 * 4 * values, { what: `frames [${T}, 2, ${height}, ${width}]`, values }, 'use a smaller --T');
      } catch (err) {
        if (err instanceof TooLargeError) throw new UsageError(err.message);
        throw err;
      }
      const scale = intFlag('png-scale', v['png-scale']) ?? (width <= 64 ? 4 : 2);
      if (pngDir !== undefined) {
        // one PNG at a time: its RGB pixels, the filtered scanlines PNG compresses and their compression
        const side = { w: width * scale, h: height * scale };
        const pixels = 3 * side.w * side.h;
        if (side.w > MAX_PNG_SIDE || side.h > MAX_PNG_SIDE) {
          throw new UsageError(`--png-scale ${scale}: frames of ${width}x${height} drawn at ${scale} pixels per sensor pixel are ${side.w}x${side.h} PNGs, more than ${MAX_PNG_SIDE} pixels a side; use a smaller --png-scale`);
        }
        try {
          checkFits(`drawing ${width}x${height} frames at --png-scale ${scale} (${side.w}x${side.h} PNGs)`, 3 * pixels, { what: `the RGB pixels of one PNG`, values: pixels }, 'use a smaller --png-scale');
        } catch (err) {
          if (err instanceof TooLargeError) throw new UsageError(err.message);
          throw err;
        }
      }
      // where nothing can be written (/proc, /sys): refused before the sample is read
      await checkOutputPaths({ '--out': out, '--png': pngDir });
      const s = await sampleFromFlags(v, { wholeRecordingOk: false });
      const frames = eventsToFrames(s.events, T, width, height, splitBy as SplitBy);
      for (const w of s.events.warnings) process.stderr.write(`warning: ${w.file} (byte offset ${w.offset}): ${w.message}\n`);
      if (pngDir !== undefined) await makeDirectory(pngDir);
      await writeFileAtomic(out, encodeNpy(frames, [T, 2, height, width]));
      process.stdout.write(`${describeSample(s)} -> ${out} float32 [${T}, 2, ${height}, ${width}] (split by ${splitBy})\n`);
      if (pngDir !== undefined) {
        const digits = String(T - 1).length;
        for (let j = 0; j < T; j++) {
          const img = frameToRgb(frames, T, height, width, j, scale);
          await writeFileAtomic(join(pngDir, `frame_${String(j).padStart(digits, '0')}.png`), encodePng(img.rgb, img.width, img.height));
        }
        process.stdout.write(`${T} PNG frame(s) in ${pngDir} (ON green, OFF magenta)\n`);
      }
      return 0;
    }),
  );
}
