// N-MNIST .bin reader (Orchard et al. 2015). Each event is 5 bytes (40 bits):
//   byte 0: x, byte 1: y, bit 7 of byte 2: polarity, bits 6..0 of byte 2 + bytes 3, 4: 23-bit
//   timestamp in µs (big-endian). An event with y = 240 is a timestamp-overflow marker: it adds 2^13
//   to every later timestamp and is not an event (as in the dataset's own reader and tonic).
// Sensor: 34 x 34.
import { DataFormatError, type DataWarning, type ReadOptions } from './errors.js';
import { EventBuffer, MonotonicCheck, type EventStream } from './events.js';
import { forEachRecordChunk, withCursor } from './io.js';

export const NMNIST_WIDTH = 34;
export const NMNIST_HEIGHT = 34;
const RECORD = 5;
const OVERFLOW_Y = 240;
const OVERFLOW_STEP = 1 << 13;

/** Reads one N-MNIST .bin file, streaming. */
export async function readNMnistFile(file: string, opts: ReadOptions = {}): Promise<EventStream> {
  return withCursor(file, opts.chunkSize, async (c) => {
    const out = new EventBuffer(Math.ceil(c.size / RECORD));
    const mono = new MonotonicCheck(file, opts.strict ?? false);
    const warnings: DataWarning[] = [];
    let overflow = 0;
    // A file of another format would decode into garbage; catch the common mistake early.
    if ((await c.ensure(9)) >= 9 && c.buf[c.pos] === 0x23 && c.buf[c.pos + 1] === 0x21) {
      throw new DataFormatError(file, 0, 'this looks like an AEDAT file (starts with "#!"), not an N-MNIST .bin file');
    }
    await forEachRecordChunk(c, file, RECORD, (b, start, n, base) => {
      out.reserve(n);
      for (let k = 0, o = start; k < n; k++, o += RECORD) {
        const x = b[o]!;
        const y = b[o + 1]!;
        if (y === OVERFLOW_Y) {
          overflow += OVERFLOW_STEP;
          continue;
        }
        if (x >= NMNIST_WIDTH || y >= NMNIST_HEIGHT) {
          throw new DataFormatError(file, base + o, `event outside the ${NMNIST_WIDTH}x${NMNIST_HEIGHT} sensor: x=${x}, y=${y}`);
        }
        const b2 = b[o + 2]!;
        const t = ((b2 & 0x7f) << 16) + (b[o + 3]! << 8) + b[o + 4]! + overflow;
        mono.see(t, base + o);
        out.push(x, y, b2 >> 7, t);
      }
    });
    const w = mono.warning();
    if (w) warnings.push(w);
    if (out.length === 0) warnings.push({ file, offset: 0, message: 'the file holds no events' });
    return { ...out.toEvents(), width: NMNIST_WIDTH, height: NMNIST_HEIGHT, file, warnings };
  });
}
