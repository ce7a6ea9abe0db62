// Output paths that can never be written are refused before any work (issue 25, item 9), by the built CLI as
// a child process: plif frames checks the size of its PNGs before it writes the .npy (--png-scale 100000
// wrote the .npy, then failed), and every command that takes an output path refuses one under /proc or
// /sys at once (--out /proc/x/run spun at 100% CPU in Node's recursive mkdir until a second Ctrl-C), while
// an existing file there (/proc/self/fd/1) is still written into.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nmnistBytes, randomEvents } from '../data/writers.js';
import { writeTinyFashionMnist } from '../training/fixtures.js';
import { ensureBuilt, plif, type Exit } from './helpers.js';

let dir: string;
let data: string;
let run: string;
let events: string;

/** Runs plif to its end; a run still going after 60 s (spinning) is killed and reported as such. */
async function ends(args: string[]): Promise<Exit & { killed: boolean }> {
  const child = plif(args);
  let killed = false;
  const timer = setTimeout(() => ((killed = true), child.proc.kill('SIGKILL')), 60_000);
  const r = await child.exited;
  clearTimeout(timer);
  return { ...r, killed };
}

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'plif-outputs-'));
  data = writeTinyFashionMnist(32, 10);
  run = join(dir, 'run');
  const r = await ends(['train', '--preset', 'fmnist-small', '--data-dir', data, '--limit-train', '16', '--limit-test', '10', '--epochs', '1', '--out', run]);
  if (r.code !== 0) throw new Error(`the run failed:\n${r.out}${r.err}`);
  events = join(dir, 'sample.bin');
  writeFileSync(events, nmnistBytes(randomEvents(300, 34, 34, 1)));
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('plif frames --png-scale: the PNG size is checked before anything is written', () => {
  it('--png-scale 100000 on 34x34 frames: exit 2 naming the flag and the size; no .npy, no PNG directory', async () => {
    const out = join(dir, 'f.npy');
    const png = join(dir, 'png');
    const r = await ends(['frames', '--format', 'nmnist', '--file', events, '--T', '4', '--out', out, '--png', png, '--png-scale', '100000']);
    expect(r.killed).toBe(false);
    expect(r.code).toBe(2);
    expect(r.err).toContain('plif frames: --png-scale 100000: frames of 34x34 drawn at 100000 pixels per sensor pixel are 3400000x3400000 PNGs, more than 16384 pixels a side; use a smaller --png-scale');
    expect(existsSync(out)).toBe(false);
    expect(existsSync(png)).toBe(false);
  }, 60_000);

  it('a sane scale writes the .npy and one PNG per frame', async () => {
    const out = join(dir, 'g.npy');
    const png = join(dir, 'png-ok');
    const r = await ends(['frames', '--format', 'nmnist', '--file', events, '--T', '4', '--out', out, '--png', png, '--png-scale', '3']);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(out)).toBe(true);
    expect(readdirSync(png).sort()).toEqual(['frame_0.png', 'frame_1.png', 'frame_2.png', 'frame_3.png']);
  }, 60_000);
});

describe('an output path under /proc or /sys is refused at once by every command that writes one', () => {
  const cases: [string, () => string[], string][] = [
    ['train --out', () => ['train', '--preset', 'fmnist-small', '--data-dir', data, '--limit-train', '16', '--limit-test', '10', '--epochs', '1', '--out', '/proc/x/run'], 'cannot create the run directory /proc/x/run: it lies under /proc'],
    ['eval --predictions', () => ['eval', '--checkpoint', join(run, 'last.safetensors'), '--data-dir', data, '--predictions', '/proc/x/p.jsonl'], 'cannot write --predictions /proc/x/p.jsonl: it lies under /proc'],
    ['eval --confusion', () => ['eval', '--checkpoint', join(run, 'last.safetensors'), '--data-dir', data, '--confusion', '/sys/x/c.json'], 'cannot write --confusion /sys/x/c.json: it lies under /sys'],
    ['export --out', () => ['export', '--checkpoint', join(run, 'last.safetensors'), '--out', '/proc/x/run.nir'], 'cannot write --out /proc/x/run.nir: it lies under /proc'],
    ['plot --out', () => ['plot', run, '--out', '/proc/x/plots'], 'cannot write --out /proc/x/plots: it lies under /proc'],
    ['frames --out', () => ['frames', '--format', 'nmnist', '--file', events, '--T', '4', '--out', '/proc/x/f.npy'], 'cannot write --out /proc/x/f.npy: it lies under /proc'],
    ['frames --png', () => ['frames', '--format', 'nmnist', '--file', events, '--T', '4', '--out', join(dir, 'h.npy'), '--png', '/sys/x/png'], 'cannot write --png /sys/x/png: it lies under /sys'],
  ];
  it.each(cases)('%s', async (_what, args, message) => {
    const r = await ends(args());
    expect(r.killed, 'still running after 60 s').toBe(false);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(message);
    expect(r.err).toContain('a file system of the kernel where no file or directory can be made');
    expect(existsSync(join(dir, 'h.npy'))).toBe(false);
  }, 90_000);

  it('import --out, and a link into /proc (the nearest existing directory is followed)', async () => {
    const nir = join(dir, 'net.nir');
    expect((await ends(['export', '--checkpoint', join(run, 'last.safetensors'), '--out', nir])).code).toBe(0);
    const r = await ends(['import', '--format', 'nir', nir, '--out', '/proc/x/a.safetensors']);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot write --out /proc/x/a.safetensors: it lies under /proc');
    // /dev/fd is a link to /proc/self/fd: a new file under it cannot be made either
    const viaLink = await ends(['eval', '--checkpoint', join(run, 'last.safetensors'), '--data-dir', data, '--confusion', '/dev/fd/new/c.json']);
    expect(viaLink.killed).toBe(false);
    expect(viaLink.code).toBe(1);
    expect(viaLink.err).toContain('cannot write --confusion /dev/fd/new/c.json: it lies under /proc');
  }, 90_000);

  it('an existing file there is written into: --predictions /proc/self/fd/1 prints the lines', async () => {
    const r = await ends(['eval', '--checkpoint', join(run, 'last.safetensors'), '--data-dir', data, '--limit-test', '2', '--predictions', '/proc/self/fd/1']);
    expect(r.code, r.err).toBe(0);
    expect(r.out.split('\n').filter((l) => l.startsWith('{"index":'))).toHaveLength(2);
  }, 60_000);
});
