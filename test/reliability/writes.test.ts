// Writes as the user points them (issue 25, items 2 and 3): a write that fails never reports success nor
// puts a failed file in place; a write through a symbolic link, into a device, a FIFO or this process's
// stdout goes there, leaving the link, the device and the FIFO what they were.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, createReadStream, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTinyFashionMnist } from '../training/fixtures.js';
import { ensureBuilt, PLIF, plifRun, smallDisk } from './helpers.js';

let data: string;
/** A checkpoint of a finished one-epoch run. */
let checkpoint: string;
beforeAll(async () => {
  ensureBuilt();
  data = writeTinyFashionMnist(64, 20);
  const out = join(tmp(), 'run');
  const r = await plifRun(['train', '--preset', 'fmnist-small', '--data-dir', data, '--limit-train', '32', '--limit-test', '20', '--out', out]);
  if (r.code !== 0) throw new Error(`the checkpoint's run failed:\n${r.out}${r.err}`);
  checkpoint = join(out, 'best.safetensors');
}, 120_000);

const tmp = () => mkdtempSync(join(tmpdir(), 'plif-writes-'));
const evalArgs = (...more: string[]) => ['eval', '--checkpoint', checkpoint, '--data-dir', data, '--limit-test', '20', ...more];
const temporaries = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.tmp') || n.includes('.tmp-') || n.endsWith('.h5'));
const predictionLines = (text: string) => text.split('\n').filter((l) => l.startsWith('{"index"'));

/**
 * A /dev/full to write to: as root a node of its own (mknod c 1 7) in a temporary directory, so that a
 * regression replaces that node and not the machine's /dev/full; else /dev/full itself (which a user
 * cannot replace).
 */
function fullDevice(): string {
  if (process.getuid?.() !== 0) return '/dev/full';
  const node = join(tmp(), 'full');
  const made = spawnSync('mknod', ['-m', '666', node, 'c', '1', '7']);
  return made.status === 0 ? node : '/dev/full';
}

/** Puts /dev/stdout back as the link it is, should a regression have replaced it (as root it could). */
function restoreDevStdout(): void {
  if (lstatSync('/dev/stdout', { throwIfNoEntry: false })?.isSymbolicLink()) return;
  rmSync('/dev/stdout', { force: true });
  symlinkSync('/proc/self/fd/1', '/dev/stdout');
}

/** Fills a file system up: a file as large as it takes, until ENOSPC. */
function fill(dir: string): void {
  const fd = openSync(join(dir, 'filler'), 'w');
  try {
    for (;;) writeFileSync(fd, Buffer.alloc(64 * 1024));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    closeSync(fd);
  }
}

/** A small tmpfs, or a skip saying why (mounting one needs root; CI runs as root). */
function diskOrSkip(kb: number, ctx: { skip(note?: string): void }) {
  const disk = smallDisk(kb);
  if (!disk) ctx.skip(`a ${kb} KiB tmpfs cannot be mounted here (needs root with mount rights)`);
  return disk!;
}

describe('writes that fail say so and leave the old file', () => {
  it('plif export --format nir onto a full disk: exit 1 naming the file, the earlier .nir untouched, no temporary file', async (ctx) => {
    const disk = diskOrSkip(2048, ctx);
    try {
      const nir = join(disk.dir, 'net.nir');
      const first = await plifRun(['export', '--checkpoint', checkpoint, '--format', 'nir', '--out', nir]);
      expect(first.code, first.err).toBe(0);
      const before = readFileSync(nir);
      fill(disk.dir);
      const r = await plifRun(['export', '--checkpoint', checkpoint, '--format', 'nir', '--out', nir, '--dt', '0.5']);
      expect(r.code, r.out + r.err).toBe(1);
      expect(r.err).toMatch(new RegExp(`plif: cannot write ${nir.replace(/[.]/g, '\\.')}: no space left on the device \\(disk full\\) \\(ENOSPC\\)`));
      expect(r.err).not.toMatch(/HDF5-DIAG|ENOSPC.*\n.*ENOSPC/);
      expect(r.out).toBe(''); // no success line
      expect(readFileSync(nir)).toEqual(before);
      expect(temporaries(disk.dir)).toEqual([]);
    } finally {
      disk.done();
    }
  });

  it('plif export when the HDF5 library\'s own writes fail (its scratch directory full): exit 1, nothing written, no C diagnostics', async (ctx) => {
    const disk = diskOrSkip(256, ctx);
    try {
      fill(disk.dir);
      const nir = join(tmp(), 'net.nir');
      const r = await plifRun(['export', '--checkpoint', checkpoint, '--format', 'nir', '--out', nir], { env: { TMPDIR: disk.dir } });
      expect(r.code, r.out + r.err).toBe(1);
      expect(r.err).toMatch(new RegExp(`plif: cannot write the NIR file ${nir.replace(/[.]/g, '\\.')}: the HDF5 library could not write its scratch file .*\\(no space left on the device \\(disk full\\)\\)`));
      expect(r.err).not.toMatch(/HDF5-DIAG/);
      expect(r.err.split('\n').length).toBeLessThan(4);
      expect(r.out).toBe('');
      expect(existsSync(nir)).toBe(false);
      expect(temporaries(disk.dir)).toEqual([]);
    } finally {
      disk.done();
    }
  });

  it('plif eval --predictions and --confusion onto a full disk: exit 1 naming the file, the earlier file untouched', async (ctx) => {
    const disk = diskOrSkip(256, ctx);
    try {
      const predictions = join(disk.dir, 'predictions.jsonl');
      writeFileSync(predictions, 'earlier\n');
      fill(disk.dir);
      for (const flag of ['--predictions', '--confusion']) {
        const r = await plifRun(evalArgs(flag, predictions));
        expect(r.code, r.out + r.err).toBe(1);
        expect(r.err).toContain(`plif: cannot write ${predictions}: no space left on the device (disk full) (ENOSPC)`);
        expect(readFileSync(predictions, 'utf8')).toBe('earlier\n');
        expect(temporaries(disk.dir)).toEqual([]);
      }
    } finally {
      disk.done();
    }
  });
});

