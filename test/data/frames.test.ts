import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32, decodeNpy, encodeNpy, encodePng, eventsToFrames, frameToRgb, sliceIndices, type Events } from '../../data/index.js';

function ev(list: Array<[number, number, number, number]>): Events {
  return {
    x: Uint16Array.from(list, (e) => e[0]),
    y: Uint16Array.from(list, (e) => e[1]),
    p: Uint8Array.from(list, (e) => e[2]),
    t: Float64Array.from(list, (e) => e[3]),
  };
}
const at = (f: Float32Array, W: number, H: number, j: number, p: number, y: number, x: number) => f[((j * 2 + p) * H + y) * W + x];

describe('event -> frame (Eq. S1)', () => {
  it('splits by number: floor(N/T) events per frame, the remainder in the last', () => {
    // N = 7, T = 3: q = 2 -> frames take events [0,2), [2,4), [4,7)
    const e = ev([[0, 0, 0, 1], [1, 0, 1, 2], [0, 1, 0, 3], [0, 1, 0, 4], [2, 2, 1, 5], [2, 2, 1, 6], [0, 0, 0, 7]]);
    expect(Array.from(sliceIndices(e, 3, 'number'))).toEqual([0, 0, 1, 1, 2, 2, 2]);
    const f = eventsToFrames(e, 3, 3, 3, 'number');
    expect(f.length).toBe(3 * 2 * 3 * 3);
    expect(at(f, 3, 3, 0, 0, 0, 0)).toBe(1);
    expect(at(f, 3, 3, 0, 1, 0, 1)).toBe(1);
    expect(at(f, 3, 3, 1, 0, 1, 0)).toBe(2); // channel 0 = polarity 0
    expect(at(f, 3, 3, 2, 1, 2, 2)).toBe(2);
    expect(at(f, 3, 3, 2, 0, 0, 0)).toBe(1);
    expect(f.reduce((a, b) => a + b, 0)).toBe(7);
  });

  it('puts everything in the last frame when N < T, and gives zeros for no events', () => {
    const e = ev([[1, 1, 1, 5], [1, 1, 1, 6]]);
    const f = eventsToFrames(e, 4, 2, 2, 'number');
    expect(at(f, 2, 2, 3, 1, 1, 1)).toBe(2);
    expect(f.reduce((a, b) => a + b, 0)).toBe(2);
    expect(eventsToFrames(ev([]), 4, 2, 2, 'time').every((v) => v === 0)).toBe(true);
    expect(eventsToFrames(ev([]), 4, 2, 2, 'number').every((v) => v === 0)).toBe(true);
  });

  it('splits by time into equal windows, never crashing on empty ones', () => {
    // span 0..100, T = 4 -> dt = 25: windows [0,25) [25,50) [50,75) [75,100]; window 1 and 2 are empty
    const e = ev([[0, 0, 0, 0], [0, 0, 0, 10], [1, 0, 1, 80], [1, 0, 1, 100]]);
    expect(Array.from(sliceIndices(e, 4, 'time'))).toEqual([0, 0, 3, 3]);
    const f = eventsToFrames(e, 4, 2, 1, 'time');
    expect(at(f, 2, 1, 0, 0, 0, 0)).toBe(2);
    expect(at(f, 2, 1, 3, 1, 0, 1)).toBe(2);
    // all events at one instant: dt = 0 -> the last frame takes them, like by-number with N < T
    expect(Array.from(sliceIndices(ev([[0, 0, 0, 5], [0, 0, 0, 5]]), 3, 'time'))).toEqual([2, 2]);
  });

  it('rejects events outside the frame and bad T', () => {
    expect(() => eventsToFrames(ev([[5, 0, 0, 1]]), 2, 4, 4)).toThrow(RangeError);
    expect(() => eventsToFrames(ev([]), 0, 4, 4)).toThrow(/T must be a positive integer/);
  });
});

describe('.npy', () => {
  it('round-trips and pads the header to 64 bytes', () => {
    const a = Float32Array.from({ length: 2 * 2 * 3 * 4 }, (_, i) => i * 0.5);
    const bytes = encodeNpy(a, [2, 2, 3, 4]);
    const hlen = bytes[8]! | (bytes[9]! << 8);
    expect((10 + hlen) % 64).toBe(0);
    const header = Buffer.from(bytes.subarray(10, 10 + hlen)).toString('latin1');
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 2, 3, 4\), \} *\n$/);
    const back = decodeNpy(bytes);
    expect(back.shape).toEqual([2, 2, 3, 4]);
    expect(Array.from(back.data)).toEqual(Array.from(a));
    expect(() => decodeNpy(bytes.subarray(0, bytes.length - 1), 'x.npy')).toThrow(/x\.npy/);
  });
});

describe('PNG', () => {
  it('computes the standard CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('writes a valid RGB PNG whose pixels decode back', () => {
    const rgb = Uint8Array.from({ length: 3 * 2 * 3 }, (_, i) => i * 10);
    const png = Buffer.from(encodePng(rgb, 3, 2));
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    // walk chunks, check CRCs, collect IDAT
    let o = 8;
    const types: string[] = [];
    const idat: Buffer[] = [];
    while (o < png.length) {
      const len = png.readUInt32BE(o);
      const type = png.subarray(o + 4, o + 8).toString('latin1');
      expect(png.readUInt32BE(o + 8 + len)).toBe(crc32(png.subarray(o + 4, o + 8 + len)));
      if (type === 'IDAT') idat.push(png.subarray(o + 8, o + 8 + len));
      types.push(type);
      o += 12 + len;
    }
    expect(types).toEqual(['IHDR', 'IDAT', 'IEND']);
    const raw = inflateSync(Buffer.concat(idat));
    expect(raw.length).toBe(2 * (1 + 9));
    expect(raw[0]).toBe(0);
    expect(Array.from(raw.subarray(1, 10))).toEqual(Array.from(rgb.subarray(0, 9)));
  });

  it('colours ON and OFF events differently', () => {
    const f = new Float32Array(1 * 2 * 1 * 2);
    f[0] = 1; // polarity 0 (OFF) at x = 0
    f[3] = 1; // polarity 1 (ON) at x = 1
    const { rgb } = frameToRgb(f, 1, 1, 2, 0);
    expect(Array.from(rgb.subarray(0, 3))).not.toEqual(Array.from(rgb.subarray(3, 6)));
    expect(Array.from(rgb.subarray(3, 6))).toEqual([0, 255, 0]);
  });
});
