// Checkpoint files (Node): core's checkpoint bytes, written atomically (data/file-io.ts), read back with
// errors that name the file.
import { readFile, stat } from 'node:fs/promises';
import type { Backend } from '../core/backend.js';
import { CheckpointError, loadCheckpoint, snapshotCheckpoint, type LoadedCheckpoint, type SaveOptions } from '../core/checkpoint.js';
import type { Network } from '../core/network/network.js';
import { writeFileAtomic } from '../data/file-io.js';

// the file helpers this entry point (plif-snn/checkpoints) has always offered
export { explainMkdir, FileIoError, makeDirectory, writeFileAtomic } from '../data/file-io.js';

export async function saveCheckpointFile(path: string, net: Network, opts: SaveOptions = {}): Promise<void> {
  await writeFileAtomic(path, await snapshotCheckpoint(net, opts));
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
