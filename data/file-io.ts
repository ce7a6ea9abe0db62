// File I/O of the Node entry points: errors that name the file, what was being done and why, and atomic
// writes (temporary file in the same directory, fsync, rename), so a crash never leaves a half-written file
// under the final name.
import { randomBytes } from 'node:crypto';
import { access, constants, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
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
