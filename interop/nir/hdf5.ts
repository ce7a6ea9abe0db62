// NIR files on disk through h5wasm (the HDF5 C library compiled to WebAssembly): the tree of tree.ts
// written as groups and datasets the way the reference `nir` package writes them with h5py (strings as
// string datasets, parameters as float arrays, integers as int64), and read back.
import { randomBytes } from 'node:crypto';
import nodeFs from 'node:fs';
import { open, readFile, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import h5wasm from 'h5wasm/node';
import { dirname, join } from 'node:path';
import { quote } from '../../core/quote.js';
import { FileIoError, writeFileAtomic } from '../../data/file-io.js';
import { isArray, isGroup, type NirArray, type NirFile, type NirGroup, type NirValue } from './tree.js';

type H5Group = InstanceType<typeof h5wasm.Group>;
type H5Dataset = InstanceType<typeof h5wasm.Dataset>;

const DTYPE = { f32: '<f', f64: '<d', i64: '<q' } as const;

function writeValue(g: H5Group, key: string, v: NirValue): void {
  if (typeof v === 'string') {
    g.create_dataset({ name: key, data: v });
  } else if (isArray(v)) {
    const data = v.dtype === 'i64' ? BigInt64Array.from(v.data as number[], (x) => BigInt(x)) : v.dtype === 'f32' ? Float32Array.from(v.data) : Float64Array.from(v.data);
    g.create_dataset({ name: key, data, shape: v.shape, dtype: DTYPE[v.dtype] });
  } else if (isGroup(v)) {
    const sub = g.create_group(key);
    for (const [k, x] of Object.entries(v)) writeValue(sub, k, x);
  } else {
    g.create_dataset({ name: key, data: v.data, shape: v.shape });
  }
}

/** What is kept of the library's diagnostics (a damaged file can make it print for a long time). */
const MAX_DIAGNOSTICS = 1 << 20;

/**
 * Runs synchronous h5wasm calls with the HDF5 library's diagnostics (HDF5-DIAG blocks, which its C code
 * writes to file descriptors 1 and 2 through fs.writeSync) kept out of the terminal unless PLIF_DEBUG is set;
 * returns them for a message.
 */
function quietly<T>(fn: () => T): { value: T; diagnostics: string } | { error: unknown; diagnostics: string } {
  const writeSync = nodeFs.writeSync;
  let diagnostics = '';
  // PLIF_DEBUG=1 lets them through as well (to see what the library says)
  const passThrough = Boolean(process.env['PLIF_DEBUG']);
  nodeFs.writeSync = ((fd: number, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]): number => {
    if ((fd !== 1 && fd !== 2) || passThrough) {
      const n = (writeSync as (...a: unknown[]) => number)(fd, data, ...rest);
      if (fd !== 1 && fd !== 2) return n;
    }
    if (typeof data === 'string') {
      if (diagnostics.length < MAX_DIAGNOSTICS) diagnostics += data;
      return Buffer.byteLength(data);
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const offset = typeof rest[0] === 'number' ? rest[0] : 0;
    const length = typeof rest[1] === 'number' ? rest[1] : bytes.length - offset;
    if (diagnostics.length < MAX_DIAGNOSTICS) diagnostics += Buffer.from(bytes.subarray(offset, offset + length)).toString();
    return length;
  }) as typeof nodeFs.writeSync;
  try {
    return { value: fn(), diagnostics };
  } catch (error) {
    return { error, diagnostics };
  } finally {
    nodeFs.writeSync = writeSync;
  }
}

/** The first HDF5 failure named in its diagnostics ("minor: Write failed"), for a message. */
function hdf5Failure(diagnostics: string): string {
  const minors = [...diagnostics.matchAll(/minor: (.+)/g)].map((m) => m[1]!.trim());
  return minors.at(-1) ?? minors[0] ?? 'an unnamed failure';
}

/** Where two trees differ (the first path found), or null when they are the same. */
function treeDifference(a: NirValue, b: NirValue, where: string): string | null {
  if (typeof a === 'string' || typeof b === 'string') return a === b ? null : where;
  if (isGroup(a) || isGroup(b)) {
    if (!isGroup(a) || !isGroup(b)) return where;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return where;
    for (const k of keys) {
      if (!(k in b)) return `${where}/${k}`;
      const d = treeDifference(a[k]!, b[k]!, `${where}/${k}`);
      if (d) return d;
    }
    return null;
  }
  if (a.kind !== b.kind || a.data.length !== b.data.length) return where;
  if (a.kind === 'array' && b.kind === 'array' && a.dtype !== b.dtype) return where;
  for (let i = 0; i < a.data.length; i++) if (!Object.is(a.data[i], b.data[i])) return where;
  return null;
}

/**
 * Writes a NIR file. h5wasm reports failed writes only on stderr, so the HDF5 file is made as a scratch
 * file in the temporary directory, its close checked and its contents read back and compared with the
 * tree; only then are its bytes written to `path` (writeFileAtomic: a regular file atomically, a link to
 * its target, a device directly). A failure leaves `path` as it was and names it.
 */
export async function writeNirFile(path: string, file: NirFile): Promise<void> {
  await h5wasm.ready;
  const scratch = join(tmpdir(), `.plif-nir.${process.pid}.${randomBytes(4).toString('hex')}.h5`);
  const fail = (reason: string): never => {
    throw new FileIoError(path, 'write the NIR file', null, reason);
  };
  try {
    const made = quietly(() => {
      const f = new h5wasm.File(scratch, 'w');
      let closed = false;
      try {
        f.create_dataset({ name: 'version', data: file.version });
        const node = f.create_group('node');
        for (const [k, v] of Object.entries(file.node)) writeValue(node, k, v);
        closed = true;
        return f.close();
      } finally {
        if (!closed) f.close();
      }
    });
    const why = async (diagnostics: string) => `the HDF5 library could not write its scratch file ${scratch} (${(await diskFull(scratch)) ? 'no space left on the device (disk full)' : hdf5Failure(diagnostics)})`;
    if ('error' in made) fail(await why(made.diagnostics || String((made.error as Error)?.message ?? made.error)));
    if ('value' in made && made.value < 0) fail(await why(made.diagnostics));
    let back: NirFile;
    try {
      back = await readNirFile(scratch);
    } catch (err) {
      return fail(await why((err as Error).message));
    }
    const differs = back.version !== file.version ? '/version' : treeDifference(file.node, back.node, '/node');
    if (differs) fail(await why(`${differs} did not read back as written`));
    let bytes: Uint8Array;
    try {
      bytes = await readFile(scratch);
    } catch (err) {
      throw new FileIoError(scratch, 'read back the scratch NIR file', err);
    }
    await writeFileAtomic(path, bytes);
  } finally {
    await rm(scratch, { force: true });
  }
}

/** Whether the file system holding `path` has no free block left. */
async function diskFull(path: string): Promise<boolean> {
  const fs = await statfs(dirname(path)).catch(() => null);
  return fs !== null && fs.bavail === 0;
}

/**
 * What the datasets of a NIR file may declare in all, in bytes: 16 times the file's size, at least 16 MiB.
 * HDF5 stores values as they are unless compressed, so a file declaring more is a compression bomb or
 * holds datasets without their data (read as fill values); either is refused before a value is read.
 */
export function nirReadBudget(fileSize: number): number {
  return Math.max(NIR_MIN_BUDGET, 16 * fileSize);
}
const NIR_MIN_BUDGET = 16 * 2 ** 20;

interface ReadBudget {
  path: string;
  size: number;
  limit: number;
  /** Bytes declared by the datasets read so far. */
  used: number;
}

/**
 * What an h5wasm failure means, in words: its C++ layer says "error - name not defined!" for an object it
 * cannot open, and its allocator "Requested allocation of N bytes exceeds maximum memory of M bytes".
 */
export function hdf5Reason(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  if (/name not defined/.test(m)) return 'cannot be opened (a link to nothing, or a damaged or truncated file)';
  const alloc = /Requested allocation of (\d+) bytes exceeds maximum memory of (\d+) bytes/.exec(m);
  if (alloc) return `needs ${alloc[1]} bytes, more than the ${alloc[2]} bytes the HDF5 library (WebAssembly) can hold`;
  return quote(m);
}

/** Runs one h5wasm call on the object at `where` of `path`; a failure names the file and the object. */
function at<T>(path: string, where: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FileIoError || err instanceof NirBudgetError) throw err;
    throw new FileIoError(path, 'read the NIR file', err, `${where} ${hdf5Reason(err)}`);
  }
}

