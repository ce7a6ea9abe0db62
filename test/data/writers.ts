// Fixture writers for the original dataset formats, written from the formats' documentation and
// independent of the readers in data/ (they share no code with them).
import { gzipSync } from 'node:zlib';

export interface Ev {
  x: number;
  y: number;
  p: number;
  t: number;
}

function u32be(v: number): number[] {
  return [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
}

/** IDX unsigned-byte file: magic 0x0000080<ndim>, BE u32 dims, data. */
export function idxBytes(dims: number[], data: ArrayLike<number>, gzip = false): Buffer {
  const head = [0, 0, 8, dims.length, ...dims.flatMap(u32be)];
  const buf = Buffer.concat([Buffer.from(head), Buffer.from(Array.from(data))]);
  return gzip ? gzipSync(buf) : buf;
}

/** CIFAR-10 binary batch: per record 1 label byte + 3072 pixel bytes. */
export function cifarBatch(labels: number[], pixel: (i: number, k: number) => number): Buffer {
  const out = Buffer.alloc(labels.length * 3073);
  labels.forEach((l, i) => {
    out[i * 3073] = l;
    for (let k = 0; k < 3072; k++) out[i * 3073 + 1 + k] = pixel(i, k) & 255;
  });
  return out;
}

/** N-MNIST .bin: 40 bits per event: x, y, p<<7 | t>>16, t>>8, t. */
export function nmnistBytes(events: Ev[]): Buffer {
  const out = Buffer.alloc(events.length * 5);
  events.forEach((e, i) => {
    out[i * 5] = e.x;
    out[i * 5 + 1] = e.y;
    out[i * 5 + 2] = (e.p << 7) | ((e.t >> 16) & 0x7f);
    out[i * 5 + 3] = (e.t >> 8) & 0xff;
    out[i * 5 + 4] = e.t & 0xff;
  });
  return out;
}

/**
 * AEDAT 2.0 as CIFAR10-DVS stores it. The reader's orientation is x = 127 - rawY, y = 127 - rawX,
 * p = 1 - rawP, so to store an event (x, y, p) the raw address uses rawX = 127 - y, rawY = 127 - x,
 * rawP = 1 - p: addr = rawY << 8 | rawX << 1 | rawP.
 */
export function aedat2Bytes(events: Ev[], header = ['#!AER-DAT2.0', '# This is a raw AE data file - do not edit', '# Data format is int32 address, int32 timestamp (8 bytes total)', '# Timestamps tick is 1 us']): Buffer {
  const head = Buffer.from(header.map((l) => l + '\r\n').join(''), 'latin1');
  const body = Buffer.alloc(events.length * 8);
  events.forEach((e, i) => {
    const addr = ((127 - e.x) << 8) | ((127 - e.y) << 1) | (1 - e.p);
    body.writeUInt32BE(addr, i * 8);
    body.writeUInt32BE(e.t, i * 8 + 4);
  });
  return Buffer.concat([head, body]);
}

export interface Packet {
  type: number;
  /** For type 1: events; the timestamp written is t mod 2^31 with overflow = floor(t / 2^31). */
  events?: Ev[];
  /** For other types: raw payload size. */
  payloadBytes?: number;
  overflow?: number;
  /** Extra empty slots (capacity > number). */
  spare?: number;
}

/** AEDAT 3.1 (cAER): header lines, "#!END-HEADER\r\n", then packets with 28-byte LE headers. */
export function aedat3Bytes(packets: Packet[], firstLine = '#!AER-DAT3.1'): Buffer {
  const head = Buffer.from([firstLine, '#Format: RAW', '#Source 1: DVS128', '#!END-HEADER'].map((l) => l + '\r\n').join(''), 'latin1');
  const parts: Buffer[] = [head];
  for (const p of packets) {
    const h = Buffer.alloc(28);
    if (p.type === 1) {
      const evs = p.events ?? [];
      const cap = evs.length + (p.spare ?? 0);
      const overflow = p.overflow ?? (evs.length ? Math.floor(evs[0]!.t / 2 ** 31) : 0);
      h.writeUInt16LE(1, 0);
      h.writeUInt16LE(1, 2);
      h.writeUInt32LE(8, 4);
      h.writeUInt32LE(4, 8);
      h.writeUInt32LE(overflow, 12);
      h.writeUInt32LE(cap, 16);
      h.writeUInt32LE(evs.length, 20);
      h.writeUInt32LE(evs.length, 24);
      const body = Buffer.alloc(cap * 8);
      evs.forEach((e, i) => {
        const data = ((e.x << 17) | (e.y << 2) | (e.p << 1) | 1) >>> 0;
        body.writeUInt32LE(data, i * 8);
        body.writeUInt32LE(e.t % 2 ** 31, i * 8 + 4);
      });
      parts.push(h, body);
    } else {
      const n = p.payloadBytes ?? 16;
      h.writeUInt16LE(p.type, 0);
      h.writeUInt32LE(8, 4);
      h.writeUInt32LE(4, 8);
      h.writeUInt32LE(n / 8, 16);
      h.writeUInt32LE(n / 8, 20);
      h.writeUInt32LE(n / 8, 24);
      parts.push(h, Buffer.alloc(n, 0xab));
    }
  }
  return Buffer.concat(parts);
}

/** DVS128 Gesture labels CSV (classes 1..11). */
export function labelsCsv(rows: Array<[number, number, number]>): string {
  return 'class,startTime_usec,endTime_usec\r\n' + rows.map((r) => r.join(',') + '\r\n').join('');
}

/** A small deterministic pseudo-random generator for fixtures (LCG). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** n random events inside a w x h sensor with increasing timestamps from t0. */
export function randomEvents(n: number, w: number, h: number, seed: number, t0 = 0): Ev[] {
  const r = lcg(seed);
  let t = t0;
  return Array.from({ length: n }, () => {
    t += 1 + Math.floor(r() * 50);
    return { x: Math.floor(r() * w), y: Math.floor(r() * h), p: r() < 0.5 ? 0 : 1, t };
  });
}
