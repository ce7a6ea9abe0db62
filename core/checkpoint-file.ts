// Checkpoint files (Node): written atomically (temporary file in the same directory, fsync, rename), so
// a crash never leaves a half-written model under the final name.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Backend } from './backend.js';
import { CheckpointError, loadCheckpoint, saveCheckpoint, type LoadedCheckpoint, type SaveOptions } from './checkpoint.js';
import type { Network } from './network/network.js';

/** Writes bytes atomically (creating the directory when needed): a temp file, fsync, then rename over the target. */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (e) {
    await fh.close();
    await unlink(tmp).catch(() => {});
    throw e;
  }
  await fh.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
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
