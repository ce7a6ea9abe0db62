// One whole training step (forward over T, MSE loss, reverse mode) of a parsed network on the float64
// scalar tape: the oracle for core/network/ (layers, network, static encoder) and every backend. Every
// activation is a list of tape nodes; every gradient comes from Tape.gradients. It reads the parsed layer
// list and the parameters by their checkpoint names, and shares no code with core/network/ or core's
// neuron (the neuron is reference/neuron.ts's equations again, on the same tape).
import type { LayerSpec } from '../core/network/parser.js';
import type { NeuronSpec } from './neuron.js';
import { surrogateDerivative } from './surrogate.js';
import { Tape, type Node } from './tape.js';

export interface WholeStepOptions {
  /** The parsed structure (parseStructure), input [C, H, W], T and static/event input. */
  layers: readonly LayerSpec[];
  input: readonly [number, number, number];
  T: number;
  static: boolean;
  loss: 'rate' | 'per-step';
  /** Replaces every neuron token's kind, and the down-sampling pools' mode, when not null. */
  neuronKind: 'if' | 'lif' | 'plif' | null;
  pool: 'max' | 'avg' | null;
  /** Neuron options (tau is tau0 of PLIF and the fixed tau of LIF). */
  neuron: Omit<NeuronSpec, 'kind'>;
  bnMomentum: number;
  bnEps: number;
  /** Parameters and BN buffers by name ("0.weight", "1.gamma", "1.beta", "2.a", "1.running_mean", ...). */
  params: ReadonlyMap<string, ArrayLike<number>>;
  /** Input [N, C, H, W] (static) or [T, N, C, H, W] (events), row-major, and labels in 0..classes-1. */
  x: ArrayLike<number>;
  labels: Int32Array;
  /** Dropout masks by layer index, [N, ...features], shared by every step (already scaled by 1/(1-p)). */
  masks: ReadonlyMap<number, ArrayLike<number>>;
  /** Max-pool winners by layer index (offset ky*K + kx per output); default the first maximum. */
  winners?: ReadonlyMap<number, ArrayLike<number>>;
}

export interface WholeStepResult {
  loss: number;
  /** dL/dp of every parameter, by name. */
  grads: Map<string, Float64Array>;
  /** The scale of each gradient's rounding (Tape.gradients with magnitudes). */
  gradScales: Map<string, Float64Array>;
  /** The BN running statistics after the step, by name, and the scale of their rounding. */
  buffers: Map<string, Float64Array>;
  bufferScales: Map<string, Float64Array>;
  /** The scale of the loss's rounding (Node.mag). */
  lossScale: number;
  /** The smallest |H - Vth| of any neuron (how far the step is from a spike flipping). */
  margin: number;
  /** The smallest batch variance of any BN channel (how well conditioned its backward is). */
  minVariance: number;
}

/** An activation: nodes of [steps, N, ...shape] row-major; steps is 1 in the static encoder. */
interface Act {
  steps: number;
  shape: number[];
  v: Node[];
}

const prod = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
const out = (size: number, k: number, s: number, p: number) => Math.floor((size + 2 * p - k) / s) + 1;

