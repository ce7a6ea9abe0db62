// The NIR file as a tree, independent of HDF5: groups of named values, each a string, a numeric array
// (with its HDF5 element type) or a nested group. The reference `nir` package writes a graph as
//   /version            string dataset ("1.0.x")
//   /node/type          "NIRGraph"
//   /node/nodes/<name>/ one group per node: "type" and the node's parameters as datasets
//   /node/edges         [E, 2] strings (source, target)
//   /node/metadata/     optional group (written only when not empty)
// Pure: no I/O here (hdf5.ts reads and writes files).

export type NirDtype = 'f32' | 'f64' | 'i64';

export interface NirArray {
  kind: 'array';
  dtype: NirDtype;
  /** [] for a scalar dataset. */
  shape: number[];
  /** f32/f64 values as numbers; i64 as numbers too (exact below 2^53). */
  data: Float32Array | Float64Array | number[];
}

export interface NirStrings {
  kind: 'strings';
  shape: number[];
  data: string[];
}

export type NirValue = string | NirArray | NirStrings | NirGroup;
export interface NirGroup {
  [key: string]: NirValue;
}

export interface NirFile {
  version: string;
  node: NirGroup;
}

export const f32 = (data: ArrayLike<number>, shape: number[]): NirArray => ({ kind: 'array', dtype: 'f32', shape, data: Float32Array.from(data) });
export const f64 = (data: ArrayLike<number>, shape: number[]): NirArray => ({ kind: 'array', dtype: 'f64', shape, data: Float64Array.from(data) });
export const i64 = (data: readonly number[], shape: number[] = [data.length]): NirArray => ({ kind: 'array', dtype: 'i64', shape, data: [...data] });
export const i64Scalar = (v: number): NirArray => ({ kind: 'array', dtype: 'i64', shape: [], data: [v] });

export function isGroup(v: NirValue | undefined): v is NirGroup {
  return typeof v === 'object' && v !== null && !('kind' in v && (v.kind === 'array' || v.kind === 'strings') && 'data' in v);
}

export function isArray(v: NirValue | undefined): v is NirArray {
  return typeof v === 'object' && v !== null && (v as NirArray).kind === 'array' && 'data' in v;
}
