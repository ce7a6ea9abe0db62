// rundir.ts in process: the paths of a run directory, metrics.jsonl, the lock of a run and the removal of
// stale temporary files. Faults that only a race gives (a lock replaced between two reads, a file removed
// under a reader) are injected through a pass-through mock of node:fs/promises; FIFOs and devices are made
// with mkfifo and mknod (fixtures only: the code under test runs in this process).
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileIoError } from '../../data/file-io.js';
import { exactly } from '../fails.js';
import {
  appendMetrics,
  LOCK_FILE,
  lockRun,
  makeRunDir,
  processAlive,
  readMetrics,
  removeStaleTempFiles,
  RunLockedError,
  runPaths,
  truncateMetrics,
  writeJsonAtomic,
  type RunLock,
} from '../../training/rundir.js';

type Fs = typeof import('node:fs/promises');
type Hooked = 'open' | 'rename' | 'unlink' | 'mkdir';
/** Faults set by a test (each gets the real module first); none set: the real call. */
const faults = vi.hoisted(() => ({ real: null as unknown, hooks: {} as Record<string, ((real: unknown, ...args: unknown[]) => unknown) | undefined> }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<Fs>();
  faults.real = real;
  const hook = (name: Hooked) => (...args: unknown[]) => {
    const f = faults.hooks[name];
    return f ? f(real, ...args) : (real[name] as (...a: unknown[]) => unknown)(...args);
  };
  const mocked = { ...real, open: hook('open'), rename: hook('rename'), unlink: hook('unlink'), mkdir: hook('mkdir') };
  return { ...mocked, default: mocked };
});
function fault<K extends Hooked>(name: K, f: (real: Fs, ...args: Parameters<Fs[K]>) => ReturnType<Fs[K]>): void {
  faults.hooks[name] = f as (real: unknown, ...args: unknown[]) => unknown;
}
const errnoError = (code: string, message = code) => Object.assign(new Error(message), { code });

/** A PID above the largest pid_max Linux allows (2^22): never running. */
const DEAD_PID = 2 ** 22 + 1;
/** A PID that runs and is not this process: its parent. */
const LIVE_PID = process.ppid;

let tmp: string;
let locks: RunLock[];
let timers: NodeJS.Timeout[];
beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), 'plif-rundir-'));
  locks = [];
  timers = [];
});
afterEach(() => {
  for (const t of timers) clearTimeout(t);
  for (const l of locks) l.release();
  faults.hooks = {};
  vi.restoreAllMocks();
  rmSync(tmp, { recursive: true, force: true });
});
const later = (ms: number, f: () => void) => timers.push(setTimeout(f, ms));
async function take(dir: string): Promise<RunLock> {
  const l = await lockRun(dir);
  locks.push(l);
  return l;
}

describe('runPaths and writeJsonAtomic', () => {
  it('names every file of a run directory', () => {
    expect(LOCK_FILE).toBe('train.lock');
    expect(runPaths('/runs/a')).toEqual({
      dir: '/runs/a',
      config: '/runs/a/config.json',
      metrics: '/runs/a/metrics.jsonl',
      trainCurve: '/runs/a/train-curve.jsonl',
      last: '/runs/a/last.safetensors',
      best: '/runs/a/best.safetensors',
      firingMaps: '/runs/a/firing-maps.json',
      confusion: '/runs/a/confusion.json',
      lock: '/runs/a/train.lock',
    });
  });

  it('writes JSON indented by two spaces with a final newline, and no temporary file is left', async () => {
    const p = join(tmp, 'config.json');
    await writeJsonAtomic(p, { a: 1, b: [1, 'x'] });
    expect(readFileSync(p, 'utf8')).toBe('{\n  "a": 1,\n  "b": [\n    1,\n    "x"\n  ]\n}\n');
    expect(readdirSync(tmp)).toEqual(['config.json']);
  });
});

