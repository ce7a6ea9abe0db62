// AEDAT 3.1 reader for DVS128 Gesture (Amir et al. 2017), plus its labels CSV and trial lists.
// File: '#' header lines ending with "#!END-HEADER\r\n", then packets. Each packet has a 28-byte
// little-endian header: u16 eventType, u16 eventSource, u32 eventSize, u32 eventTSOffset,
// u32 eventTSOverflow, u32 eventCapacity, u32 eventNumber, u32 eventValid, followed by
// eventCapacity * eventSize bytes. Only type 1 (polarity, 8 bytes: u32 data, u32 timestamp) is read:
//   x = (data >> 17) & 0x7FFF, y = (data >> 2) & 0x7FFF, p = (data >> 1) & 1,
//   t = timestamp | eventTSOverflow << 31 (µs).
// Like SpikingJelly's reader, every slot of the packet (eventCapacity) is decoded.
import { readFile } from 'node:fs/promises';
import { DataFormatError, type DataWarning, type ReadOptions } from './errors.js';
import { EventBuffer, MonotonicCheck, cutByTime, type EventStream } from './events.js';
import { withCursor } from './io.js';
import { DVS128_SIZE, readAedatHeader } from './aedat2.js';

const PACKET_HEADER = 28;
const POLARITY_EVENT = 1;
const POLARITY_SIZE = 8;

/** Reads every polarity event of a DVS128 Gesture AEDAT 3.1 file, streaming packet by packet. */
export async function readAedat3File(file: string, opts: ReadOptions = {}): Promise<EventStream> {
  return withCursor(file, opts.chunkSize, async (c) => {
    const h = await readAedatHeader(c);
    if (h.version !== '3.1') {
      throw new DataFormatError(file, 0, `AEDAT ${h.version} file, but this reader expects AEDAT 3.1 (DVS128 Gesture files are 3.1; CIFAR10-DVS files are 2.0)`);
    }
    if (h.lines[h.lines.length - 1] !== '#!END-HEADER') {
      throw new DataFormatError(file, h.dataOffset, 'AEDAT 3.1 header does not end with "#!END-HEADER"');
    }
    const out = new EventBuffer(Math.ceil(c.remaining / POLARITY_SIZE));
    const mono = new MonotonicCheck(file, opts.strict ?? false);
    const warnings: DataWarning[] = [];
    const dv = () => new DataView(c.buf.buffer, c.buf.byteOffset, c.buf.byteLength);
    while ((await c.ensure(PACKET_HEADER)) > 0) {
      const at = c.fileOffset;
      if (c.available < PACKET_HEADER) {
        throw new DataFormatError(file, at, `truncated packet header: ${c.available} byte(s) left, a packet header has ${PACKET_HEADER}`);
      }
      let v = dv();
      const o = c.pos;
      const type = v.getUint16(o, true);
      const size = v.getUint32(o + 4, true);
      const tsOffset = v.getUint32(o + 8, true);
      const overflow = v.getUint32(o + 12, true);
      const capacity = v.getUint32(o + 16, true);
      const number = v.getUint32(o + 20, true);
      const valid = v.getUint32(o + 24, true);
      if (size === 0 || number > capacity || valid > number) {
        throw new DataFormatError(file, at, `corrupt packet header: eventType=${type} eventSize=${size} eventCapacity=${capacity} eventNumber=${number} eventValid=${valid}`);
      }
      const payload = capacity * size;
      if (at + PACKET_HEADER + payload > c.size) {
        throw new DataFormatError(file, at, `truncated packet: header announces ${payload} payload bytes, the file has ${c.size - at - PACKET_HEADER} left`);
      }
      c.pos += PACKET_HEADER;
      if (type !== POLARITY_EVENT) {
        // Skip other event types (special, frame, IMU, ...) without reading them whole.
        let left = payload;
        while (left > 0) {
          const have = await c.ensure(Math.min(left, 1 << 20));
          if (have === 0) throw new DataFormatError(file, c.fileOffset, 'file ended inside a packet');
          const step = Math.min(have, left);
          c.pos += step;
          left -= step;
        }
        continue;
      }
      if (size !== POLARITY_SIZE || tsOffset !== 4) {
        throw new DataFormatError(file, at, `polarity packet with eventSize=${size}, eventTSOffset=${tsOffset} (expected 8 and 4)`);
      }
      await c.ensure(payload);
      v = dv();
      const tHigh = overflow * 2 ** 31;
      const base = c.fileOffset - c.pos;
      out.reserve(capacity);
      for (let k = 0, q = c.pos; k < capacity; k++, q += POLARITY_SIZE) {
        const data = v.getUint32(q, true);
        const ts = v.getUint32(q + 4, true);
        const x = (data >>> 17) & 0x7fff;
        const y = (data >>> 2) & 0x7fff;
        if (x >= DVS128_SIZE || y >= DVS128_SIZE) {
          throw new DataFormatError(file, base + q, `event outside the ${DVS128_SIZE}x${DVS128_SIZE} sensor: x=${x}, y=${y}`);
        }
        const t = tHigh + ts;
        mono.see(t, base + q);
        out.push(x, y, (data >>> 1) & 1, t);
      }
      c.pos += payload;
    }
    const w = mono.warning();
    if (w) warnings.push(w);
    if (out.length === 0) warnings.push({ file, offset: h.dataOffset, message: 'the file holds no polarity events' });
    return { ...out.toEvents(), width: DVS128_SIZE, height: DVS128_SIZE, file, warnings };
  });
}

