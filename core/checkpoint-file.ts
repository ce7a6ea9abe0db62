// Checkpoint files (Node): written atomically (temporary file in the same directory, fsync, rename), so
// a crash never leaves a half-written model under the final name.
import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Backend } from './backend.js';
import { CheckpointError, loadCheckpoint, saveCheckpoint, type LoadedCheckpoint, type SaveOptions } from './checkpoint.js';
import type { Network } from './network/network.js';

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

/** mkdir -p with an error that names the directory and the reason. */
export async function makeDirectory(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    throw new FileIoError(dir, 'create the directory', e, await explainMkdir(dir, e));
  }
}

/**
 * Writes bytes atomically (creating the directory when needed): a temp file, fsync, then rename over the
 * target. Errors are FileIoError naming the file and what failed (disk full, read-only, ...).
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await makeDirectory(dirname(path));
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fh;
  try {
    fh = await open(tmp, 'wx');
  } catch (e) {
    throw new FileIoError(path, 'write', e);
  }
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmp).catch(() => {});
    throw new FileIoError(path, 'write', e);
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new FileIoError(path, 'write', e);
  }
}

export async function saveCheckpointFile(path: string, net: Network, opts: SaveOptions = {}): Promise<void> {
  await writeFileAtomic(path, saveCheckpoint(net, opts));
}

/** The bytes of a checkpoint file; errors name the file (a directory, a missing or unreadable file). */
export async function readCheckpointBytes(path: string): Promise<Uint8Array> {
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new CheckpointError(`${path}: is a directory, not a checkpoint file`);
    if (!st.isFile()) throw new CheckpointError(`${path}: is not a regular file`);
    const bytes = await readFile(path);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError(`${path}: no such file`);
    throw new CheckpointError(`${path}: cannot read it (${(e as Error).message})`);
  }
}

export async function loadCheckpointFile(backend: Backend, path: string): Promise<LoadedCheckpoint> {
  const bytes = await readCheckpointBytes(path);
  try {
    return loadCheckpoint(backend, bytes);
  } catch (e) {
    if (e instanceof CheckpointError) throw new CheckpointError(`${path}: ${e.message}`);
    throw e;
  }
}