describe('metrics.jsonl', () => {
  it('a missing file is an empty run', async () => {
    expect(await readMetrics(join(tmp, 'metrics.jsonl'))).toEqual([]);
  });

  it('skips empty and blank lines', async () => {
    const p = join(tmp, 'metrics.jsonl');
    writeFileSync(p, '{"epoch":0}\n\n   \n\t\n{"epoch":1,"acc":0.5}\n');
    expect(await readMetrics(p)).toEqual([{ epoch: 0 }, { epoch: 1, acc: 0.5 }]);
  });

  it('a bad line is an error naming the file and the line, counted with the blank lines', async () => {
    const p = join(tmp, 'metrics.jsonl');
    writeFileSync(p, '{"epoch":0}\n\n{oops\n');
    let parserMessage = '';
    try {
      JSON.parse('{oops');
    } catch (e) {
      parserMessage = (e as Error).message;
    }
    await expect(readMetrics(p)).rejects.toThrow(new Error(`${p}:3: not a JSON line (${parserMessage})`));
  });

  it('a line nested too deeply is refused by the bounded parser, with its line number', async () => {
    const p = join(tmp, 'metrics.jsonl');
    writeFileSync(p, `${'['.repeat(65)}${']'.repeat(65)}\n`);
    await expect(readMetrics(p)).rejects.toThrow(new Error(`${p}:1: not a JSON line (JSON nested more than 64 levels deep)`));
  });

  it('a file that cannot be read is a FileIoError naming it', async () => {
    const err = await readMetrics(tmp).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileIoError);
    expect((err as Error).message).toBe(`cannot read ${tmp}: it is a directory (EISDIR)`);
  });

  it('truncateMetrics rewrites the file with exactly the lines given, one JSON value a line', async () => {
    const p = join(tmp, 'metrics.jsonl');
    writeFileSync(p, '{"epoch":0}\n{"epoch":1}\n{"epoch":2}\n');
    await truncateMetrics(p, [{ epoch: 0 }, { epoch: 1, note: 'a b' }]);
    expect(readFileSync(p, 'utf8')).toBe('{"epoch":0}\n{"epoch":1,"note":"a b"}\n');
    await truncateMetrics(p, []);
    expect(readFileSync(p, 'utf8')).toBe('');
    expect(readdirSync(tmp)).toEqual(['metrics.jsonl']);
  });

  it('appendMetrics starts a missing file and adds a line after the others (blank lines dropped)', async () => {
    const p = join(tmp, 'metrics.jsonl');
    await appendMetrics(p, { epoch: 0 });
    expect(readFileSync(p, 'utf8')).toBe('{"epoch":0}\n');
    writeFileSync(p, '{"epoch":0}\n\n{"epoch":1}\n');
    await appendMetrics(p, { epoch: 2 });
    expect(readFileSync(p, 'utf8')).toBe('{"epoch":0}\n{"epoch":1}\n{"epoch":2}\n');
  });
});

describe('processAlive', () => {
  it('this process runs, a PID above pid_max does not', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(LIVE_PID)).toBe(true);
    expect(processAlive(DEAD_PID)).toBe(false);
  });

  it('a value that is no PID is not alive, and the kernel is not asked', () => {
    const kill = vi.spyOn(process, 'kill').mockReturnValue(true);
    for (const pid of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) expect(processAlive(pid)).toBe(false);
    expect(kill).not.toHaveBeenCalled();
    expect(processAlive(7)).toBe(true);
    expect(kill).toHaveBeenCalledWith(7, 0);
  });

  it('EPERM (a process of another user) is alive, any other error is not', () => {
    const kill = vi.spyOn(process, 'kill').mockImplementation(() => {
      throw errnoError('EPERM');
    });
    expect(processAlive(1234)).toBe(true);
    kill.mockImplementation(() => {
      throw errnoError('ESRCH');
    });
    expect(processAlive(1234)).toBe(false);
  });
});

describe('makeRunDir', () => {
  it('makes the directory and its missing parents, and accepts one that exists', async () => {
    const dir = join(tmp, 'a', 'b', 'run');
    await makeRunDir(dir);
    expect(lstatSync(dir).isDirectory()).toBe(true);
    await makeRunDir(dir);
    expect(lstatSync(dir).isDirectory()).toBe(true);
  });

  it('names the run directory and the file in its way', async () => {
    const file = join(tmp, 'file');
    writeFileSync(file, '');
    await expect(makeRunDir(join(file, 'run'))).rejects.toThrow(exactly(`cannot create the run directory ${join(file, 'run')}: ${file} is not a directory`));
    await expect(makeRunDir(file)).rejects.toThrow(exactly(`cannot create the run directory ${file}: ${file} is not a directory`));
  });

  it('a file that replaces the directory just made is refused', async () => {
    const dir = join(tmp, 'run');
    fault('mkdir', async (real, p, ...rest) => {
      const r = await real.mkdir(p, ...rest);
      if (p === resolve(dir)) {
        rmdirSync(dir);
        writeFileSync(dir, '');
      }
      return r;
    });
    await expect(makeRunDir(dir)).rejects.toThrow(new Error(`the run directory ${dir} is a file, not a directory`));
  });
});

