// Event -> frame integration (Supplementary Eq. S1 of the paper).
// F(j, p, x, y) = number of events of slice j at (p, x, y); frames are [T, 2, H, W] row-major,
// channel 0 = polarity 0. Split by number (the paper): slice j holds events
// [floor(N/T)·j, floor(N/T)·(j+1)) and the last slice holds the rest, up to N.
// Split by time (option): dt = floor((t_max - t_min) / T) µs, slice j holds t in
// [t_min + dt·j, t_min + dt·(j+1)), the last slice holds the rest up to t_max; empty slices are fine.
import type { Events } from './events.js';

export type SplitBy = 'number' | 'time';

/** Frame shape for T frames of an H x W sensor. */
export function frameShape(T: number, height: number, width: number): [number, number, number, number] {
  return [T, 2, height, width];
}

function checkArgs(T: number, width: number, height: number): void {
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`T must be a positive integer, got ${T}`);
  if (!Number.isInteger(width) || width < 1 || !Number.isInteger(height) || height < 1) {
    throw new RangeError(`bad sensor size ${width}x${height}`);
  }
}

/** Slice index of every event (Eq. S1 by number, or by time). */
export function sliceIndices(e: Events, T: number, splitBy: SplitBy): Uint32Array {
  const n = e.t.length;
  const j = new Uint32Array(n);
  if (n === 0) return j;
  if (splitBy === 'number') {
    const q = Math.floor(n / T);
    for (let i = 0; i < n; i++) j[i] = q === 0 ? T - 1 : Math.min(T - 1, Math.floor(i / q));
    return j;
  }
  let tmin = Infinity;
  let tmax = -Infinity;
  for (let i = 0; i < n; i++) {
    const t = e.t[i]!;
    if (t < tmin) tmin = t;
    if (t > tmax) tmax = t;
  }
  const dt = Math.floor((tmax - tmin) / T);
  for (let i = 0; i < n; i++) j[i] = dt === 0 ? T - 1 : Math.min(T - 1, Math.floor((e.t[i]! - tmin) / dt));
  return j;
}

/**
 * Integrates events into T frames of counts, Float32Array [T, 2, H, W].
 * Throws RangeError for an event outside the sensor (readers have already checked this).
 */
export function eventsToFrames(e: Events, T: number, width: number, height: number, splitBy: SplitBy = 'number'): Float32Array {
  checkArgs(T, width, height);
  if (splitBy !== 'number' && splitBy !== 'time') throw new RangeError(`splitBy must be 'number' or 'time', got ${String(splitBy)}`);
  const plane = width * height;
  const frames = new Float32Array(T * 2 * plane);
  const slice = sliceIndices(e, T, splitBy);
  const n = e.t.length;
  for (let i = 0; i < n; i++) {
    const x = e.x[i]!;
    const y = e.y[i]!;
    const p = e.p[i]!;
    if (x >= width || y >= height || p > 1) throw new RangeError(`event ${i} (x=${x}, y=${y}, p=${p}) outside ${width}x${height}x2`);
    frames[(slice[i]! * 2 + p) * plane + y * width + x] += 1;
  }
  return frames;
}
