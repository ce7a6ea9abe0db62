// AEDAT 2.0 reader, as used by CIFAR10-DVS (jAER, DVS128 sensor, 128 x 128).
// File: ASCII header lines starting with '#' (the first is "#!AER-DAT2.0"), then records of two
// big-endian uint32: address, timestamp (µs). DVS128 address bits:
//   raw x = (addr & 0xFE) >> 1, raw y = (addr & 0x7F00) >> 8, raw p = addr & 1.
// CIFAR10-DVS orientation follows SpikingJelly's current reader:
//   x = 127 - raw y, y = 127 - raw x, p = 1 - raw p.
import { DataFormatError, type DataWarning, type ReadOptions } from './errors.js';
import { EventBuffer, MonotonicCheck, type EventStream } from './events.js';
import { ascii, forEachRecordChunk, withCursor, type FileCursor } from './io.js';

export const DVS128_SIZE = 128;
const RECORD = 8;

/** Parsed '#' header of an AEDAT file. */
export interface AedatHeader {
  /** e.g. "2.0" or "3.1", from the first line "#!AER-DAT<version>". */
  version: string;
  lines: string[];
  /** Byte offset of the first binary byte. */
  dataOffset: number;
}

/**
 * Reads the '#' header lines at the start of an AEDAT file. For 3.x files the header ends at
 * "#!END-HEADER"; for 2.0 at the first line that does not start with '#'.
 */
export async function readAedatHeader(c: FileCursor): Promise<AedatHeader> {
  const first = await c.peekLine();
  if (first === null) throw new DataFormatError(c.file, 0, 'empty file: no AEDAT header');
  const line0 = ascii(c.buf.subarray(first.start, first.start + first.length)).replace(/\r?\n$/, '');
  const m = /^#!AER-DAT(\d+\.\d+)/.exec(line0);
  if (!m) {
    const head = Array.from(c.buf.subarray(first.start, first.start + Math.min(first.length, 16)), (b) => b.toString(16).padStart(2, '0')).join(' ');
    const shown = /^[\x20-\x7e]*$/.test(line0.slice(0, 40)) ? JSON.stringify(line0.slice(0, 40)) : `bytes ${head}`;
    throw new DataFormatError(c.file, 0, `not an AEDAT file: the first line should start with "#!AER-DAT", found ${shown}`);
  }
  const version = m[1]!;
  const lines = [line0];
  c.pos += first.length;
  for (;;) {
    if ((await c.ensure(1)) === 0 || c.buf[c.pos] !== 0x23 /* '#' */) break;
    const l = await c.peekLine();
    if (l === null) break;
    const text = ascii(c.buf.subarray(l.start, l.start + l.length)).replace(/\r?\n$/, '');
    c.pos += l.length;
    lines.push(text);
    if (text === '#!END-HEADER') break;
  }
  return { version, lines, dataOffset: c.fileOffset };
}

function checkVersion(file: string, h: AedatHeader, want: string, hint: string): void {
  if (h.version !== want) {
    throw new DataFormatError(file, 0, `AEDAT ${h.version} file, but this reader expects AEDAT ${want} (${hint})`);
  }
}

/** Reads a CIFAR10-DVS AEDAT 2.0 file, streaming. */
export async function readAedat2File(file: string, opts: ReadOptions = {}): Promise<EventStream> {
  return withCursor(file, opts.chunkSize, async (c) => {
    const h = await readAedatHeader(c);
    checkVersion(file, h, '2.0', 'CIFAR10-DVS files are AEDAT 2.0; DVS128 Gesture files are 3.1');
    const out = new EventBuffer(Math.ceil(c.remaining / RECORD));
    const mono = new MonotonicCheck(file, opts.strict ?? false);
    const warnings: DataWarning[] = [];
    await forEachRecordChunk(c, file, RECORD, (b, start, n, base) => {
      out.reserve(n);
      for (let k = 0, o = start; k < n; k++, o += RECORD) {
        const addr = ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
        const t = ((b[o + 4]! << 24) | (b[o + 5]! << 16) | (b[o + 6]! << 8) | b[o + 7]!) >>> 0;
        const rx = (addr & 0xfe) >>> 1;
        const ry = (addr & 0x7f00) >>> 8;
        const rp = addr & 1;
        mono.see(t, base + o);
        out.push(127 - ry, 127 - rx, 1 - rp, t);
      }
    });
    const w = mono.warning();
    if (w) warnings.push(w);
    if (out.length === 0) warnings.push({ file, offset: h.dataOffset, message: 'the file holds no events' });
    return { ...out.toEvents(), width: DVS128_SIZE, height: DVS128_SIZE, file, warnings };
  });
}
