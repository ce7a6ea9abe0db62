import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { run as events } from '../../cli/commands/events.js';
import { run as frames } from '../../cli/commands/frames.js';
import { decodeNpy, eventsToFrames, readEventSample } from '../../data/index.js';
import { aedat2Bytes, aedat3Bytes, labelsCsv, nmnistBytes, randomEvents } from './writers.js';

const dir = mkdtempSync(join(tmpdir(), 'plif-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function capture(fn: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  const code = await fn();
  vi.restoreAllMocks();
  return { code, out, err };
}

const nm = join(dir, '00001.bin');
writeFileSync(nm, nmnistBytes(randomEvents(333, 34, 34, 1)));
const c10 = join(dir, 'cifar10_dog_4.aedat');
writeFileSync(c10, aedat2Bytes(randomEvents(1000, 128, 128, 2)));
const g = join(dir, 'user05_led.aedat');
const gev = randomEvents(600, 128, 128, 3);
writeFileSync(g, aedat3Bytes([{ type: 1, events: gev }]));
writeFileSync(join(dir, 'user05_led_labels.csv'), labelsCsv([[2, gev[0]!.t, gev[200]!.t], [4, gev[200]!.t, gev[599]!.t]]));

describe('plif frames', () => {
  it('writes [T, 2, 34, 34] .npy and PNGs for an N-MNIST file', async () => {
    const out = join(dir, 'nm.npy');
    const png = join(dir, 'png');
    const r = await capture(() => frames(['--format', 'nmnist', '--file', nm, '--T', '10', '--out', out, '--png', png]));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/333 events/);
    const { data, shape } = decodeNpy(readFileSync(out));
    expect(shape).toEqual([10, 2, 34, 34]);
    expect(data).toBeInstanceOf(Float32Array);
    expect(Array.from(data).reduce((a, b) => a + b, 0)).toBe(333);
    const pngs = readdirSync(png).sort();
    expect(pngs).toEqual(Array.from({ length: 10 }, (_, j) => `frame_${j}.png`));
    expect(readFileSync(join(png, pngs[0]!)).subarray(1, 4).toString()).toBe('PNG');
  });

  it('handles CIFAR10-DVS and a DVS128 Gesture sample, by number and by time', async () => {
    const o1 = join(dir, 'c10.npy');
    expect((await capture(() => frames(['--format', 'cifar10dvs', '--file', c10, '--T', '20', '--split-by', 'time', '--out', o1]))).code).toBe(0);
    expect(decodeNpy(readFileSync(o1)).shape).toEqual([20, 2, 128, 128]);
    const o2 = join(dir, 'g.npy');
    const r = await capture(() => frames(['--format', 'dvs128', '--file', g, '--sample', '1', '--T', '20', '--out', o2]));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/label 3 \(CSV class 4, line 3\)/);
    const { data } = decodeNpy(readFileSync(o2));
    const s = await readEventSample('dvs128', g, { sample: 1 });
    const want = eventsToFrames(s.events, 20, 128, 128);
    expect(Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(Buffer.from(want.buffer))).toBe(true);
    expect(s.events.t.length).toBe(399);
  });

  it('rejects unknown flags, bad numbers and missing options with exit code 2', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--format', 'nmnist', '--file', nm, '--T', '10', '--out', 'x.npy', '--frames', '3'], /Unknown option '--frames'/],
      [['--format', 'nmnist', '--file', nm, '--T', 'ten', '--out', 'x.npy'], /--T must be an integer >= 1, got 'ten'/],
      [['--format', 'nmnist', '--file', nm, '--T', '-3', '--out', 'x.npy'], /--T/],
      [['--format', 'nmnist', '--file', nm, '--T', '4', '--out', 'x.npy', '--split-by', 'space'], /--split-by must be number or time/],
      [['--format', 'gif', '--file', nm, '--T', '4', '--out', 'x.npy'], /--format must be one of/],
      [['--format', 'dvs128', '--file', g, '--T', '4', '--out', 'x.npy'], /needs --sample K/],
      [['--format', 'nmnist', '--file', nm, '--T', '4', '--out', 'x.npy', '--sample', '2'], /apply to --format dvs128 only/],
      [['--format', 'nmnist', '--file', nm, '--T', '4'], /--out OUT\.npy is required/],
    ];
    for (const [argv, re] of cases) {
      const r = await capture(() => frames(argv));
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(re);
    }
    expect(existsSync('x.npy')).toBe(false);
  });

  it('reports a corrupt file with its offset, exit code 1, and writes nothing', async () => {
    const bad = join(dir, 'bad.bin');
    writeFileSync(bad, nmnistBytes(randomEvents(10, 34, 34, 9)).subarray(0, 48));
    const out = join(dir, 'bad.npy');
    const r = await capture(() => frames(['--format', 'nmnist', '--file', bad, '--T', '4', '--out', out]));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${bad} (byte offset 45): truncated event record`);
    expect(existsSync(out)).toBe(false);
    const r2 = await capture(() => frames(['--format', 'nmnist', '--file', join(dir, 'none.bin'), '--T', '4', '--out', out]));
    expect(r2.code).toBe(1);
    expect(r2.err).toMatch(/ENOENT/);
  });
});

describe('timestamps going backwards', () => {
  it('warns and goes on, or fails with --strict', async () => {
    const f = join(dir, 'back.bin');
    writeFileSync(f, nmnistBytes([{ x: 1, y: 1, p: 1, t: 500 }, { x: 2, y: 2, p: 0, t: 100 }, { x: 3, y: 3, p: 0, t: 600 }]));
    const out = join(dir, 'back.npy');
    const r = await capture(() => frames(['--format', 'nmnist', '--file', f, '--T', '2', '--out', out]));
    expect(r.code).toBe(0);
    expect(r.err).toContain(`warning: ${f} (byte offset 5): timestamps go backwards at 1 event(s)`);
    const s = await capture(() => frames(['--format', 'nmnist', '--file', f, '--T', '2', '--out', join(dir, 'strict.npy'), '--strict']));
    expect(s.code).toBe(1);
    expect(s.err).toContain(`${f} (byte offset 5): timestamp goes backwards: 100 µs after 500 µs`);
    expect(existsSync(join(dir, 'strict.npy'))).toBe(false);
  });
});

describe('plif events', () => {
  it('prints a summary and the first events', async () => {
    const r = await capture(() => events(['--format', 'cifar10dvs', '--file', c10, '--head', '3']));
    expect(r.code).toBe(0);
    const s = await readEventSample('cifar10dvs', c10);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toMatch(/1000 events/);
    expect(lines[3]!.trim().split(/\s+/).map(Number)).toEqual([0, s.events.x[0], s.events.y[0], s.events.p[0], s.events.t[0]]);
    expect(lines[lines.length - 1]).toBe('... 997 more');
  });

  it('prints a whole DVS128 recording or one sample, and a labels CSV error with its line', async () => {
    expect((await capture(() => events(['--format', 'dvs128', '--file', g]))).out).toMatch(/600 events/);
    expect((await capture(() => events(['--format', 'dvs128', '--file', g, '--sample', '0', '--head', '0']))).out).toMatch(/200 events/);
    const csv = join(dir, 'bad_labels.csv');
    writeFileSync(csv, 'class,startTime_usec,endTime_usec\n1,2,3\n1;2;3\n');
    const r = await capture(() => events(['--format', 'dvs128', '--file', g, '--labels', csv, '--sample', '0']));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${csv} (line 3): expected 3 comma-separated fields`);
    const r2 = await capture(() => events(['--format', 'nmnist', '--file', nm, '--head', '2.5']));
    expect(r2.code).toBe(2);
  });
});
