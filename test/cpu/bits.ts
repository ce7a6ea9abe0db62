/** The float32 bit patterns of the values (NaN payloads and -0 kept apart): for bit-for-bit comparisons. */
export const bits = (a: ArrayLike<number>): number[] => Array.from(new Uint32Array(Float32Array.from(a).buffer));
