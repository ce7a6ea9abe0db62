/** Flat row-major storage; every op accepts both precisions and answers in the type it was given. */
export type FloatArray = Float32Array | Float64Array;

/** A new zero-filled array of the same precision as `like`. */
export function zerosLike<A extends FloatArray>(like: A, length: number = like.length): A {
  return (like instanceof Float32Array ? new Float32Array(length) : new Float64Array(length)) as A;
}
