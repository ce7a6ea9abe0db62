// Checkpoint files (Node): core's checkpoint bytes, written atomically (data/file-io.ts), read back with
// errors that name the file.
import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import type { Backend } from '../core/backend.js';
import {
  buildCheckpoint,
  CheckpointError,
  float32FromLE,
  parseSafetensorsHeader,
  planCheckpoint,
  safetensorsHeaderLength,
  snapshotCheckpoint,
  type LoadedCheckpoint,
  type SaveOptions,
} from '../core/checkpoint.js';
import type { Network } from '../core/network/network.js';
import { writeFileAtomic } from '../data/file-io.js';

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

/** Reads exactly `n` bytes at `position`; a file that ends before them (it shrank) is an error. */
async function readExactly(fh: FileHandle, n: number, position: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let done = 0;
  while (done < n) {
    const { bytesRead } = await fh.read(out, done, n - done, position + done);
    if (bytesRead === 0) throw new CheckpointError(`truncated file: it ended at byte ${position + done} while reading ${n} bytes from byte ${position} (was it cut while being read?)`);
    done += bytesRead;
  }
  return out;
}

/**
 * Loads a checkpoint file. Its size, header length and header are checked first, the header against the
 * network its config implies (planCheckpoint): a refusal reads no tensor and costs memory in proportion to
 * the header alone (at most MAX_HEADER_BYTES), whatever the file's size. Then each tensor's bytes are
 * read and checked. Errors are CheckpointError naming the file.
 */
export async function loadCheckpointFile(backend: Backend, path: string): Promise<LoadedCheckpoint> {
  let fh: FileHandle;
  let size: number;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new CheckpointError(`${path}: is a directory, not a checkpoint file`);
    if (!st.isFile()) throw new CheckpointError(`${path}: is not a regular file`);
    fh = await open(path, 'r');
    size = (await fh.stat()).size;
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CheckpointError(`${path}: no such file`);
    throw new CheckpointError(`${path}: cannot read it (${(e as Error).message})`);
  }
  try {
    const hl = safetensorsHeaderLength(size >= 8 ? await readExactly(fh, 8, 0) : new Uint8Array(0), size);
    const dataStart = 8 + hl;
    const plan = planCheckpoint(parseSafetensorsHeader(await readExactly(fh, hl, 8), size - dataStart));
    const values = new Map<string, Float32Array>();
    for (const t of plan.tensors) values.set(t.name, float32FromLE(await readExactly(fh, t.end - t.begin, dataStart + t.begin)));
    return buildCheckpoint(backend, plan, values);
  } catch (e) {
    if (e instanceof CheckpointError) throw new CheckpointError(`${path}: ${e.message}`);
    if ((e as NodeJS.ErrnoException).code !== undefined) throw new CheckpointError(`${path}: cannot read it (${(e as Error).message})`);
    throw e;
  } finally {
    await fh.close();
  }
}
