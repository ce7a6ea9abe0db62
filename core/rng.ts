// Seeded, splittable PRNG with serialisable state: sfc32 (Chris Doty-Humphrey's Small Fast Counting
// generator, 128-bit state), seeded through splitmix32. No global state: pass an Rng explicitly.

export type RngState = readonly [number, number, number, number];

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  /** The four words a, b, c, d of sfc32's state, in a typed array (stored unboxed; plain fields holding values
   * beyond 2^30 would each be a heap number). */
  private readonly w = new Int32Array(4);

  private constructor(state: RngState) {
    for (let i = 0; i < 4; i++) this.w[i] = state[i]! | 0;
  }

  static seeded(seed: number): Rng {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    const sm = splitmix32(Math.floor(seed) ^ Math.floor(seed / 2 ** 32));
    const r = new Rng([sm(), sm(), sm(), sm()]);
    for (let i = 0; i < 12; i++) r.nextUint32();
    return r;
  }

  static fromState(state: readonly number[]): Rng {
    if (state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      throw new RangeError(`RNG state must be 4 uint32 values, got ${JSON.stringify(state)}`);
    }
    return new Rng(state as unknown as RngState);
  }

  state(): RngState {
    const w = this.w;
    return [w[0]! >>> 0, w[1]! >>> 0, w[2]! >>> 0, w[3]! >>> 0];
  }

  nextUint32(): number {
    const w = this.w;
    const a = w[0]!;
    const b = w[1]!;
    const c = w[2]!;
    const d = w[3]!;
    const t = (((a + b) | 0) + d) | 0;
    w[3] = d + 1;
    w[0] = b ^ (b >>> 9);
    w[1] = c + (c << 3);
    w[2] = ((c << 21) | (c >>> 11)) + t;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  range(lo: number, hi: number): number {
    return lo + (hi - lo) * this.uniform();
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n): n must be a positive integer, got ${n}`);
    return Math.floor(this.uniform() * n);
  }

  /** An independent generator derived from this one (advances this one by 4 draws). */
  split(): Rng {
    const sm = splitmix32(this.nextUint32() ^ Math.imul(this.nextUint32(), 0x27d4eb2d));
    const r = new Rng([sm() ^ this.nextUint32(), sm(), sm() ^ this.nextUint32(), sm()]);
    for (let i = 0; i < 12; i++) r.nextUint32();
    return r;
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T>(arr: T[] | Int32Array | Uint32Array): void {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = arr[i]!;
      arr[i] = arr[j]!;
      arr[j] = tmp;
    }
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }
}
