// The run directory: config.json, metrics.jsonl (one line per epoch), train-curve.jsonl (a few lines per
// epoch), checkpoints last/best, and the firing-rate maps of the last test pass. Every file is written atomically (temp file + rename).
import { lstatSync, unlinkSync, readFileSync, type Stats } from 'node:fs';
import { lstat, open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseJsonBounded, quote } from '../core/quote.js';
import { FileIoError, makeDirectory } from '../data/file-io.js';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../data/index.js';

/** The lock of a run directory: created exclusively, holds the PID of the plif train that trains there. */
export const LOCK_FILE = 'train.lock';

export function runPaths(dir: string) {
  return {
    dir,
    config: join(dir, 'config.json'),
    metrics: join(dir, 'metrics.jsonl'),
    /** Running train loss, accuracy and tau a few times per epoch (TrainRecord lines). */
    trainCurve: join(dir, 'train-curve.jsonl'),
    last: join(dir, 'last.safetensors'),
    best: join(dir, 'best.safetensors'),
    firingMaps: join(dir, 'firing-maps.json'),
    confusion: join(dir, 'confusion.json'),
    lock: join(dir, LOCK_FILE),
  };
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n'));
}

/** Lines of metrics.jsonl; a missing file is an empty run, a bad line an error naming the line. */
export async function readMetrics(path: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new FileIoError(path, 'read', err);
  }
  return text
    .split('\n')
    .map((line, i) => [line, i] as const)
    .filter(([line]) => line.trim() !== '')
    .map(([line, i]) => {
      try {
        return parseJsonBounded(line) as Record<string, unknown>;
      } catch (e) {
        throw new Error(`${path}:${i + 1}: not a JSON line (${quote((e as Error).message)})`);
      }
    });
}

/** Rewrites metrics.jsonl with exactly these lines. */
export async function truncateMetrics(path: string, lines: readonly unknown[]): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(lines.map((l) => JSON.stringify(l) + '\n').join('')));
}

export async function appendMetrics(path: string, line: unknown): Promise<void> {
  const lines = await readMetrics(path);
  await truncateMetrics(path, [...lines, line]);
}

/** Another live process trains in this run directory. */
export class RunLockedError extends Error {
  override readonly name = 'RunLockedError';
  constructor(
    readonly dir: string,
    readonly pid: number,
  ) {
    super(
      `${dir} is in use by another plif train (PID ${pid}, lock file ${join(dir, LOCK_FILE)}); wait for it to finish or stop it ` +
        `(if PID ${pid} is not training there, delete the lock file)`,
    );
  }
}

/** Whether a process with this PID exists (EPERM: it exists but belongs to another user). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/**
 * Creates the run directory (and its parents). Errors name the directory and the reason, e.g. the
 * nearest existing parent that is not writable (where mkdir itself reports a misleading ENOENT).
 */
export async function makeRunDir(dir: string): Promise<void> {
  // refuses /proc and /sys, and makes each level on its own (a recursive mkdir can spin there)
  await makeDirectory(dir, 'the run directory');
  const st = await stat(dir);
  if (!st.isDirectory()) throw new Error(`the run directory ${dir} is a file, not a directory`);
}

/** Lock files this process holds (a second run of the same process is refused too). */
const heldHere = new Set<string>();

export interface RunLock {
  path: string;
  release(): void;
}

/** What a path that is not a regular file is, for a message. */
function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a regular file';
}

/**
 * The PID a lock file holds (null: not a PID yet). Its type is checked with lstat before it is opened: a
 * FIFO would block the open (and the process) for good, a directory gives EISDIR; both are refused naming
 * the lock file.
 */
async function readLockPid(path: string, dir: string): Promise<number | null | 'missing'> {
  try {
    const st = await lstat(path);
    if (!st.isFile()) {
      throw new FileIoError(path, 'take the lock', null, `it is ${fileKind(st)}, not the lock file plif train writes (a PID); remove it if no run is using ${dir}`);
    }
    if (st.size > 64) return null; // a PID and a newline; anything longer is not a lock of plif train
    const text = await readFile(path, 'utf8');
    return /^\d+\s*$/.test(text) ? Number(text) : null;
  } catch (e) {
    if (errno(e) === 'ENOENT') return 'missing';
    throw e;
  }
}

/**
 * Takes the lock of a run directory: RUN_DIR/train.lock, created with the exclusive flag 'wx' and holding
 * this PID. A lock whose PID is no longer running (a run killed with SIGKILL, a crash) is stale and taken
 * over; a live holder gives RunLockedError naming its PID. The lock is removed by release() and, should
 * the process exit without it (a second Ctrl-C), by an exit handler.
 */
export async function lockRun(dir: string): Promise<RunLock> {
  const path = join(dir, LOCK_FILE);
  const key = resolve(path);
  if (heldHere.has(key)) throw new RunLockedError(dir, process.pid);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx');
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      break;
    } catch (e) {
      if (errno(e) !== 'EEXIST') throw new FileIoError(path, 'create the lock file', e);
    }
    if (attempt >= 20) throw new Error(`cannot take the lock ${path}: it keeps changing hands`);
    let holder = await readLockPid(path, dir);
    for (let wait = 0; holder === null && wait < 10; wait++) {
      // Created but not written yet by its owner: give it a moment.
      await new Promise((r) => setTimeout(r, 50));
      holder = await readLockPid(path, dir);
    }
    if (holder === 'missing') continue;
    if (holder !== null && holder !== process.pid && processAlive(holder)) throw new RunLockedError(dir, holder);
    // Stale: move it aside (atomic), then make sure what was moved is the stale lock, not a fresh one.
    const aside = join(dir, `.${LOCK_FILE}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
    try {
      await rename(path, aside);
    } catch (e) {
      if (errno(e) === 'ENOENT') continue;
      throw e;
    }
    const moved = await readLockPid(aside, dir);
    if (typeof moved === 'number' && moved !== holder && moved !== process.pid && processAlive(moved)) {
      await rename(aside, path).catch(() => {});
      throw new RunLockedError(dir, moved);
    }
    await unlink(aside).catch(() => {});
  }
  heldHere.add(key);
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldHere.delete(key);
    process.off('exit', release);
    try {
      // lstat first: what replaced the lock meanwhile may be a FIFO, whose open would hang the exit
      if (lstatSync(path).isFile() && readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
    } catch {
      // already gone
    }
  };
  process.on('exit', release);
  return { path, release };
}

/** Temporary files of atomic writes: `.<name>.<pid>.<hex>.tmp` (data/file-io.ts writeFileAtomic). */
const TEMP_FILE = /^\.(.+)\.(\d+)\.([0-9a-f]+)\.tmp$/;

/**
 * Removes the temporary files that writers killed mid-write (SIGKILL, power loss) left in a run
 * directory: those of PIDs no longer running, and this PID's (a previous life of this PID: the run holds
 * the lock and has written nothing yet). Returns the names removed.
 */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir)) {
    const m = TEMP_FILE.exec(name);
    if (!m) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && processAlive(pid)) continue;
    try {
      await unlink(join(dir, name));
      removed.push(name);
    } catch (e) {
      if (errno(e) !== 'ENOENT') throw new Error(`cannot remove the stale temporary file ${join(dir, name)}: ${(e as Error).message}`);
    }
  }
  return removed;
}