/** A NIR file declaring more than its read budget. */
class NirBudgetError extends Error {
  override readonly name = 'NirBudgetError';
}

function readValue(e: H5Group | H5Dataset, where: string, budget: ReadBudget): NirValue {
  const path = budget.path;
  if (e instanceof h5wasm.Group) {
    const out: NirGroup = {};
    for (const k of at(path, where, () => e.keys())) {
      const child = at(path, `${where}/${k}`, () => e.get(k));
      if (!child || !(child instanceof h5wasm.Group || child instanceof h5wasm.Dataset)) {
        throw new FileIoError(path, 'read the NIR file', null, `${where}/${k} is not a group or a dataset (${child === null || child === undefined ? 'nothing' : child.constructor.name})`);
      }
      out[k] = readValue(child, `${where}/${k}`, budget);
    }
    return out;
  }
  const d = e as H5Dataset;
  const shape = at(path, where, () => d.shape) ?? [];
  const meta = at(path, where, () => d.metadata);
  // the declared size first, from the dataset's metadata: nothing is allocated for a dataset too large
  const declared = Number(meta.total_size ?? 0) * Math.max(1, Number(meta.size ?? 1));
  budget.used += declared;
  if (!(budget.used <= budget.limit)) {
    throw new NirBudgetError(
      `${budget.path}: ${where} declares ${Number(meta.total_size).toExponential(3)} values of shape [${shape.join(', ')}] (${declared} bytes); the datasets of a NIR file of ${budget.size} bytes may declare ${budget.limit} bytes in all (16 times its size, at least 16 MiB), more is compressed past any network's weights or not in the file, so none of it is read`,
    );
  }
  const value = at(path, where, () => d.value);
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((s) => typeof s === 'string')) return { kind: 'strings', shape, data: value as string[] };
  if (meta.type === 0 /* integer */) {
    const ints = typeof value === 'bigint' || typeof value === 'number' ? [value] : Array.from(value as ArrayLike<number | bigint>);
    return { kind: 'array', dtype: 'i64', shape, data: ints.map((x) => Number(x)) } satisfies NirArray;
  }
  if (meta.type === 1 /* float */) {
    // h5wasm's typed array as it is (no array of numbers in between)
    if (meta.size === 4) return { kind: 'array', dtype: 'f32', shape, data: value instanceof Float32Array ? value : Float32Array.from(typeof value === 'number' ? [value] : (value as ArrayLike<number>)) };
    return { kind: 'array', dtype: 'f64', shape, data: value instanceof Float64Array ? value : Float64Array.from(typeof value === 'number' ? [value] : (value as ArrayLike<number>)) };
  }
  if (typeof value === 'boolean') return { kind: 'array', dtype: 'i64', shape, data: [value ? 1 : 0] };
  throw new FileIoError(path, 'read the NIR file', null, `${where}: a dataset of HDF5 type class ${meta.type} is not one NIR uses`);
}

