// File I/O of the Node entry points: errors that name the file, what was being done and why, and atomic
// writes (temporary file in the same directory, fsync, rename), so a crash never leaves a half-written file
// under the final name. Writes follow what the user named: through symbolic links to their targets, into
// devices, FIFOs and this process's stdout directly; only a regular file (or nothing) is renamed over.
import { randomBytes } from 'node:crypto';
import { write as fsWrite } from 'node:fs';
import { access, constants, lstat, mkdir, open, readlink, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the device (disk full)',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large for the file system or the process limit',
  EROFS: 'read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'it is a directory',
  ENOTDIR: 'a part of the path is not a directory',
  EEXIST: 'a part of the path exists and is not a directory',
  EIO: 'input/output error of the device',
  EMFILE: 'too many open files',
  EPIPE: 'the reader has gone (a closed pipe)',
  ELOOP: 'too many levels of symbolic links',
};

/** An I/O error that says which file, what was being done, and why (the errno code kept in `code`). */
export class FileIoError extends Error {
  override readonly name = 'FileIoError';
  readonly code: string | undefined;
  constructor(
    readonly path: string,
    readonly action: string,
    cause: unknown,
    reason?: string,
  ) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const why = reason ?? (code && REASONS[code] ? `${REASONS[code]} (${code})` : (cause as Error)?.message ?? String(cause));
    super(`cannot ${action} ${path}: ${why}`, { cause });
    this.code = code;
  }
}

/**
 * Why a directory cannot be created: the nearest existing ancestor is a file, or not writable (mkdir with
 * { recursive: true } reports ENOENT for both).
 */
export async function explainMkdir(dir: string, err: unknown): Promise<string> {
  let p = resolve(dir);
  while (dirname(p) !== p) {
    p = dirname(p);
    const st = await stat(p).catch(() => null);
    if (!st) continue;
    if (!st.isDirectory()) return `${p} is not a directory`;
    const denied = await access(p, constants.W_OK).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    if (denied) return `${p} is not writable: ${denied.code && REASONS[denied.code] ? `${REASONS[denied.code]} (${denied.code})` : denied.message}`;
    break;
  }
  const code = (err as NodeJS.ErrnoException).code;
  return code && REASONS[code] ? `${REASONS[code]} (${code})` : (err as Error).message;
}

/** The kernel's virtual file systems: no file or directory can be made in them. */
const KERNEL_FILE_SYSTEMS = ['/proc', '/sys'];

/**
 * Why nothing can be created at `path`: it does not exist and lies under /proc or /sys, as named or through
 * the links of its nearest existing ancestor; null otherwise. (Node's recursive mkdir spins at 100% CPU on /proc/x/run.)
 */
export async function kernelFileSystemProblem(path: string): Promise<string | null> {
  // what exists there is written into, not made (/proc/self/fd/1, /dev/stdout through /proc)
  if (await lstat(path).then(() => true, () => false)) return null;
  const under = (p: string) => KERNEL_FILE_SYSTEMS.find((k) => p === k || p.startsWith(`${k}/`));
  let p = resolve(path);
  let fs = under(p);
  if (!fs) {
    // the nearest existing ancestor, through its links
    while (dirname(p) !== p && !(await lstat(p).then(() => true, () => false))) p = dirname(p);
    fs = under(await realpath(p).catch(() => p));
  }
  return fs ? `it lies under ${fs}, a file system of the kernel where no file or directory can be made` : null;
}

/**
 * mkdir -p with an error that names the directory and the reason; a path under /proc or /sys is refused
 * before any mkdir, and each missing level is made on its own (no recursive mkdir, which can spin).
 */
export async function makeDirectory(dir: string, what = 'the directory'): Promise<void> {
  const action = `create ${what}`;
  const problem = await kernelFileSystemProblem(dir);
  if (problem) throw new FileIoError(dir, action, null, problem);
  const missing: string[] = [];
  for (let p = resolve(dir); ; p = dirname(p)) {
    const st = await stat(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : e));
    if (st instanceof Error) throw new FileIoError(dir, action, st, await explainMkdir(dir, st));
    if (st) {
      if (!st.isDirectory()) throw new FileIoError(dir, action, null, `${p} is not a directory`);
      break;
    }
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      await mkdir(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && (await stat(p).then((s) => s.isDirectory(), () => false))) continue;
      throw new FileIoError(dir, action, e, await explainMkdir(dir, e));
    }
  }
}

/** How a write reaches what the user named: replaced (a regular file or nothing), or written into directly. */
export type WriteTarget =
  /** A regular file or nothing: a temporary file beside it, fsync, rename over it (keeping its mode). */
  | { kind: 'replace'; path: string; mode: number | null }
  /** A FIFO, a device or a socket: opened and written, no temporary file, no rename. */
  | { kind: 'direct'; path: string }
  /** One of this process's open descriptors (/dev/stdout, /dev/fd/N, /proc/self/fd/N): written through it, at its offset. */
  | { kind: 'descriptor'; path: string; fd: number };

