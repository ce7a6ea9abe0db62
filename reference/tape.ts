// A float64 reverse-mode autodiff tape over scalars: the oracle the hand-derived gradients are checked
// against. Each node records its parents and the local derivative toward each; backward walks the nodes
// in reverse creation order, which is a topological order.
import type { Surrogate } from '../core/surrogates.js';

export interface Node {
  readonly id: number;
  readonly value: number;
}

export class Tape {
  private values: number[] = [];
  private parents: number[][] = [];
  private locals: number[][] = [];

  private push(value: number, parents: Node[] = [], locals: number[] = []): Node {
    const id = this.values.length;
    this.values.push(value);
    this.parents.push(parents.map((p) => p.id));
    this.locals.push(locals);
    return { id, value };
  }

  /** A leaf: an input or a parameter. */
  leaf(value: number): Node {
    return this.push(value);
  }
  /** A constant: no gradient flows into it. */
  constant(value: number): Node {
    return this.push(value);
  }
  add(a: Node, b: Node): Node {
    return this.push(a.value + b.value, [a, b], [1, 1]);
  }
  sub(a: Node, b: Node): Node {
    return this.push(a.value - b.value, [a, b], [1, -1]);
  }
  mul(a: Node, b: Node): Node {
    return this.push(a.value * b.value, [a, b], [b.value, a.value]);
  }
  sigmoid(a: Node): Node {
    const y = 1 / (1 + Math.exp(-a.value));
    return this.push(y, [a], [y * (1 - y)]);
  }
  /** Heaviside forward (Theta(0) = 1), surrogate derivative backward. */
  spike(a: Node, surrogate: Surrogate): Node {
    return this.push(a.value >= 0 ? 1 : 0, [a], [surrogate.grad(a.value)]);
  }
  /** Same value, no gradient. */
  detach(a: Node): Node {
    return this.push(a.value);
  }

  /** d(output)/d(node) for every node, seeded with d(output)/d(output) = 1. */
  gradients(output: Node): Float64Array {
    const g = new Float64Array(this.values.length);
    g[output.id] = 1;
    for (let id = output.id; id >= 0; id--) {
      const gi = g[id]!;
      if (gi === 0) continue;
      const ps = this.parents[id]!;
      const ls = this.locals[id]!;
      for (let k = 0; k < ps.length; k++) g[ps[k]!]! += gi * ls[k]!;
    }
    return g;
  }
}
