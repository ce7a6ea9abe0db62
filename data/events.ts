// Decoded address-event streams: { x, y, p, t } typed arrays in file order.
import { DataFormatError, type DataWarning } from './errors.js';

/** Events in file order. t is in microseconds (Float64Array: exact up to 2^53, AEDAT 3.1 needs > 32 bits). */
export interface Events {
  x: Uint16Array;
  y: Uint16Array;
  /** Polarity: 0 (OFF) or 1 (ON). */
  p: Uint8Array;
  t: Float64Array;
}

/** The result of reading one event file (or one labelled cut of it). */
export interface EventStream extends Events {
  /** Sensor size: every x < width, every y < height. */
  width: number;
  height: number;
  file: string;
  /** Problems the format tolerates that were found while reading (one entry per kind). */
  warnings: DataWarning[];
}

/** A growable column store used by the streaming readers. */
export class EventBuffer {
  x: Uint16Array;
  y: Uint16Array;
  p: Uint8Array;
  t: Float64Array;
  length = 0;

  constructor(capacity = 1 << 16) {
    const c = Math.max(16, capacity);
    this.x = new Uint16Array(c);
    this.y = new Uint16Array(c);
    this.p = new Uint8Array(c);
    this.t = new Float64Array(c);
  }

  /** Makes room for `extra` more events. */
  reserve(extra: number): void {
    const need = this.length + extra;
    if (need <= this.t.length) return;
    let c = this.t.length;
    while (c < need) c *= 2;
    const grow = <A extends Uint16Array | Uint8Array | Float64Array>(a: A, make: (n: number) => A): A => {
      const b = make(c);
      b.set(a.subarray(0, this.length));
      return b;
    };
    this.x = grow(this.x, (n) => new Uint16Array(n));
    this.y = grow(this.y, (n) => new Uint16Array(n));
    this.p = grow(this.p, (n) => new Uint8Array(n));
    this.t = grow(this.t, (n) => new Float64Array(n));
  }

  /** Appends one event; call reserve() first. */
  push(x: number, y: number, p: number, t: number): void {
    const i = this.length++;
    this.x[i] = x;
    this.y[i] = y;
    this.p[i] = p;
    this.t[i] = t;
  }

  /** Trimmed copies of the columns. */
  toEvents(): Events {
    const n = this.length;
    return { x: this.x.slice(0, n), y: this.y.slice(0, n), p: this.p.slice(0, n), t: this.t.slice(0, n) };
  }
}

/**
 * Watches timestamps for going backwards. Formats tolerate it (the events are kept in file order);
 * it is reported once per file with the count and the first offset, or thrown in strict mode.
 */
export class MonotonicCheck {
  private last = -Infinity;
  private count = 0;
  private firstOffset = -1;
  private firstPrev = 0;
  private firstT = 0;

  constructor(
    private readonly file: string,
    private readonly strict: boolean,
  ) {}

  /** Call for every event, in file order. */
  see(t: number, offset: number): void {
    if (t < this.last) {
      if (this.strict) {
        throw new DataFormatError(this.file, offset, `timestamp goes backwards: ${t} µs after ${this.last} µs`);
      }
      if (this.count === 0) {
        this.firstOffset = offset;
        this.firstPrev = this.last;
        this.firstT = t;
      }
      this.count++;
    }
    this.last = t;
  }

  /** The warning to report, if any. */
  warning(): DataWarning | null {
    if (this.count === 0) return null;
    return {
      file: this.file,
      offset: this.firstOffset,
      message:
        `timestamps go backwards at ${this.count} event(s); the first at byte offset ${this.firstOffset} ` +
        `(${this.firstT} µs after ${this.firstPrev} µs). Events are kept in file order.`,
    };
  }
}

/** Events with start <= t < end (any order), copied, in file order. */
export function cutByTime(e: Events, start: number, end: number): Events {
  const n = e.t.length;
  let m = 0;
  for (let i = 0; i < n; i++) {
    const t = e.t[i]!;
    if (t >= start && t < end) m++;
  }
  const out: Events = { x: new Uint16Array(m), y: new Uint16Array(m), p: new Uint8Array(m), t: new Float64Array(m) };
  let k = 0;
  for (let i = 0; i < n; i++) {
    const t = e.t[i]!;
    if (t >= start && t < end) {
      out.x[k] = e.x[i]!;
      out.y[k] = e.y[i]!;
      out.p[k] = e.p[i]!;
      out.t[k] = t;
      k++;
    }
  }
  return out;
}
