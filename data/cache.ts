// On-disk frame cache. An entry is a .npy file named by a SHA-256 of the source file's identity
// (absolute path, size, mtime) and the integration parameters, so a changed source or parameter
// never reads a stale entry. Entries are written atomically (temp file + rename); a damaged or
// missing entry is recomputed, so the whole cache directory is safe to delete at any time.
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from './file-io.js';
import { decodeNpy, encodeNpy, type NpyArray } from './npy.js';

/** Bump when the meaning of cached frames changes. */
export const CACHE_VERSION = 1;

/** Default cache directory: $PLIF_CACHE, else ./.plif-cache (ignored by git). */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): string {
  return env['PLIF_CACHE'] ? resolve(env['PLIF_CACHE']) : join(cwd, '.plif-cache');
}

/** Identity of a source file for cache keys. */
export async function fileIdentity(file: string): Promise<{ path: string; size: number; mtimeMs: number }> {
  const st = await stat(file);
  return { path: resolve(file), size: st.size, mtimeMs: st.mtimeMs };
}

/** Stable hex key of a JSON-able description (object keys sorted). */
export function cacheKey(parts: Record<string, unknown>): string {
  const canon = (v: unknown): unknown =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, canon((v as Record<string, unknown>)[k])]))
      : v;
  return createHash('sha256').update(JSON.stringify(canon({ v: CACHE_VERSION, ...parts }))).digest('hex');
}

/** Path of the entry for a key: <dir>/<key[0..2]>/<key>.npy. */
export function cachePath(dir: string, key: string): string {
  return join(dir, key.slice(0, 2), `${key}.npy`);
}

/** Where cache warnings go (default: one line on stderr). */
let warnSink: (message: string) => void = (m) => void process.stderr.write(`warning: ${m}\n`);

/** Sets where cache warnings go; returns the previous sink. */
export function setCacheWarningSink(sink: (message: string) => void): (message: string) => void {
  const prev = warnSink;
  warnSink = sink;
  return prev;
}

/** Cache directories that failed a write in this process: not written again. */
const unwritable = new Set<string>();

/**
 * Stores frames (counts) with the smallest unsigned dtype that holds them exactly. Best-effort: a cache
 * that cannot be written (disk full, read-only, not a directory) gives one warning and is not written
 * again by this process; the caller carries on with the frames it has. Returns whether it was stored.
 */
export async function writeCachedFrames(dir: string, key: string, frames: Float32Array, shape: readonly number[]): Promise<boolean> {
  const where = resolve(dir);
  if (unwritable.has(where)) return false;
  let max = 0;
  for (let i = 0; i < frames.length; i++) if (frames[i]! > max) max = frames[i]!;
  const data: NpyArray = max <= 0xff ? Uint8Array.from(frames) : max <= 0xffff ? Uint16Array.from(frames) : Uint32Array.from(frames);
  try {
    await writeFileAtomic(cachePath(dir, key), encodeNpy(data, shape));
    return true;
  } catch (e) {
    if (unwritable.has(where)) return false; // a concurrent write already warned
    unwritable.add(where);
    warnSink(`the frame cache ${dir} cannot be written: ${(e as Error).message}; carrying on without caching frames (set PLIF_CACHE to another directory to cache them)`);
    return false;
  }
}

/** Frames of an entry as Float32Array, or null when absent, damaged or of another shape. */
export async function readCachedFrames(dir: string, key: string, shape: readonly number[]): Promise<Float32Array | null> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(cachePath(dir, key));
  } catch {
    return null;
  }
  try {
    const { data, shape: s } = decodeNpy(bytes, cachePath(dir, key));
    if (s.length !== shape.length || s.some((d, i) => d !== shape[i])) return null;
    return data instanceof Float32Array ? data : Float32Array.from(data);
  } catch {
    return null;
  }
}