const OWN_DESCRIPTOR = /^\/proc\/(\d+)(?:\/task\/\d+)?\/fd\/(\d+)$/;
const errnoOf = (e: unknown) => (e as NodeJS.ErrnoException | undefined)?.code;

/**
 * Where a write to `path` goes. Symbolic links are followed to their target (a dangling one to the file
 * it names), so the link stays a link; a device, FIFO or socket is written into; only a regular file or
 * nothing is replaced by rename.
 */
export async function writeTarget(path: string): Promise<WriteTarget> {
  let p = resolve(path);
  for (let hops = 0; ; hops++) {
    if (hops > 40) throw new FileIoError(path, 'write', null, 'too many levels of symbolic links (ELOOP)');
    // the directory part through its links (/dev/fd -> /proc/self/fd -> /proc/<pid>/fd), the last part as named
    const dir = await realpath(dirname(p)).catch(() => dirname(p));
    p = join(dir, basename(p));
    const own = OWN_DESCRIPTOR.exec(p);
    if (own && Number(own[1]) === process.pid) return { kind: 'descriptor', path: p, fd: Number(own[2]) };
    let st;
    try {
      st = await lstat(p);
    } catch (e) {
      // nothing there, or a directory part missing or not a directory (which makeDirectory then explains)
      if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return { kind: 'replace', path: p, mode: null };
      throw new FileIoError(path, 'write', e);
    }
    if (st.isSymbolicLink()) {
      try {
        p = resolve(dirname(p), await readlink(p));
      } catch (e) {
        throw new FileIoError(path, 'write', e);
      }
      continue;
    }
    if (st.isDirectory()) throw new FileIoError(path, 'write', null, `${p === resolve(path) ? 'it' : p} is a directory`);
    if (st.isFile()) return { kind: 'replace', path: p, mode: st.mode & 0o7777 };
    return { kind: 'direct', path: p };
  }
}

/** Writes all of `bytes` at the descriptor's offset (a short write is continued, never ignored). */
async function writeAll(fh: { write(b: Uint8Array, o: number, l: number): Promise<{ bytesWritten: number }> }, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length; ) {
    const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
    if (bytesWritten <= 0) throw Object.assign(new Error('the write made no progress'), { code: 'EIO' });
    at += bytesWritten;
  }
}

/**
 * Writes all of `bytes` to one of this process's descriptors: stdout and stderr through their streams (in
 * order with what else the command prints), others with write(2), waiting while a non-blocking one is full.
 */
async function writeDescriptor(fd: number, bytes: Uint8Array): Promise<void> {
  const stream = fd === 1 ? process.stdout : fd === 2 ? process.stderr : null;
  if (stream) {
    await new Promise<void>((done, fail) => stream.write(bytes, (e) => (e ? fail(e) : done())));
    return;
  }
  const once = (at: number) => new Promise<number>((done, fail) => fsWrite(fd, bytes, at, bytes.length - at, null, (e, n) => (e ? fail(e) : done(n))));
  await writeAll(
    {
      write: async (_b, at) => {
        for (;;) {
          try {
            return { bytesWritten: await once(at) };
          } catch (e) {
            if (errnoOf(e) !== 'EAGAIN') throw e;
            await new Promise((r) => setTimeout(r, 5));
          }
        }
      },
    },
    bytes,
  );
}

/**
 * Writes bytes where `path` leads (writeTarget): a regular file (or a new one) atomically, through a
 * temporary file beside it (beside a symbolic link's target), fsync, then rename; a device, FIFO or pipe
 * directly. Nothing is renamed into place unless every write and the fsync succeeded. Errors are
 * FileIoError naming the file and what failed (disk full, read-only, ...).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  const target = await writeTarget(path);
  if (target.kind === 'descriptor') {
    try {
      await writeDescriptor(target.fd, bytes);
    } catch (e) {
      throw new FileIoError(path, 'write', e);
    }
    return;
  }
  if (target.kind === 'direct') {
    let fh;
    try {
      fh = await open(target.path, 'w');
    } catch (e) {
      throw new FileIoError(path, 'write', e);
    }
    try {
      await writeAll(fh, bytes);
      await fh.close();
    } catch (e) {
      await fh.close().catch(() => {});
      throw new FileIoError(path, 'write', e);
    }
    return;
  }
  const final = target.path;
  await makeDirectory(dirname(final));
  const tmp = join(dirname(final), `.${basename(final)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fh;
  try {
    fh = await open(tmp, 'wx', target.mode ?? 0o666);
  } catch (e) {
    throw new FileIoError(path, 'write', e);
  }
  try {
    await writeAll(fh, bytes);
    if (target.mode !== null) await fh.chmod(target.mode);
    await fh.sync();
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw new FileIoError(path, 'write', e);
  }
  try {
    await rename(tmp, final);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new FileIoError(path, 'write', e);
  }
  await syncDirectory(dirname(final));
}

/** fsync of a directory, so a rename in it survives a power loss (best effort: not every file system allows it). */
async function syncDirectory(dir: string): Promise<void> {
  const dh = await open(dir, 'r').catch(() => null);
  if (!dh) return;
  await dh.sync().catch(() => {});
  await dh.close().catch(() => {});
}