/** The HDF5 signature, at offset 0, 512, 1024, 2048, ... of the file. */
const HDF5_SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

async function isHdf5(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = new Uint8Array(8);
    for (let at = 0; at <= 8192; at = at === 0 ? 512 : at * 2) {
      const { bytesRead } = await fh.read(head, 0, 8, at);
      if (bytesRead < 8) return false;
      if (HDF5_SIGNATURE.every((b, i) => head[i] === b)) return true;
    }
    return false;
  } finally {
    await fh.close();
  }
}

/** Reads a NIR file: its version and the tree under /node. Errors name the file. */
export async function readNirFile(path: string): Promise<NirFile> {
  let hdf5: boolean;
  try {
    hdf5 = await isHdf5(path);
  } catch (err) {
    throw new FileIoError(path, 'read the NIR file', err);
  }
  if (!hdf5) throw new FileIoError(path, 'read the NIR file', null, 'not an HDF5 file (no HDF5 signature)');
  await h5wasm.ready;
  // h5wasm is synchronous: the HDF5 library's diagnostics of a damaged file stay out of the terminal
  const read = quietly(() => readNirTree(path));
  if ('error' in read) throw read.error;
  return read.value;
}

function readNirTree(path: string): NirFile {
  let f: InstanceType<typeof h5wasm.File>;
  try {
    f = new h5wasm.File(path, 'r');
  } catch (err) {
    throw new FileIoError(path, 'read the NIR file', err, 'an HDF5 file that cannot be read');
  }
  try {
    const keys = at(path, 'the root group', () => f.keys());
    if (!keys.includes('node')) throw new FileIoError(path, 'read the NIR file', null, `not a NIR file (no /node group; it holds ${quote(keys.join(', ')) || 'nothing'})`);
    const node = at(path, '/node', () => f.get('node'));
    if (!(node instanceof h5wasm.Group)) throw new FileIoError(path, 'read the NIR file', null, '/node is not a group');
    const v = keys.includes('version') ? at(path, '/version', () => f.get('version')) : null;
    const version = v instanceof h5wasm.Dataset && Number(at(path, '/version', () => v.metadata).total_size ?? 0) <= 1 ? String(at(path, '/version', () => v.value)) : '';
    const size = nodeFs.statSync(path).size;
    const tree = readValue(node, '/node', { path, size, limit: nirReadBudget(size), used: 0 });
    if (!isGroup(tree)) throw new FileIoError(path, 'read the NIR file', null, '/node is not a group');
    return { version, node: tree };
  } finally {
    f.close();
  }
}
