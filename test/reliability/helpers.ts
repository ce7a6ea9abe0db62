// Helpers of the reliability tests: the built CLI (dist/cli/plif.js) run as a real child process, with
// its output collected and waited on, so that signals, locks and exit codes are those a user sees.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const PLIF = join(ROOT, 'dist', 'cli', 'plif.js');
const SOURCES = ['core', 'reference', 'backends', 'data', 'training', 'cli', 'bench'];

function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/ (npm run build: the JavaScript and the WASM kernels) when it is missing or older than a source file. */
export function ensureBuilt(): void {
  const built = existsSync(PLIF) ? statSync(PLIF).mtimeMs : 0;
  const newest = Math.max(...SOURCES.filter((d) => existsSync(join(ROOT, d))).map((d) => newestSource(join(ROOT, d))));
  if (built >= newest) return;
  // tsc emits even where another part of the tree has type errors; what matters here is that it emits.
  spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
  if (!existsSync(PLIF)) throw new Error(`npm run build did not produce ${PLIF}`);
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
}

export interface Child {
  proc: ChildProcess;
  readonly out: string;
  readonly err: string;
  /** Resolves when stdout + stderr match `re` (rejects after `ms` or when the process exits first). */
  waitFor(re: RegExp, ms?: number): Promise<void>;
  exited: Promise<Exit>;
}

export interface PlifOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Run as this user (tests of permissions when the tests run as root). */
  uid?: number;
  gid?: number;
  /** stdout: 'pipe' (default) or 'ignore'. */
  stdout?: 'pipe' | 'ignore';
  /** Run under `ulimit -f` of this many KiB: a write beyond it fails with EFBIG (a full disk without root). */
  fileLimitKb?: number;
}

/** Starts `node dist/cli/plif.js ...args` with one kernel thread and a private frame cache. */
export function plif(args: string[], o: PlifOptions = {}): Child {
  const [cmd, argv] =
    o.fileLimitKb !== undefined ? ['bash', ['-c', `ulimit -f ${o.fileLimitKb} && exec "$0" "$@"`, process.execPath, PLIF, ...args]] : [process.execPath, [PLIF, ...args]];
  return watch(
    spawn(cmd, argv, {
      cwd: o.cwd ?? ROOT,
      env: { ...process.env, PLIF_THREADS: '1', ...o.env },
      stdio: ['ignore', o.stdout ?? 'pipe', 'pipe'],
      ...(o.uid !== undefined ? { uid: o.uid, gid: o.gid ?? o.uid } : {}),
    }),
  );
}

/** A child process with its output collected and waited on. */
export function watch(proc: ChildProcess): Child {
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) if (w.re.test(out + err)) (waiters.splice(waiters.indexOf(w), 1), w.resolve());
  };
  proc.stdout?.on('data', (d: Buffer) => ((out += d.toString()), check()));
  proc.stderr?.on('data', (d: Buffer) => ((err += d.toString()), check()));
  const exited = new Promise<Exit>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal, out, err })));
  return {
    proc,
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    waitFor(re, ms = 60_000) {
      if (re.test(out + err)) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms; output:\n${out}${err}`)), ms);
        void exited.then(() => setTimeout(() => reject(new Error(`exited before ${re}; output:\n${out}${err}`)), 50));
        waiters.push({ re, resolve: () => (clearTimeout(timer), resolve()) });
      });
    },
    exited,
  };
}

/** Runs plif to the end. */
export function plifRun(args: string[], o: PlifOptions = {}): Promise<Exit> {
  return plif(args, o).exited;
}

/** Whether a process with this PID exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const isRoot = () => process.getuid?.() === 0;

/** A tmpfs mounted at a fresh directory (needs root with mount rights), or null where it cannot be. */
function tmpfs(options: string): { dir: string; done(): void } | null {
  if (!isRoot()) return null;
  const dir = mkdtempSync(join(tmpdir(), 'plif-tmpfs-'));
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir], { stdio: 'ignore' });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    return null;
  }
  return { dir, done: () => (spawnSync('umount', [dir], { stdio: 'ignore' }), rmSync(dir, { recursive: true, force: true })) };
}

/** A real file system of `kb` KiB, to fill up (ENOSPC); null where no tmpfs can be mounted. */
export function smallDisk(kb: number): { dir: string; done(): void } | null {
  return tmpfs(`size=${kb}k,mode=0777`);
}

/** A directory this process cannot write in: mode 0555, or for root a read-only tmpfs; null where neither works. */
export function readOnlyDir(): { dir: string; done(): void } | null {
  if (!isRoot()) {
    const dir = mkdtempSync(join(tmpdir(), 'plif-ro-'));
    chmodSync(dir, 0o555);
    return { dir, done: () => (chmodSync(dir, 0o755), rmSync(dir, { recursive: true, force: true })) };
  }
  return tmpfs('ro,size=64k');
}

/** A checkpoint file's `__metadata__` and the bytes after its header (the tensors), read without building anything. */
export function checkpointParts(path: string): { metadata: Record<string, string>; tensors: Buffer } {
  const bytes = readFileSync(path);
  const len = Number(bytes.readBigUInt64LE(0));
  return { metadata: (JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as { __metadata__: Record<string, string> }).__metadata__, tensors: bytes.subarray(8 + len) };
}

/** The training state a checkpoint file of plif train holds. */
export function checkpointState(path: string): { epoch: number; batch: number; best: { epoch: number; score: number } | null } {
  return (JSON.parse(checkpointParts(path).metadata['training']!) as { state: { epoch: number; batch: number; best: { epoch: number; score: number } | null } }).state;
}