export function wholeStep(o: WholeStepOptions): WholeStepResult {
  const tape = new Tape();
  const N = o.labels.length;
  const T = o.T;
  const leaves = new Map<string, Node[]>();
  const param = (name: string): Node[] => {
    const p = o.params.get(name);
    if (!p) throw new RangeError(`whole step: no parameter '${name}'`);
    const nodes = Array.from(p, (v) => tape.leaf(v));
    leaves.set(name, nodes);
    return nodes;
  };
  const buffers = new Map<string, Float64Array>();
  const bufferScales = new Map<string, Float64Array>();
  let margin = Infinity;
  let minVariance = Infinity;

  let a: Act = o.static
    ? { steps: 1, shape: [...o.input], v: Array.from(o.x, (v) => tape.constant(v)) }
    : { steps: T, shape: [...o.input], v: Array.from(o.x, (v) => tape.constant(v)) };
  // The static encoder (layers before the first neuron) runs once; its output is fed at every step.
  const firstNeuron = o.layers.findIndex((l) => l.kind === 'neuron');
  const encoderEnd = o.static ? (firstNeuron < 0 ? o.layers.length : firstNeuron) : 0;
  const repeat = (x: Act): Act => ({ steps: T, shape: x.shape, v: Array.from({ length: T }, () => x.v).flat() });

  o.layers.forEach((spec, i) => {
    if (o.static && i === encoderEnd) a = repeat(a);
    const rows = a.steps * N; // every (step, sample)
    const F = prod(a.shape);
    const at = (r: number, f: number) => a.v[r * F + f]!;
    switch (spec.kind) {
      case 'conv': {
        const [C, H, W] = a.shape as [number, number, number];
        const { channels: O, kernel: K, stride: s, padding: p } = spec;
        const w = param(`${i}.weight`); // [O, C, K, K]
        const Ho = out(H, K, s, p);
        const Wo = out(W, K, s, p);
        const y: Node[] = [];
        for (let r = 0; r < rows; r++)
          for (let q = 0; q < O; q++)
            for (let oy = 0; oy < Ho; oy++)
              for (let ox = 0; ox < Wo; ox++) {
                const xs: Node[] = [];
                const ws: Node[] = [];
                for (let c = 0; c < C; c++)
                  for (let ky = 0; ky < K; ky++)
                    for (let kx = 0; kx < K; kx++) {
                      const iy = oy * s - p + ky;
                      const ix = ox * s - p + kx;
                      if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue; // zero padding
                      xs.push(at(r, (c * H + iy) * W + ix));
                      ws.push(w[((q * C + c) * K + ky) * K + kx]!);
                    }
                y.push(tape.dot(xs, ws));
              }
        a = { steps: a.steps, shape: [O, Ho, Wo], v: y };
        break;
      }
      case 'bn': {
        // Training mode: batch statistics over every (step, sample, position) of a channel.
        const C = a.shape[0]!;
        const S = F / C;
        const n = rows * S;
        const gamma = param(`${i}.gamma`);
        const beta = param(`${i}.beta`);
        const runMean = Float64Array.from(o.params.get(`${i}.running_mean`)!);
        const runVar = Float64Array.from(o.params.get(`${i}.running_var`)!);
        const meanScale = runMean.map(Math.abs);
        const varScale = runVar.map(Math.abs);
        const y: Node[] = new Array(a.v.length);
        for (let c = 0; c < C; c++) {
          const idx: number[] = [];
          for (let r = 0; r < rows; r++) for (let j = 0; j < S; j++) idx.push(r * F + c * S + j);
          const mean = tape.scale(tape.sum(idx.map((j) => a.v[j]!)), 1 / n);
          const d = idx.map((j) => tape.sub(a.v[j]!, mean));
          const variance = tape.scale(tape.dot(d, d), 1 / n); // biased, as PyTorch normalises
          const invStd = tape.rsqrt(tape.add(variance, tape.constant(o.bnEps)));
          idx.forEach((j, q) => (y[j] = tape.add(tape.mul(gamma[c]!, tape.mul(d[q]!, invStd)), beta[c]!)));
          minVariance = Math.min(minVariance, variance.value);
          // PyTorch's running update: unbiased variance n/(n-1)
          runMean[c] = (1 - o.bnMomentum) * runMean[c]! + o.bnMomentum * mean.value;
          runVar[c] = (1 - o.bnMomentum) * runVar[c]! + o.bnMomentum * variance.value * (n > 1 ? n / (n - 1) : 1);
          meanScale[c] = (1 - o.bnMomentum) * meanScale[c]! + o.bnMomentum * mean.mag;
          varScale[c] = (1 - o.bnMomentum) * varScale[c]! + o.bnMomentum * variance.mag * (n > 1 ? n / (n - 1) : 1);
        }
        buffers.set(`${i}.running_mean`, runMean);
        buffers.set(`${i}.running_var`, runVar);
        bufferScales.set(`${i}.running_mean`, meanScale);
        bufferScales.set(`${i}.running_var`, varScale);
        a = { ...a, v: y };
        break;
      }
      case 'neuron': {
        // Eqs. 2-6 per neuron over t; V_{-1} = Vr (hard reset) or 0 (soft).
        const cfg = o.neuron;
        const kind = o.neuronKind ?? spec.neuron;
        const vr = tape.constant(cfg.vReset ?? 0);
        const vth = tape.constant(cfg.vThreshold);
        const one = tape.constant(1);
        const k = kind === 'plif' ? tape.sigmoid(param(`${i}.a`)[0]!) : tape.constant(1 / cfg.tau); // Eq. 6: k = sigmoid(a)
        const dSdH = surrogateDerivative(cfg.surrogate);
        const y: Node[] = new Array(a.v.length);
        for (let j = 0; j < N * F; j++) {
          let v = vr;
          for (let t = 0; t < T; t++) {
            const x = a.v[t * N * F + j]!;
            let h: Node;
            if (kind === 'if') h = tape.add(v, x);
            else if (cfg.decayInput) h = tape.add(v, tape.mul(k, tape.sub(x, tape.sub(v, vr)))); // Eq. 6
            else h = tape.add(tape.sub(v, tape.mul(k, tape.sub(v, vr))), x);
            margin = Math.min(margin, Math.abs(h.value - cfg.vThreshold));
            const s = tape.spike(tape.sub(h, vth), dSdH); // Eq. 3
            const sr = cfg.detachReset ? tape.detach(s) : s;
            v = cfg.vReset !== null ? tape.add(tape.mul(h, tape.sub(one, sr)), tape.mul(vr, sr)) : tape.sub(h, tape.mul(sr, vth)); // Eq. 4
            y[t * N * F + j] = s;
          }
        }
        a = { ...a, v: y };
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        if (a.shape.length === 1) {
          // voting: the mean of M consecutive neurons
          const M = spec.kernel;
          const Cv = F / M;
          const y: Node[] = [];
          for (let r = 0; r < rows; r++) for (let c = 0; c < Cv; c++) y.push(tape.scale(tape.sum(a.v.slice(r * F + c * M, r * F + c * M + M)), 1 / M));
          a = { steps: a.steps, shape: [Cv], v: y };
          break;
        }
        const [C, H, W] = a.shape as [number, number, number];
        const { kernel: K, stride: s } = spec;
        const Ho = out(H, K, s, 0);
        const Wo = out(W, K, s, 0);
        const mode = o.pool ?? (spec.kind === 'maxpool' ? 'max' : 'avg');
        const saved = o.winners?.get(i);
        const y: Node[] = [];
        for (let r = 0; r < rows; r++)
          for (let c = 0; c < C; c++)
            for (let oy = 0; oy < Ho; oy++)
              for (let ox = 0; ox < Wo; ox++) {
                const win: Node[] = [];
                for (let ky = 0; ky < K; ky++) for (let kx = 0; kx < K; kx++) win.push(at(r, (c * H + oy * s + ky) * W + ox * s + kx));
                if (mode === 'avg') {
                  y.push(tape.scale(tape.sum(win), 1 / (K * K)));
                  continue;
                }
                let best = 0; // Sec. 3.6: the gradient goes to the winner; ties -> the first index
                for (let q = 1; q < win.length; q++) if (win[q]!.value > win[best]!.value) best = q;
                if (saved) {
                  const w = saved[y.length]!;
                  if (win[w]?.value !== win[best]!.value) throw new RangeError(`layer ${i}: saved winner ${w} of output ${y.length} is not a maximum`);
                  best = w;
                }
                y.push(win[best]!);
              }
        a = { steps: a.steps, shape: [C, Ho, Wo], v: y };
        break;
      }
      case 'dropout': {
        if (spec.p === 0) break;
        const m = o.masks.get(i);
        if (!m || m.length !== N * F) throw new RangeError(`whole step: layer ${i} needs a dropout mask of ${N * F} values`);
        a = { ...a, v: a.v.map((x, j) => tape.scale(x, m[j % (N * F)]!)) }; // one mask per sample, every step
        break;
      }
      case 'fc': {
        const w = param(`${i}.weight`); // [O, F]
        const O = spec.features;
        const y: Node[] = [];
        for (let r = 0; r < rows; r++) {
          const xs = a.v.slice(r * F, r * F + F);
          for (let q = 0; q < O; q++) y.push(tape.dot(xs, w.slice(q * F, q * F + F)));
        }
        a = { steps: a.steps, shape: [O], v: y };
        break;
      }
    }
  });
  if (o.static && encoderEnd === o.layers.length) a = repeat(a);

  // Sec. 3.7: MSE against one-hot labels, on the firing rate ('rate') or at every step ('per-step').
  const C = prod(a.shape);
  const terms: Node[] = [];
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) {
      const y = tape.constant(o.labels[n] === c ? 1 : 0);
      const os = Array.from({ length: T }, (_, t) => a.v[(t * N + n) * C + c]!);
      if (o.loss === 'rate') {
        const d = tape.sub(tape.scale(tape.sum(os), 1 / T), y);
        terms.push(tape.scale(tape.mul(d, d), 1 / (N * C)));
      } else
        for (const ot of os) {
          const d = tape.sub(ot, y);
          terms.push(tape.scale(tape.mul(d, d), 1 / (T * N * C)));
        }
    }
  const loss = tape.sum(terms);
  const g = tape.gradients(loss);
  const gAbs = tape.gradients(loss, true);
  const grads = new Map<string, Float64Array>();
  const gradScales = new Map<string, Float64Array>();
  for (const [name, nodes] of leaves) {
    grads.set(name, Float64Array.from(nodes, (nd) => g[nd.id]!));
    gradScales.set(name, Float64Array.from(nodes, (nd) => gAbs[nd.id]!));
  }
  return { loss: loss.value, lossScale: loss.mag, grads, gradScales, buffers, bufferScales, margin, minVariance };
}
