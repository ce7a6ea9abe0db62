// The fast CPU backend: Float32Array storage (pooled, see store.ts), im2col + sparse-input gather
// conv/linear, the fused multi-step neuron of core (neuronForwardInto/neuronBackwardInto), no
// allocation inside per-element loops. Single-threaded and deterministic: a seeded run is bitwise
// reproducible.
import {
  assertShape,
  lead,
  outSize,
  type AdamParams,
  type Backend,
  type BatchNormParams,
  type BatchNormSaved,
  type Conv2dParams,
  type LossForm,
  type NeuronTraceT,
  type Pool2dParams,
  type Tensor,
} from '../../core/backend.js';
import { neuronBackwardInto, neuronForwardInto, type NeuronConfig } from '../../core/neuron.js';
import { conv2dBackwardInto, conv2dForwardInto, type ConvDims } from './conv.js';
import { linearBackwardInto, linearForwardInto } from './linear.js';
import { CpuStore, Scratch } from './store.js';


export interface CpuBackendOptions {
  /** Kernel threads (1 = none); results are bitwise identical for any count. */
  threads?: number;
}

export function cpuBackend(_opts: CpuBackendOptions = {}): Backend {
  const self = {} as Backend;
  const st = new CpuStore(self);
  const get = (t: Tensor) => st.get(t);
  const make = (shape: readonly number[], zero = false) => st.make(shape, zero);
  const s1 = new Scratch();
  const s2 = new Scratch();
  const s3 = new Scratch();
  const s4 = new Scratch();
  let gH = new Float64Array(0);

  const convDims = (x: Tensor, w: Tensor, p: Conv2dParams): ConvDims => {
    const s = x.shape;
    const [O, Cw, K, K2] = w.shape as [number, number, number, number];
    const C = s[s.length - 3]!;
    const H = s[s.length - 2]!;
    const W = s[s.length - 1]!;
    if (Cw !== C || K !== K2) throw new RangeError(`conv2d: input [${s.join(', ')}] does not fit weight [${w.shape.join(', ')}]`);
    return { B: lead(s, 3), C, H, W, O, K, stride: p.stride, pad: p.padding, Ho: outSize(H, K, p.stride, p.padding), Wo: outSize(W, K, p.stride, p.padding) };
  };
  const bnDims = (x: Tensor, p: BatchNormParams) => {
    const r = x.shape.length - p.spatialDims;
    return { B: lead(x.shape, p.spatialDims + 1), C: x.shape[r - 1]!, S: lead(x.shape.slice(r), 0) };
  };
  const poolDims = (xShape: readonly number[], p: Pool2dParams) => {
    const H = xShape[xShape.length - 2]!;
    const W = xShape[xShape.length - 1]!;
    return { BC: lead(xShape, 2), H, W, Ho: outSize(H, p.kernel, p.stride, 0), Wo: outSize(W, p.kernel, p.stride, 0) };
  };

  const impl: Backend = {
    name: 'cpu',
    precision: 'float32',
    upload(data, shape) {
      const t = make(shape);
      const d = get(t);
      if (data.length !== d.length) throw new RangeError(`upload: ${data.length} values for shape [${shape.join(', ')}]`);
      d.set(data as ArrayLike<number>);
      return t;
    },
    zeros: (shape) => make(shape, true),
    download: (t) => get(t).slice(),
    dispose: (t) => st.dispose(t),
    liveTensors: () => st.liveCount(),
    reshape: (t, shape) => st.view(t, shape),

    conv2d(x, w, p) {
      const d = convDims(x, w, p);
      const y = make([...x.shape.slice(0, -3), d.O, d.Ho, d.Wo]);
      conv2dForwardInto(get(x), get(w), d, get(y), s1, s2);
      return y;
    },
    conv2dBackward(x, w, gy, p, need) {
      const d = convDims(x, w, p);
      const gw = make(w.shape);
      const gx = need ? make(x.shape) : null;
      conv2dBackwardInto(get(x), get(w), get(gy), d, get(gw), gx ? get(gx) : null, s1, s2, s3, s4);
      return { gx, gw };
    },
    linear(x, w) {
      const [O, I] = w.shape as [number, number];
      if (x.shape.at(-1) !== I) throw new RangeError(`linear: input features ${x.shape.at(-1)}, weight expects ${I}`);
      const y = make([...x.shape.slice(0, -1), O]);
      linearForwardInto(get(x), lead(x.shape, 1), I, get(w), O, get(y), s1);
      return y;
    },
    linearBackward(x, w, gy, need) {
      const [O, I] = w.shape as [number, number];
      const gw = make(w.shape);
      const gx = need ? make(x.shape) : null;
      linearBackwardInto(get(x), lead(x.shape, 1), I, get(w), O, get(gy), get(gw), gx ? get(gx) : null, s1);
      return { gx, gw };
    },

    batchNorm(x, gamma, beta, runningMean, runningVar, p) {
      const { B, C, S } = bnDims(x, p);
      assertShape('batchNorm gamma', gamma.shape, [C]);
      const xd = get(x);
      const g = get(gamma);
      const be = get(beta);
      const rm = get(runningMean);
      const rv = get(runningVar);
      const y = make(x.shape);
      const yd = get(y);
      const mean = make([C]);
      const inv = make([C]);
      const md = get(mean);
      const id = get(inv);
      const n = B * S;
      for (let c = 0; c < C; c++) {
        let m: number;
        let is: number;
        if (p.training) {
          let s = 0;
          for (let b = 0; b < B; b++) {
            const o = (b * C + c) * S;
            for (let i = 0; i < S; i++) s += xd[o + i]!;
          }
          m = s / n;
          let q = 0;
          for (let b = 0; b < B; b++) {
            const o = (b * C + c) * S;
            for (let i = 0; i < S; i++) {
              const dv = xd[o + i]! - m;
              q += dv * dv;
            }
          }
          const v = q / n;
          is = 1 / Math.sqrt(v + p.eps);
          rm[c] = (1 - p.momentum) * rm[c]! + p.momentum * m;
          rv[c] = (1 - p.momentum) * rv[c]! + p.momentum * v * (n > 1 ? n / (n - 1) : 1);
        } else {
          m = rm[c]!;
          is = 1 / Math.sqrt(rv[c]! + p.eps);
        }
        md[c] = m;
        id[c] = is;
        const sc = g[c]! * is;
        const sh = be[c]! - m * sc;
        for (let b = 0; b < B; b++) {
          const o = (b * C + c) * S;
          for (let i = 0; i < S; i++) yd[o + i] = xd[o + i]! * sc + sh;
        }
      }
      return { y, saved: { mean, invStd: inv } };
    },
    batchNormBackward(x, gamma, saved: BatchNormSaved, gy, p) {
      const { B, C, S } = bnDims(x, p);
      const xd = get(x);
      const g = get(gamma);
      get(saved.mean); // checked, not used: see below
      const gyd = get(gy);
      const gx = make(x.shape);
      const gg = make([C]);
      const gb = make([C]);
      const gxd = get(gx);
      const ggd = get(gg);
      const gbd = get(gb);
      const n = B * S;
      for (let c = 0; c < C; c++) {
        // The statistics are recomputed in double: with a batch variance near eps the three terms of
        // gx nearly cancel and a float32-rounded mean would be amplified (the saved tensors are float32).
        let m = 0;
        for (let b = 0; b < B; b++) {
          const o = (b * C + c) * S;
          for (let i = 0; i < S; i++) m += xd[o + i]!;
        }
        m /= n;
        let q = 0;
        for (let b = 0; b < B; b++) {
          const o = (b * C + c) * S;
          for (let i = 0; i < S; i++) q += (xd[o + i]! - m) * (xd[o + i]! - m);
        }
        const is = 1 / Math.sqrt(q / n + p.eps);
        let sg = 0;
        let sgx = 0;
        for (let b = 0; b < B; b++) {
          const o = (b * C + c) * S;
          for (let i = 0; i < S; i++) {
            const gv = gyd[o + i]!;
            sg += gv;
            sgx += gv * (xd[o + i]! - m);
          }
        }
        sgx *= is;
        gbd[c] = sg;
        ggd[c] = sgx;
        const k = (g[c]! * is) / n;
        for (let b = 0; b < B; b++) {
          const o = (b * C + c) * S;
          for (let i = 0; i < S; i++) gxd[o + i] = k * (n * gyd[o + i]! - sg - (xd[o + i]! - m) * is * sgx);
        }
      }
      return { gx, gGamma: gg, gBeta: gb };
    },

    maxPool2d(x, p) {
      const { BC, H, W, Ho, Wo } = poolDims(x.shape, p);
      const K = p.kernel;
      const s = p.stride;
      const shape = [...x.shape.slice(0, -2), Ho, Wo];
      const y = make(shape);
      const am = make(shape);
      const xd = get(x);
      const yd = get(y);
      const ad = get(am);
      let q = 0;
      for (let bc = 0; bc < BC; bc++) {
        const base = bc * H * W;
        for (let oy = 0; oy < Ho; oy++)
          for (let ox = 0; ox < Wo; ox++, q++) {
            let best = -Infinity;
            let arg = 0;
            for (let ky = 0; ky < K; ky++) {
              const r = base + (oy * s + ky) * W + ox * s;
              for (let kx = 0; kx < K; kx++) {
                const v = xd[r + kx]!;
                if (v > best) {
                  best = v;
                  arg = ky * K + kx;
                }
              }
            }
            yd[q] = best;
            ad[q] = arg;
          }
      }
      return { y, argmax: am };
    },
    maxPool2dBackward(gy, argmax, xShape, p) {
      const { BC, H, W, Ho, Wo } = poolDims(xShape, p);
      const K = p.kernel;
      const s = p.stride;
      const gx = make(xShape, true);
      const gxd = get(gx);
      const gyd = get(gy);
      const ad = get(argmax);
      let q = 0;
      for (let bc = 0; bc < BC; bc++) {
        const base = bc * H * W;
        for (let oy = 0; oy < Ho; oy++)
          for (let ox = 0; ox < Wo; ox++, q++) {
            const a = ad[q]!;
            const ky = (a / K) | 0;
            gxd[base + (oy * s + ky) * W + ox * s + (a - ky * K)] += gyd[q]!;
          }
      }
      return gx;
    },
    avgPool2d(x, p) {
      const { BC, H, W, Ho, Wo } = poolDims(x.shape, p);
      const K = p.kernel;
      const s = p.stride;
      const y = make([...x.shape.slice(0, -2), Ho, Wo]);
      const xd = get(x);
      const yd = get(y);
      const inv = 1 / (K * K);
      let q = 0;
      for (let bc = 0; bc < BC; bc++) {
        const base = bc * H * W;
        for (let oy = 0; oy < Ho; oy++)
          for (let ox = 0; ox < Wo; ox++, q++) {
            let sum = 0;
            for (let ky = 0; ky < K; ky++) {
              const r = base + (oy * s + ky) * W + ox * s;
              for (let kx = 0; kx < K; kx++) sum += xd[r + kx]!;
            }
            yd[q] = sum * inv;
          }
      }
      return y;
    },
    avgPool2dBackward(gy, xShape, p) {
      const { BC, H, W, Ho, Wo } = poolDims(xShape, p);
      const K = p.kernel;
      const s = p.stride;
      const gx = make(xShape, true);
      const gxd = get(gx);
      const gyd = get(gy);
      const inv = 1 / (K * K);
      let q = 0;
      for (let bc = 0; bc < BC; bc++) {
        const base = bc * H * W;
        for (let oy = 0; oy < Ho; oy++)
          for (let ox = 0; ox < Wo; ox++, q++) {
            const g = gyd[q]! * inv;
            for (let ky = 0; ky < K; ky++) {
              const r = base + (oy * s + ky) * W + ox * s;
              for (let kx = 0; kx < K; kx++) gxd[r + kx] += g;
            }
          }
      }
      return gx;
    },

    dropout(x, mask) {
      assertShape('dropout mask', mask.shape, x.shape.slice(1));
      const y = make(x.shape);
      const xd = get(x);
      const md = get(mask);
      const yd = get(y);
      const n = md.length;
      for (let o = 0; o < xd.length; o += n) for (let j = 0; j < n; j++) yd[o + j] = xd[o + j]! * md[j]!;
      return y;
    },

    neuron(cfg: NeuronConfig, x, a): NeuronTraceT {
      const tr = { s: make(x.shape), h: make(x.shape), v: make(x.shape) };
      neuronForwardInto(cfg, get(x), x.shape[0]!, a ? get(a)[0] : undefined, { s: get(tr.s), h: get(tr.h), v: get(tr.v) }); // Eqs. 2-6
      return tr;
    },
    neuronBackward(cfg, x, trace, gs, a) {
      const gx = make(x.shape);
      const n = x.size / x.shape[0]!;
      if (gH.length < n) gH = new Float64Array(n);
      const { gradA } = neuronBackwardInto(cfg, get(x), x.shape[0]!, { s: get(trace.s), h: get(trace.h), v: get(trace.v) }, get(gs), a ? get(a)[0] : undefined, get(gx), { scratch: gH }); // Eqs. 8-16
      let ga: Tensor | null = null;
      if (a && cfg.kind === 'plif') {
        ga = make([1]);
        get(ga)[0] = gradA;
      }
      return { gx, ga };
    },

    vote(x, m) {
      const F = x.shape.at(-1)!;
      if (F % m !== 0) throw new RangeError(`vote: ${F} features are not a multiple of M = ${m}`);
      const y = make([...x.shape.slice(0, -1), F / m]);
      const xd = get(x);
      const yd = get(y);
      for (let j = 0; j < yd.length; j++) {
        let s = 0;
        for (let k = 0; k < m; k++) s += xd[j * m + k]!;
        yd[j] = s / m;
      }
      return y;
    },
    voteBackward(gy, m) {
      const C = gy.shape.at(-1)!;
      const gx = make([...gy.shape.slice(0, -1), C * m]);
      const gyd = get(gy);
      const gxd = get(gx);
      for (let j = 0; j < gyd.length; j++) {
        const g = gyd[j]! / m;
        for (let k = 0; k < m; k++) gxd[j * m + k] = g;
      }
      return gx;
    },

    mseLoss(out, labels, form: LossForm) {
      const [T, N, C] = out.shape as [number, number, number];
      if (labels.length !== N) throw new RangeError(`mseLoss: ${labels.length} labels for a batch of ${N}`);
      const od = get(out);
      const grad = make(out.shape);
      const gd = get(grad);
      let loss = 0;
      for (let n = 0; n < N; n++)
        for (let c = 0; c < C; c++) {
          const y = labels[n] === c ? 1 : 0;
          if (form === 'rate') {
            let r = 0;
            for (let t = 0; t < T; t++) r += od[(t * N + n) * C + c]!;
            r /= T;
            loss += (r - y) * (r - y);
            const g = (2 * (r - y)) / (N * C * T);
            for (let t = 0; t < T; t++) gd[(t * N + n) * C + c] = g;
          } else {
            for (let t = 0; t < T; t++) {
              const dd = od[(t * N + n) * C + c]! - y;
              loss += (dd * dd) / T;
              gd[(t * N + n) * C + c] = (2 * dd) / (T * N * C);
            }
          }
        }
      return { loss: loss / (N * C), grad };
    },

    adam(param, grad, m, v, p: AdamParams) {
      const pd = get(param);
      const gd = get(grad);
      const md = get(m);
      const vd = get(v);
      const stepSize = p.lr / (1 - p.beta1 ** p.step);
      const sqrtBc2 = Math.sqrt(1 - p.beta2 ** p.step);
      const b1 = p.beta1;
      const b2 = p.beta2;
      for (let i = 0; i < pd.length; i++) {
        const g = gd[i]!;
        const mi = b1 * md[i]! + (1 - b1) * g;
        const vi = b2 * vd[i]! + (1 - b2) * g * g;
        md[i] = mi;
        vd[i] = vi;
        pd[i] = pd[i]! - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + p.eps);
      }
    },

    repeatT(x, T) {
      const y = make([T, ...x.shape]);
      const xd = get(x);
      const yd = get(y);
      for (let t = 0; t < T; t++) yd.set(xd, t * xd.length);
      return y;
    },
    sumT(x) {
      const T = x.shape[0]!;
      const y = make(x.shape.slice(1), true);
      const xd = get(x);
      const yd = get(y);
      const n = yd.length;
      for (let t = 0; t < T; t++) for (let j = 0; j < n; j++) yd[j] += xd[t * n + j]!;
      return y;
    },
    add(a, b) {
      assertShape('add', b.shape, a.shape);
      const y = make(a.shape);
      const ad = get(a);
      const bd = get(b);
      const yd = get(y);
      for (let i = 0; i < yd.length; i++) yd[i] = ad[i]! + bd[i]!;
      return y;
    },
    meanT(x) {
      const T = x.shape[0]!;
      const y = self.sumT(x);
      const yd = get(y);
      for (let j = 0; j < yd.length; j++) yd[j] = yd[j]! / T;
      return y;
    },
  };
  return Object.assign(self, impl);
}
