// The neuron layer unrolled over time on the autodiff tape: the oracle for core/neuron.ts and the neuron
// op of the reference backend. Every line is one of Eqs. 2-6 written with tape nodes; the gradients come
// from the tape alone. Nothing here comes from core/neuron.ts or core/scalar.ts.
import { surrogateDerivative, type SurrogateSpec } from './surrogate.js';
import { Tape, type Node } from './tape.js';

/** What the reference reads of a neuron configuration (core's NeuronConfig has these fields). */
export interface NeuronSpec {
  kind: 'if' | 'lif' | 'plif';
  tau: number;
  vThreshold: number;
  vReset: number | null;
  decayInput: boolean;
  detachReset: boolean;
  surrogate: SurrogateSpec;
}

export interface TapeNeuronResult {
  s: Float64Array;
  h: Float64Array;
  v: Float64Array;
  /** sum(gradS * S) + sum(gradV * V): a linear loss whose gradients are the vjp. */
  loss: number;
  gradX: Float64Array;
  gradA: number;
  gradV0: Float64Array;
}

export function tapeNeuron(
  cfg: NeuronSpec,
  x: ArrayLike<number>,
  T: number,
  a: number,
  gradS: ArrayLike<number>,
  gradV?: ArrayLike<number>,
  v0?: ArrayLike<number>,
): TapeNeuronResult {
  const n = x.length / T;
  const tape = new Tape();
  const dSdH = surrogateDerivative(cfg.surrogate);
  const vr = tape.constant(cfg.vReset ?? 0);
  const vth = tape.constant(cfg.vThreshold);
  const one = tape.constant(1);
  const aNode = tape.leaf(a);
  const k = cfg.kind === 'plif' ? tape.sigmoid(aNode) : tape.constant(1 / cfg.tau);
  const xs: Node[] = Array.from(x, (xi) => tape.leaf(xi));
  const v0s: Node[] = Array.from({ length: n }, (_, i) => tape.leaf(v0 ? v0[i]! : (cfg.vReset ?? 0)));
  const S = new Float64Array(x.length);
  const H = new Float64Array(x.length);
  const V = new Float64Array(x.length);
  let loss = tape.constant(0);
  for (let i = 0; i < n; i++) {
    let v = v0s[i]!;
    for (let t = 0; t < T; t++) {
      const j = t * n + i;
      const xt = xs[j]!;
      let h: Node;
      if (cfg.kind === 'if') h = tape.add(v, xt); // H = V + X
      else if (cfg.decayInput) h = tape.add(v, tape.mul(k, tape.sub(xt, tape.sub(v, vr)))); // Eq. 6
      else h = tape.add(tape.sub(v, tape.mul(k, tape.sub(v, vr))), xt); // H = V - k(V - Vr) + X
      const s = tape.spike(tape.sub(h, vth), dSdH); // Eq. 3
      const sr = cfg.detachReset ? tape.detach(s) : s;
      if (cfg.vReset !== null) v = tape.add(tape.mul(h, tape.sub(one, sr)), tape.mul(vr, sr)); // Eq. 4
      else v = tape.sub(h, tape.mul(sr, vth)); // soft reset
      S[j] = s.value;
      H[j] = h.value;
      V[j] = v.value;
      loss = tape.add(loss, tape.mul(tape.constant(gradS[j]!), s));
      if (gradV) loss = tape.add(loss, tape.mul(tape.constant(gradV[j]!), v));
    }
  }
  const g = tape.gradients(loss);
  return {
    s: S,
    h: H,
    v: V,
    loss: loss.value,
    gradX: Float64Array.from(xs, (node) => g[node.id]!),
    gradA: cfg.kind === 'plif' ? g[aNode.id]! : 0,
    gradV0: Float64Array.from(v0s, (node) => g[node.id]!),
  };
}