describe('RunLockedError', () => {
  it('names the directory, the PID and the lock file, and what to do', () => {
    const e = new RunLockedError('/runs/a', 42);
    expect(e).toBeInstanceOf(Error);
    expect(e.name).toBe('RunLockedError');
    expect(e.dir).toBe('/runs/a');
    expect(e.pid).toBe(42);
    expect(e.message).toBe(
      '/runs/a is in use by another plif train (PID 42, lock file /runs/a/train.lock); wait for it to finish or stop it (if PID 42 is not training there, delete the lock file)',
    );
  });
});

describe('lockRun', () => {
  const lockOf = () => join(tmp, LOCK_FILE);

  it('creates the lock holding this PID; release removes it and its exit handler, once', async () => {
    const exitHandlers = process.listenerCount('exit');
    const l = await take(tmp);
    expect(l.path).toBe(lockOf());
    expect(readFileSync(lockOf(), 'utf8')).toBe(`${process.pid}\n`);
    expect(process.listenerCount('exit')).toBe(exitHandlers + 1);
    l.release();
    expect(existsSync(lockOf())).toBe(false);
    expect(process.listenerCount('exit')).toBe(exitHandlers);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('closes the file handle it wrote the PID through', async () => {
    const handles: { fd: number }[] = [];
    fault('open', async (real, ...args) => {
      const fh = await real.open(...args);
      handles.push(fh);
      return fh;
    });
    await take(tmp);
    expect(handles).toHaveLength(1);
    expect(handles[0]!.fd).toBe(-1);
  });

  it('a second lock of the same directory in this process is refused until released', async () => {
    const first = await take(tmp);
    await expect(lockRun(join(tmp, '.'))).rejects.toThrow(new RunLockedError(join(tmp, '.'), process.pid));
    first.release();
    const second = await take(tmp);
    expect(readFileSync(second.path, 'utf8')).toBe(`${process.pid}\n`);
    // a release called again after the lock was taken anew leaves the new lock alone
    first.release();
    expect(readFileSync(second.path, 'utf8')).toBe(`${process.pid}\n`);
    await expect(lockRun(tmp)).rejects.toThrow(RunLockedError);
  });

  it('release leaves a lock that another process holds by now, and one replaced by a symbolic link', async () => {
    const l = await take(tmp);
    writeFileSync(lockOf(), `${LIVE_PID}\n`);
    l.release();
    expect(readFileSync(lockOf(), 'utf8')).toBe(`${LIVE_PID}\n`);
    unlinkSync(lockOf());

    const m = await take(tmp);
    unlinkSync(lockOf());
    writeFileSync(join(tmp, 'mine'), `${process.pid}\n`);
    symlinkSync(join(tmp, 'mine'), lockOf());
    m.release();
    expect(lstatSync(lockOf()).isSymbolicLink()).toBe(true);
  });

  it('a live holder is refused by PID (with or without the newline), its lock untouched', async () => {
    for (const text of [`${LIVE_PID}\n`, `${LIVE_PID}`, `${LIVE_PID}  \n`]) {
      writeFileSync(lockOf(), text);
      await expect(lockRun(tmp)).rejects.toThrow(new RunLockedError(tmp, LIVE_PID));
      expect(readFileSync(lockOf(), 'utf8')).toBe(text);
    }
    expect(readdirSync(tmp)).toEqual([LOCK_FILE]);
  });

  it('a live holder is refused at once, not after waiting (its lock removed meanwhile)', async () => {
    writeFileSync(lockOf(), `${LIVE_PID}\n`);
    later(250, () => rmSync(lockOf(), { force: true }));
    await expect(lockRun(tmp)).rejects.toThrow(new RunLockedError(tmp, LIVE_PID));
  });

  it('a lock of a dead PID, or of this PID (a previous life), is stale: taken over, nothing left aside', async () => {
    for (const text of [`${DEAD_PID}\n`, `${process.pid}\n`]) {
      writeFileSync(lockOf(), text);
      const l = await lockRun(tmp);
      expect(readFileSync(lockOf(), 'utf8')).toBe(`${process.pid}\n`);
      expect(readdirSync(tmp)).toEqual([LOCK_FILE]);
      l.release();
    }
  });

  it('a lock created but not written yet is waited for: its owner writes a live PID', async () => {
    writeFileSync(lockOf(), '');
    later(100, () => writeFileSync(lockOf(), `${LIVE_PID}\n`));
    await expect(lockRun(tmp)).rejects.toThrow(new RunLockedError(tmp, LIVE_PID));
  });

  it('text that is not a PID is waited for as well', async () => {
    for (const text of ['12x\n', 'x12\n', '1 2\n']) {
      writeFileSync(lockOf(), text);
      later(100, () => writeFileSync(lockOf(), `${LIVE_PID}\n`));
      await expect(lockRun(tmp)).rejects.toThrow(new RunLockedError(tmp, LIVE_PID));
    }
  });

  it('a lock that never becomes a PID is stale after the wait', async () => {
    writeFileSync(lockOf(), '');
    const l = await take(tmp);
    expect(readFileSync(l.path, 'utf8')).toBe(`${process.pid}\n`);
    expect(readdirSync(tmp)).toEqual([LOCK_FILE]);
  });

  it('a lock file over 64 bytes is not a PID, even if it reads as one; 64 bytes still is', async () => {
    writeFileSync(lockOf(), String(LIVE_PID).padEnd(64, ' '));
    await expect(lockRun(tmp)).rejects.toThrow(new RunLockedError(tmp, LIVE_PID));
    writeFileSync(lockOf(), String(LIVE_PID).padEnd(65, ' '));
    await take(tmp);
    expect(readFileSync(lockOf(), 'utf8')).toBe(`${process.pid}\n`);
  });

  it('a lock path that is not a regular file is refused by what it is', async () => {
    const refusal = (kind: string) =>
      exactly(`cannot take the lock ${lockOf()}: it is ${kind}, not the lock file plif train writes (a PID); remove it if no run is using ${tmp}`);
    mkdirSync(lockOf());
    const err = await lockRun(tmp).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileIoError);
    expect((err as Error).message).toMatch(refusal('a directory'));
    rmdirSync(lockOf());

    symlinkSync(join(tmp, 'nowhere'), lockOf());
    await expect(lockRun(tmp)).rejects.toThrow(refusal('a symbolic link'));
    unlinkSync(lockOf());

    execFileSync('mkfifo', [lockOf()]);
    await expect(lockRun(tmp)).rejects.toThrow(refusal('a named pipe (FIFO)'));
    unlinkSync(lockOf());

    const server: Server = createServer();
    await new Promise<void>((r) => server.listen(lockOf(), r));
    try {
      await expect(lockRun(tmp)).rejects.toThrow(refusal('a socket'));
    } finally {
      await new Promise((r) => server.close(r));
    }
    rmSync(lockOf(), { force: true });
    // nothing was moved aside or left behind
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a device node as the lock is refused (needs mknod: root)', async (ctx) => {
    for (const type of ['c', 'b']) {
      try {
        execFileSync('mknod', [lockOf(), type, type === 'c' ? '1' : '7', '3'], { stdio: 'ignore' });
      } catch {
        ctx.skip();
      }
      await expect(lockRun(tmp)).rejects.toThrow(
        exactly(`cannot take the lock ${lockOf()}: it is a device, not the lock file plif train writes (a PID); remove it if no run is using ${tmp}`),
      );
      unlinkSync(lockOf());
    }
  });

  it('a directory that cannot hold the lock file: FileIoError naming the lock file', async () => {
    const file = join(tmp, 'file');
    writeFileSync(file, '');
    const err = await lockRun(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FileIoError);
    expect((err as Error).message).toBe(`cannot create the lock file ${join(file, LOCK_FILE)}: a part of the path is not a directory (ENOTDIR)`);
  });

  it('a stale lock replaced by a live one while it was moved aside is put back and refused', async () => {
    writeFileSync(lockOf(), `${DEAD_PID}\n`);
    const asides: string[] = [];
    fault('rename', async (real, from, to) => {
      if (from === lockOf()) {
        asides.push(String(to));
        writeFileSync(lockOf(), `${LIVE_PID}\n`); // another plif train took the lock first
      }
      return real.rename(from, to);
    });
    await expect(lockRun(tmp)).rejects.toThrow(new RunLockedError(tmp, LIVE_PID));
    expect(asides).toHaveLength(1);
    expect(asides[0]!.startsWith(`${tmp}/`)).toBe(true);
    expect(asides[0]!.slice(tmp.length + 1)).toMatch(new RegExp(`^\\.train\\.lock\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`));
    expect(readFileSync(lockOf(), 'utf8')).toBe(`${LIVE_PID}\n`);
    expect(readdirSync(tmp)).toEqual([LOCK_FILE]);
  });

  it('a stale lock replaced while moved aside by another stale one (a dead PID, this PID) is taken over', async () => {
    for (const replacement of [DEAD_PID + 1, process.pid]) {
      writeFileSync(lockOf(), `${DEAD_PID}\n`);
      let replaced = false;
      fault('rename', async (real, from, to) => {
        if (from === lockOf() && !replaced) {
          replaced = true;
          writeFileSync(lockOf(), `${replacement}\n`);
        }
        return real.rename(from, to);
      });
      const l = await lockRun(tmp);
      expect(replaced).toBe(true);
      expect(readFileSync(lockOf(), 'utf8')).toBe(`${process.pid}\n`);
      expect(readdirSync(tmp)).toEqual([LOCK_FILE]);
      l.release();
    }
  });

  it('a stale lock removed before it could be moved aside: tries again and takes the lock', async () => {
    writeFileSync(lockOf(), `${DEAD_PID}\n`);
    fault('rename', async (real, from, to) => {
      if (from === lockOf()) unlinkSync(lockOf());
      return real.rename(from, to);
    });
    await take(tmp);
    expect(readFileSync(lockOf(), 'utf8')).toBe(`${process.pid}\n`);
  });

  it('any other error moving the stale lock aside is thrown as it is', async () => {
    writeFileSync(lockOf(), `${DEAD_PID}\n`);
    const failure = errnoError('EACCES', 'EACCES: permission denied, rename');
    fault('rename', async () => {
      throw failure;
    });
    await expect(lockRun(tmp)).rejects.toBe(failure);
  });

  it('a lock that keeps appearing and vanishing is given up after 21 tries', async () => {
    let tries = 0;
    let renames = 0;
    fault('open', async (real, path, ...rest) => {
      if (path !== lockOf()) return real.open(path, ...rest);
      tries++;
      throw errnoError('EEXIST');
    });
    fault('rename', async (real, from, to) => {
      renames++;
      return real.rename(from, to);
    });
    await expect(lockRun(tmp)).rejects.toThrow(new Error(`cannot take the lock ${lockOf()}: it keeps changing hands`));
    expect(tries).toBe(21);
    // each time the lock was gone when read: nothing to move aside
    expect(renames).toBe(0);
  });
});

describe('removeStaleTempFiles', () => {
  it('removes the temporary files of dead PIDs and of this PID, keeps those of live PIDs and other files', async () => {
    const stale = [`.metrics.jsonl.${DEAD_PID}.0a1b2c3d.tmp`, `.last.safetensors.${process.pid}.ff.tmp`, `.x.${DEAD_PID}.0.tmp`];
    const kept = [
      `.metrics.jsonl.${LIVE_PID}.0a1b2c3d.tmp`, // a live writer
      'metrics.jsonl',
      `metrics.jsonl.${DEAD_PID}.ab.tmp`, // no leading dot
      `..${DEAD_PID}.ab.tmp`, // no name
      `.a.${DEAD_PID}.AB.tmp`, // not lower-case hex
      `.a.${DEAD_PID}.ab.tmp.bak`, // not the end
      `x.a.${DEAD_PID}.ab.tmp`, // not the start
      `.a.12x.ab.tmp`, // no PID
      `.a.${DEAD_PID}..tmp`, // no hex
    ];
    for (const name of [...stale, ...kept]) writeFileSync(join(tmp, name), 'x');
    const removed = await removeStaleTempFiles(tmp);
    expect([...removed].sort()).toEqual([...stale].sort());
    expect(readdirSync(tmp).sort()).toEqual([...kept].sort());
  });

  it('a file removed by someone else meanwhile is not counted', async () => {
    const name = `.metrics.jsonl.${DEAD_PID}.ab.tmp`;
    writeFileSync(join(tmp, name), 'x');
    fault('unlink', async (real, p) => {
      unlinkSync(p as string);
      return real.unlink(p);
    });
    expect(await removeStaleTempFiles(tmp)).toEqual([]);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it('a temporary file that cannot be removed is an error naming it', async () => {
    const path = join(tmp, `.metrics.jsonl.${DEAD_PID}.ab.tmp`);
    mkdirSync(path); // unlink of a directory: EISDIR
    const why = await (faults.real as Fs).unlink(path).then(
      () => '',
      (e: Error) => e.message,
    );
    expect(why).toMatch(/^EISDIR/);
    await expect(removeStaleTempFiles(tmp)).rejects.toThrow(new Error(`cannot remove the stale temporary file ${path}: ${why}`));
  });
});