/** One row of a DVS128 Gesture `<name>_labels.csv`: a labelled time window of the recording. */
export interface GestureLabel {
  /** 0-based class (the CSV holds 1..11). */
  label: number;
  /** Window start (inclusive) and end (exclusive), µs. */
  start: number;
  end: number;
  /** 1-based line in the CSV. */
  line: number;
}

export const DVS128_CLASSES = 11;

/** Parses `class,startTime_usec,endTime_usec` rows (a header line is allowed). */
export function parseGestureLabels(text: string, file: string): GestureLabel[] {
  const rows: GestureLabel[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trim();
    if (raw === '') continue;
    if (i === 0 && /^[A-Za-z_]/.test(raw)) {
      if (!/^class\s*,/i.test(raw)) {
        throw new DataFormatError(file, null, `expected the header "class,startTime_usec,endTime_usec", found ${JSON.stringify(raw.slice(0, 60))}`, i + 1);
      }
      continue;
    }
    const f = raw.split(',').map((s) => s.trim());
    const bad = (why: string) => new DataFormatError(file, null, `${why} in ${JSON.stringify(raw.slice(0, 60))}`, i + 1);
    if (f.length !== 3) throw bad(`expected 3 comma-separated fields, found ${f.length}`);
    const nums = f.map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
    if (nums.some((n) => !Number.isSafeInteger(n))) throw bad('fields are not non-negative integers');
    const [cls, start, end] = nums as [number, number, number];
    if (cls < 1 || cls > DVS128_CLASSES) throw bad(`class ${cls} outside 1..${DVS128_CLASSES}`);
    if (end <= start) throw bad(`end time ${end} is not after start time ${start}`);
    rows.push({ label: cls - 1, start, end, line: i + 1 });
  }
  if (rows.length === 0) throw new DataFormatError(file, null, 'no label rows', 1);
  return rows;
}

/** Reads and parses a labels CSV. */
export async function readGestureLabels(file: string): Promise<GestureLabel[]> {
  return parseGestureLabels(await readFile(file, 'latin1'), file);
}

/** The labels CSV that belongs to a recording: `user01_fluorescent.aedat` -> `user01_fluorescent_labels.csv`. */
export function labelsPathFor(aedatFile: string): string {
  return aedatFile.replace(/\.aedat$/i, '') + '_labels.csv';
}

/** The events of one labelled window (start <= t < end) of a decoded recording. */
export function cutGestureSample(rec: EventStream, row: GestureLabel): EventStream {
  return { ...cutByTime(rec, row.start, row.end), width: rec.width, height: rec.height, file: rec.file, warnings: rec.warnings };
}

/** Parses trials_to_train.txt / trials_to_test.txt: one `.aedat` file name per line. */
export function parseTrialList(text: string, file: string): string[] {
  const names: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const s = lines[i]!.trim();
    if (s === '') continue;
    if (!/^[\w.-]+\.aedat$/i.test(s)) {
      throw new DataFormatError(file, null, `expected an .aedat file name, found ${JSON.stringify(s.slice(0, 60))}`, i + 1);
    }
    names.push(s);
  }
  return names;
}
