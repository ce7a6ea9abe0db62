// NIR files on disk through h5wasm (the HDF5 C library compiled to WebAssembly): the tree of tree.ts
// written as groups and datasets the way the reference `nir` package writes them with h5py (strings as
// string datasets, parameters as float arrays, integers as int64), and read back.
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import h5wasm from 'h5wasm/node';
import { dirname } from 'node:path';
import { FileIoError, makeDirectory } from '../../data/file-io.js';
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

/** Writes a NIR file (atomically: a temporary file renamed into place), creating its directory. */
export async function writeNirFile(path: string, file: NirFile): Promise<void> {
  await makeDirectory(dirname(path));
  await h5wasm.ready;
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const f = new h5wasm.File(tmp, 'w');
    try {
      f.create_dataset({ name: 'version', data: file.version });
      const node = f.create_group('node');
      for (const [k, v] of Object.entries(file.node)) writeValue(node, k, v);
    } finally {
      f.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new FileIoError(path, 'write the NIR file', err);
  }
}

function readValue(e: H5Group | H5Dataset, where: string): NirValue {
  if (e instanceof h5wasm.Group) {
    const out: NirGroup = {};
    for (const k of e.keys()) {
      const child = e.get(k);
      if (!child || !(child instanceof h5wasm.Group || child instanceof h5wasm.Dataset)) throw new Error(`${where}/${k}: not a group or dataset`);
      out[k] = readValue(child, `${where}/${k}`);
    }
    return out;
  }
  const d = e as H5Dataset;
  const shape = d.shape ?? [];
  const value = d.value;
  const meta = d.metadata;
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && value.every((s) => typeof s === 'string')) return { kind: 'strings', shape, data: value as string[] };
  if (meta.type === 0 /* integer */) {
    const ints = typeof value === 'bigint' || typeof value === 'number' ? [value] : Array.from(value as ArrayLike<number | bigint>);
    return { kind: 'array', dtype: 'i64', shape, data: ints.map((x) => Number(x)) } satisfies NirArray;
  }
  if (meta.type === 1 /* float */) {
    const floats = typeof value === 'number' ? [value] : Array.from(value as ArrayLike<number>);
    return meta.size === 4 ? { kind: 'array', dtype: 'f32', shape, data: Float32Array.from(floats) } : { kind: 'array', dtype: 'f64', shape, data: Float64Array.from(floats) };
  }
  if (typeof value === 'boolean') return { kind: 'array', dtype: 'i64', shape, data: [value ? 1 : 0] };
  throw new Error(`${where}: a dataset of HDF5 type class ${meta.type} is not one NIR uses`);
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
  let f: InstanceType<typeof h5wasm.File>;
  try {
    f = new h5wasm.File(path, 'r');
  } catch (err) {
    throw new FileIoError(path, 'read the NIR file', err, 'an HDF5 file that cannot be read');
  }
  try {
    const keys = f.keys();
    if (!keys.includes('node')) throw new Error(`${path}: not a NIR file (no /node group; it holds ${keys.join(', ') || 'nothing'})`);
    const node = f.get('node');
    if (!(node instanceof h5wasm.Group)) throw new Error(`${path}: /node is not a group`);
    const v = keys.includes('version') ? f.get('version') : null;
    const version = v instanceof h5wasm.Dataset ? String(v.value) : '';
    const tree = readValue(node, '/node');
    if (!isGroup(tree)) throw new Error(`${path}: /node is not a group`);
    return { version, node: tree };
  } finally {
    f.close();
  }
}
