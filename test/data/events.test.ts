import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DataFormatError,
  parseGestureLabels,
  parseTrialList,
  readAedat2File,
  readAedat3File,
  readEventSample,
  readNMnistFile,
  type EventStream,
} from '../../data/index.js';
import { aedat2Bytes, aedat3Bytes, labelsCsv, nmnistBytes, randomEvents, type Ev } from './writers.js';

const dir = mkdtempSync(join(tmpdir(), 'plif-events-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
function put(name: string, bytes: Buffer | string): string {
  const f = join(dir, name);
  writeFileSync(f, bytes);
  return f;
}
function asList(e: EventStream): Ev[] {
  return Array.from(e.t, (t, i) => ({ x: e.x[i]!, y: e.y[i]!, p: e.p[i]!, t }));
}
async function rejects(p: Promise<unknown>, file: string, offset: number | null, text: RegExp): Promise<DataFormatError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataFormatError);
  const d = err as DataFormatError;
  expect(d.file).toBe(file);
  expect(d.offset).toBe(offset);
  expect(d.message).toMatch(text);
  expect(d.message).toContain(file);
  return d;
}

describe('N-MNIST .bin', () => {
  const evs = randomEvents(1000, 34, 34, 1);
  const f = put('a.bin', nmnistBytes(evs));

  it('decodes x, y, p, t in file order', async () => {
    const e = await readNMnistFile(f);
    expect(e.width).toBe(34);
    expect(asList(e)).toEqual(evs);
    expect(e.warnings).toEqual([]);
  });

  it('streams: tiny chunks give the same events', async () => {
    const e = await readNMnistFile(f, { chunkSize: 64 });
    expect(asList(e)).toEqual(evs);
  });

  it('treats y = 240 as a timestamp overflow marker (+2^13 µs)', async () => {
    const g = put('ovf.bin', nmnistBytes([{ x: 1, y: 2, p: 1, t: 100 }, { x: 0, y: 240, p: 0, t: 0 }, { x: 3, y: 4, p: 0, t: 5 }]));
    const e = await readNMnistFile(g);
    expect(asList(e)).toEqual([{ x: 1, y: 2, p: 1, t: 100 }, { x: 3, y: 4, p: 0, t: 5 + 8192 }]);
  });

  it('rejects a truncated record with its offset', async () => {
    const g = put('trunc.bin', nmnistBytes(evs).subarray(0, 5 * 10 + 3));
    await rejects(readNMnistFile(g), g, 50, /truncated event record/);
  });

  it('rejects events outside the 34x34 sensor', async () => {
    const g = put('out.bin', nmnistBytes([...evs.slice(0, 7), { x: 40, y: 3, p: 0, t: 999999 }]));
    await rejects(readNMnistFile(g), g, 35, /outside the 34x34 sensor: x=40/);
  });

  it('reports timestamps going backwards, keeps going, and throws in strict mode', async () => {
    const bad = [{ x: 1, y: 1, p: 0, t: 50 }, { x: 2, y: 2, p: 1, t: 40 }, { x: 3, y: 3, p: 1, t: 60 }];
    const g = put('back.bin', nmnistBytes(bad));
    const e = await readNMnistFile(g);
    expect(asList(e)).toEqual(bad);
    expect(e.warnings).toHaveLength(1);
    expect(e.warnings[0]!.offset).toBe(5);
    expect(e.warnings[0]!.message).toMatch(/backwards at 1 event/);
    await rejects(readNMnistFile(g, { strict: true }), g, 5, /timestamp goes backwards: 40 µs after 50 µs/);
  });

  it('rejects a file of another format', async () => {
    const g = put('wrong.bin', aedat2Bytes(evs.slice(0, 3)));
    await rejects(readNMnistFile(g), g, 0, /looks like an AEDAT file/);
  });
});

describe('CIFAR10-DVS AEDAT 2.0', () => {
  const evs = randomEvents(2000, 128, 128, 2, 1_000_000);
  const f = put('cifar10_cat_0.aedat', aedat2Bytes(evs));

  it('decodes with the SpikingJelly orientation', async () => {
    const e = await readAedat2File(f);
    expect(e.width).toBe(128);
    expect(asList(e)).toEqual(evs);
    expect(asList(await readAedat2File(f, { chunkSize: 100 }))).toEqual(evs);
  });

  it('applies x = 127 - raw y, y = 127 - raw x, p = 1 - raw p to a hand-made address', async () => {
    const head = Buffer.from('#!AER-DAT2.0\r\n', 'latin1');
    // raw y = 5, raw x = 9, raw p = 1: addr = 5 << 8 | 9 << 1 | 1
    const body = Buffer.from([0, 0, 5, (9 << 1) | 1, 0, 0, 0, 42]);
    const g = put('hand.aedat', Buffer.concat([head, body]));
    expect(asList(await readAedat2File(g))).toEqual([{ x: 122, y: 118, p: 0, t: 42 }]);
  });

  it('rejects a truncated record', async () => {
    const full = aedat2Bytes(evs.slice(0, 4));
    const g = put('t.aedat', full.subarray(0, full.length - 3));
    await rejects(readAedat2File(g), g, full.length - 8, /truncated event record: 5 byte/);
  });

  it('rejects wrong magic and the wrong AEDAT version', async () => {
    const g = put('nm.aedat', nmnistBytes(evs.slice(0, 4).map((e) => ({ ...e, x: 1, y: 1 }))));
    await rejects(readAedat2File(g), g, 0, /not an AEDAT file/);
    const h = put('v3.aedat', aedat3Bytes([{ type: 1, events: evs.slice(0, 3) }]));
    await rejects(readAedat2File(h), h, 0, /AEDAT 3\.1 file, but this reader expects AEDAT 2\.0/);
  });
});

