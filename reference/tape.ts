// A float64 reverse-mode autodiff tape over scalars: the oracle the hand-derived gradients are checked
// against. Each node records its parents and the local derivative toward each; backward walks the nodes
// in reverse creation order, which is a topological order.
//
// Each node also carries a magnitude: the same expression evaluated on absolute values (|a| + |b| for
// a - b, |a||b| for ab). `gradients(out, true)` propagates magnitudes through the magnitude locals. Both
// bound how far a computation in another order or precision can drift from the value: rounding error is
// at most a small multiple of the unit roundoff times the magnitude (the running error bound).

export interface Node {
  readonly id: number;
  readonly value: number;
  /** The value computed on absolute values: the scale of its rounding error. */
  readonly mag: number;
}

export class Tape {
  private values: number[] = [];
  private parents: number[][] = [];
  private locals: number[][] = [];
  private magLocals: number[][] = [];

  private push(value: number, mag: number, parents: readonly Node[] = [], locals: number[] = [], magLocals = locals.map(Math.abs)): Node {
    const id = this.values.length;
    this.values.push(value);
    this.parents.push(parents.map((p) => p.id));
    this.locals.push(locals);
    this.magLocals.push(magLocals);
    return { id, value, mag };
  }

  /** A leaf: an input or a parameter. */
  leaf(value: number): Node {
    return this.push(value, Math.abs(value));
  }
  /** A constant: no gradient flows into it. */
  constant(value: number): Node {
    return this.push(value, Math.abs(value));
  }
  add(a: Node, b: Node): Node {
    return this.push(a.value + b.value, a.mag + b.mag, [a, b], [1, 1]);
  }
  sub(a: Node, b: Node): Node {
    return this.push(a.value - b.value, a.mag + b.mag, [a, b], [1, -1]);
  }
  mul(a: Node, b: Node): Node {
    return this.push(a.value * b.value, a.mag * b.mag, [a, b], [b.value, a.value], [b.mag, a.mag]);
  }
  /** c a for a constant c. */
  scale(a: Node, c: number): Node {
    return this.push(c * a.value, Math.abs(c) * a.mag, [a], [c]);
  }
  /** a_0 + a_1 + ... */
  sum(as: readonly Node[]): Node {
    let y = 0;
    let m = 0;
    for (const a of as) {
      y += a.value;
      m += a.mag;
    }
    return this.push(y, m, as, as.map(() => 1));
  }
  /** sum_i a_i b_i */
  dot(as: readonly Node[], bs: readonly Node[]): Node {
    let y = 0;
    let m = 0;
    for (let i = 0; i < as.length; i++) {
      y += as[i]!.value * bs[i]!.value;
      m += as[i]!.mag * bs[i]!.mag;
    }
    const val = (ns: readonly Node[]) => ns.map((n) => n.value);
    const mag = (ns: readonly Node[]) => ns.map((n) => n.mag);
    return this.push(y, m, [...as, ...bs], [...val(bs), ...val(as)], [...mag(bs), ...mag(as)]);
  }
  /** 1 / sqrt(a) */
  rsqrt(a: Node): Node {
    const y = 1 / Math.sqrt(a.value);
    return this.push(y, y, [a], [-0.5 * y * y * y]);
  }
  sigmoid(a: Node): Node {
    const y = 1 / (1 + Math.exp(-a.value));
    return this.push(y, y, [a], [y * (1 - y)]);
  }
  /** Heaviside forward (Theta(0) = 1, Eq. 3), the surrogate derivative sigma' backward (Eq. 13). */
  spike(a: Node, derivative: (x: number) => number): Node {
    const s = a.value >= 0 ? 1 : 0;
    return this.push(s, s, [a], [derivative(a.value)]);
  }
  /** Same value, no gradient. */
  detach(a: Node): Node {
    return this.push(a.value, a.mag);
  }

  /**
   * d(output)/d(node) for every node, seeded with d(output)/d(output) = 1. With `magnitude`, the same
   * sum over paths of products of the magnitude locals: the scale of the terms the gradient adds up.
   */
  gradients(output: Node, magnitude = false): Float64Array {
    const g = new Float64Array(this.values.length);
    const locals = magnitude ? this.magLocals : this.locals;
    g[output.id] = 1;
    for (let id = output.id; id >= 0; id--) {
      const gi = g[id]!;
      if (gi === 0) continue;
      const ps = this.parents[id]!;
      const ls = locals[id]!;
      for (let k = 0; k < ps.length; k++) g[ps[k]!]! += gi * ls[k]!;
    }
    return g;
  }
}
