// Minimal PNG writer (PNG spec, ISO/IEC 15948): 8-bit RGB, filter 0 on every row, zlib via
// node:zlib, chunk CRC-32 (polynomial 0xEDB88320).
import { deflateSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 of bytes (as used by PNG chunks, zip and gzip). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = (crc ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  v.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes an RGB image (rgb.length = 3·width·height, row-major) as PNG bytes. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  if (rgb.length !== width * height * 3) throw new RangeError(`RGB buffer of ${rgb.length} bytes for ${width}x${height}`);
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, width);
  v.setUint32(4, height);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', new Uint8Array(deflateSync(raw))),
    chunk('IEND', new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Colours for frame pictures: ON (polarity 1) and OFF (polarity 0) events, on black. */
export const ON_COLOUR: readonly [number, number, number] = [0, 255, 0];
export const OFF_COLOUR: readonly [number, number, number] = [255, 0, 255];

/**
 * Renders frame j of [T, 2, H, W] counts as RGB: ON events in ON_COLOUR, OFF events in OFF_COLOUR,
 * brightness = sqrt(count / max count over all frames), so frames compare and faint ones still show, each pixel drawn scale x scale.
 */
export function frameToRgb(frames: Float32Array, T: number, height: number, width: number, j: number, scale = 1): { rgb: Uint8Array; width: number; height: number } {
  const plane = height * width;
  let max = 0;
  for (let i = 0; i < T * 2 * plane; i++) if (frames[i]! > max) max = frames[i]!;
  const W = width * scale;
  const H = height * scale;
  const rgb = new Uint8Array(W * H * 3);
  const off = j * 2 * plane;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const a = max > 0 ? frames[off + y * width + x]! / max : 0; // polarity 0 = OFF
      const b = max > 0 ? frames[off + plane + y * width + x]! / max : 0; // polarity 1 = ON
      const r = Math.min(255, Math.round(255 * Math.min(1, Math.sqrt(a) * OFF_COLOUR[0] / 255 + Math.sqrt(b) * ON_COLOUR[0] / 255)));
      const g = Math.min(255, Math.round(255 * Math.min(1, Math.sqrt(a) * OFF_COLOUR[1] / 255 + Math.sqrt(b) * ON_COLOUR[1] / 255)));
      const bl = Math.min(255, Math.round(255 * Math.min(1, Math.sqrt(a) * OFF_COLOUR[2] / 255 + Math.sqrt(b) * ON_COLOUR[2] / 255)));
      for (let dy = 0; dy < scale; dy++) {
        for (let dx = 0; dx < scale; dx++) {
          const q = ((y * scale + dy) * W + x * scale + dx) * 3;
          rgb[q] = r;
          rgb[q + 1] = g;
          rgb[q + 2] = bl;
        }
      }
    }
  }
  return { rgb, width: W, height: H };
}