describe('DVS128 Gesture AEDAT 3.1', () => {
  const a = randomEvents(300, 128, 128, 3, 10);
  const b = randomEvents(200, 128, 128, 4, a[a.length - 1]!.t);
  const big = [{ x: 127, y: 0, p: 1, t: 2 ** 31 + 7 }];
  const f = put('user01_fluorescent.aedat', aedat3Bytes([{ type: 1, events: a }, { type: 2, payloadBytes: 64 }, { type: 1, events: b, spare: 0 }, { type: 1, events: big }]));

  it('decodes polarity packets, skips other types, applies the timestamp overflow', async () => {
    const e = await readAedat3File(f);
    expect(asList(e)).toEqual([...a, ...b, ...big]);
    expect(asList(await readAedat3File(f, { chunkSize: 50 }))).toEqual([...a, ...b, ...big]);
  });

  it('cuts labelled samples with start <= t < end', async () => {
    const t0 = a[10]!.t;
    const t1 = a[20]!.t;
    const csv = put('user01_fluorescent_labels.csv', labelsCsv([[3, t0, t1], [11, t1, b[5]!.t]]));
    const s0 = await readEventSample('dvs128', f, { sample: 0 });
    expect(s0.label).toMatchObject({ label: 2, start: t0, end: t1 });
    expect(asList(s0.events)).toEqual(a.slice(10, 20));
    const s1 = await readEventSample('dvs128', f, { labels: csv, sample: 1 });
    expect(s1.label!.label).toBe(10);
    expect(asList(s1.events)).toEqual([...a.slice(20), ...b.slice(0, 5)]);
    await expect(readEventSample('dvs128', f, { sample: 2 })).rejects.toThrow(/sample 2 outside 0\.\.1/);
  });

  it('rejects a truncated packet, naming its offset', async () => {
    const whole = aedat3Bytes([{ type: 1, events: a }]);
    const g = put('tr.aedat', whole.subarray(0, whole.length - 4));
    const headerLen = whole.length - 28 - a.length * 8;
    await rejects(readAedat3File(g), g, headerLen, /truncated packet/);
    const h = put('tr2.aedat', whole.subarray(0, headerLen + 10));
    await rejects(readAedat3File(h), h, headerLen, /truncated packet header/);
  });

  it('rejects events outside the 128x128 sensor', async () => {
    const g = put('out3.aedat', aedat3Bytes([{ type: 1, events: [{ x: 3, y: 3, p: 0, t: 1 }, { x: 200, y: 3, p: 0, t: 2 }] }]));
    const headerLen = aedat3Bytes([]).length;
    await rejects(readAedat3File(g), g, headerLen + 28 + 8, /outside the 128x128 sensor: x=200/);
  });

  it('rejects AEDAT 2.0 given to the 3.1 reader', async () => {
    const g = put('v2.aedat', aedat2Bytes(a.slice(0, 3)));
    await rejects(readAedat3File(g), g, 0, /AEDAT 2\.0 file, but this reader expects AEDAT 3\.1/);
  });

  it('warns on timestamps going backwards across packets', async () => {
    const g = put('back3.aedat', aedat3Bytes([{ type: 1, events: [{ x: 1, y: 1, p: 1, t: 100 }] }, { type: 1, events: [{ x: 1, y: 1, p: 1, t: 90 }] }]));
    const e = await readAedat3File(g);
    expect(e.t.length).toBe(2);
    expect(e.warnings[0]!.message).toMatch(/backwards/);
  });
});

describe('labels CSV and trial lists', () => {
  it('parses rows and maps classes 1..11 to 0..10', () => {
    expect(parseGestureLabels('class,startTime_usec,endTime_usec\n1,10,20\n11,20,30\n', 'l.csv')).toEqual([
      { label: 0, start: 10, end: 20, line: 2 },
      { label: 10, start: 20, end: 30, line: 3 },
    ]);
  });

  it('names the file and line of a row that does not parse', () => {
    const bad = (text: string, line: number, re: RegExp) => {
      let err: unknown = null;
      try {
        parseGestureLabels(text, 'x_labels.csv');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DataFormatError);
      expect((err as DataFormatError).line).toBe(line);
      expect((err as DataFormatError).message).toMatch(/^x_labels\.csv \(line \d+\): /);
      expect((err as DataFormatError).message).toMatch(re);
    };
    bad('class,startTime_usec,endTime_usec\n1,10,20\n2,abc,30\n', 3, /not non-negative integers/);
    bad('class,startTime_usec,endTime_usec\n12,10,20\n', 2, /class 12 outside 1\.\.11/);
    bad('class,startTime_usec,endTime_usec\n1,10\n', 2, /expected 3 comma-separated fields/);
    bad('class,startTime_usec,endTime_usec\n1,30,20\n', 2, /not after start/);
    bad('foo,bar\n1,2,3\n', 1, /expected the header/);
    bad('class,startTime_usec,endTime_usec\n', 1, /no label rows/);
  });

  it('parses trial lists and rejects other lines', () => {
    expect(parseTrialList('user01_fluorescent.aedat\r\nuser02_lab.aedat\r\n\r\n', 't.txt')).toEqual(['user01_fluorescent.aedat', 'user02_lab.aedat']);
    expect(() => parseTrialList('user01.aedat\nhello world\n', 't.txt')).toThrow(/t\.txt \(line 2\)/);
  });
});