describe('writes go through links and into devices, FIFOs and pipes', () => {
  it('--predictions and --confusion through a symbolic link write its target; the link stays a link, the temporary file goes beside the target', async () => {
    const base = tmp();
    mkdirSync(join(base, 'links'));
    mkdirSync(join(base, 'files'));
    writeFileSync(join(base, 'files', 'predictions.jsonl'), 'earlier\n');
    chmodSync(join(base, 'files', 'predictions.jsonl'), 0o640);
    symlinkSync('../files/predictions.jsonl', join(base, 'links', 'predictions.jsonl'));
    symlinkSync(join(base, 'files', 'confusion.json'), join(base, 'links', 'confusion.json')); // dangling: the target is created
    const r = await plifRun(evalArgs('--predictions', join(base, 'links', 'predictions.jsonl'), '--confusion', join(base, 'links', 'confusion.json')));
    expect(r.code, r.out + r.err).toBe(0);
    for (const name of ['predictions.jsonl', 'confusion.json']) expect(lstatSync(join(base, 'links', name)).isSymbolicLink()).toBe(true);
    expect(predictionLines(readFileSync(join(base, 'files', 'predictions.jsonl'), 'utf8'))).toHaveLength(20);
    expect(statSync(join(base, 'files', 'predictions.jsonl')).mode & 0o777).toBe(0o640); // the replaced file keeps its mode
    expect(JSON.parse(readFileSync(join(base, 'files', 'confusion.json'), 'utf8'))).toHaveProperty('matrix');
    expect(readdirSync(join(base, 'links')).sort()).toEqual(['confusion.json', 'predictions.jsonl']);
    expect(temporaries(join(base, 'files'))).toEqual([]);
  });

  it('--predictions /dev/stdout on a pipe: the predictions come out on stdout before the report; /dev/stdout stays a link', async () => {
    try {
      const r = await plifRun(evalArgs('--predictions', '/dev/stdout'));
      expect(r.code, r.out + r.err).toBe(0);
      expect(predictionLines(r.out)).toHaveLength(20);
      expect(r.out.indexOf('{"index":19')).toBeLessThan(r.out.indexOf('accuracy'));
      expect(lstatSync('/dev/stdout').isSymbolicLink()).toBe(true);
      expect(readdirSync('/dev').filter((n) => n.endsWith('.tmp'))).toEqual([]);
    } finally {
      restoreDevStdout();
    }
  });

  it('--predictions /dev/stdout with stdout on a file (`> out.txt`, `>> out.txt`): written at its offset, the report after it', async () => {
    const file = join(tmp(), 'out.txt');
    writeFileSync(file, 'kept line\n');
    const fd = openSync(file, 'a');
    const code = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [PLIF, ...evalArgs('--predictions', '/dev/stdout')], { stdio: ['ignore', fd, 'ignore'], env: { ...process.env, PLIF_THREADS: '1' } });
      child.on('close', resolve);
    });
    closeSync(fd);
    expect(code).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('kept line\n{"index":0')).toBe(true);
    expect(predictionLines(text)).toHaveLength(20);
    expect(text).toMatch(/\{"index":19[^\n]*\n[^\n]* accuracy \d/);
  });

  it('--predictions /dev/full: exit 1 naming it and the full disk; the device stays a device', async () => {
    const full = fullDevice();
    const r = await plifRun(evalArgs('--predictions', full));
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.err).toContain(`plif: cannot write ${full}: no space left on the device (disk full) (ENOSPC)`);
    expect(lstatSync(full).isCharacterDevice()).toBe(true);
    expect(readdirSync(dirname(full)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('--predictions into a FIFO: its reader gets the predictions; the FIFO stays a FIFO', async () => {
    const fifo = join(tmp(), 'predictions.fifo');
    const made = await new Promise<number | null>((resolve) => spawn('mkfifo', [fifo]).on('close', resolve).on('error', () => resolve(null)));
    expect(made, 'mkfifo').toBe(0);
    const received = new Promise<string>((resolve, reject) => {
      let text = '';
      createReadStream(fifo, 'utf8').on('data', (d) => (text += d)).on('end', () => resolve(text)).on('error', reject);
    });
    const r = await plifRun(evalArgs('--predictions', fifo));
    expect(r.code, r.out + r.err).toBe(0);
    expect(lstatSync(fifo).isFIFO()).toBe(true); // (a FIFO replaced by a file would leave its reader waiting)
    expect(predictionLines(await received)).toHaveLength(20);
  });

  it('plif export --out through a link to another directory writes the target; the link stays', async () => {
    const base = tmp();
    mkdirSync(join(base, 'elsewhere'));
    symlinkSync(join(base, 'elsewhere', 'net.nir'), join(base, 'net.nir'));
    const r = await plifRun(['export', '--checkpoint', checkpoint, '--format', 'nir', '--out', join(base, 'net.nir')]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(lstatSync(join(base, 'net.nir')).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(base, 'elsewhere', 'net.nir')).subarray(0, 4)).toEqual(Buffer.from([0x89, 0x48, 0x44, 0x46]));
    copyFileSync(join(base, 'elsewhere', 'net.nir'), join(base, 'copy.nir'));
    expect((await plifRun(['import', '--format', 'nir', join(base, 'copy.nir'), '--out', join(base, 'back.safetensors')])).code).toBe(0);
  });
});
