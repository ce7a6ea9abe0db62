// The float64 reference as a Backend: every op is the loop of reference/ops.ts, the neuron is the
// unrolled autodiff tape of reference/neuron.ts (no code of core/neuron.ts or core/scalar.ts). Slow and
// obviously correct; core's layers and network run on it unchanged, so it is the oracle of every op in
// the conformance suite (the layers and network themselves are checked by reference/whole-step.ts).
import {
  Handles,
  assertShape,
  batchNormBackwardDims,
  batchNormDims,
  checkAdam,
  checkNeuronBackward,
  convBackwardDims,
  convDims,
  convOutShape,
  lead,
  linearBackwardDims,
  linearDims,
  lossDims,
  neuronDims,
  poolBackwardDims,
  poolDims,
  voteClasses,
  type AdamParams,
  type Backend,
  type BatchNormParams,
  type BatchNormSaved,
  type Conv2dParams,
  type LossForm,
  type NeuronTraceT,
  type Pool2dParams,
  type Tensor,
  sizeOf,
  uploadSize,
} from '../core/backend.js';
import { tapeNeuron } from './neuron.js';
import * as ops from './ops.js';

/** a for LIF/IF is unused; PLIF always passes its a. */
const aOf = (a: Float64Array | null, tau: number) => (a ? a[0]! : -Math.log(tau - 1));


export function referenceBackend(): Backend {
  const self = {} as Backend;
  const handles = new Handles<Float64Array>(self);
  const get = (t: Tensor) => handles.check(t).storage.value;
  const wrap = (d: Float64Array, shape: readonly number[]) => {
    if (sizeOf(shape) !== d.length) throw new RangeError(`shape [${shape.join(', ')}] does not hold ${d.length} values`);
    return handles.make(d, shape);
  };
  const chw = (x: Tensor) => {
    const s = x.shape;
    return [lead(s, 3), s[s.length - 3]!, s[s.length - 2]!, s[s.length - 1]!] as const;
  };
  const impl: Backend = {
    name: 'reference',
    precision: 'float64',
    upload: (data, shape) => {
      uploadSize(data, shape);
      return wrap(Float64Array.from(data), shape);
    },
    zeros: (shape) => wrap(new Float64Array(sizeOf(shape)), shape),
    download: (t) => get(t).slice(),
    read: async (ts) => ts.map((t) => get(t).slice()),
    dispose: (t) => void handles.dispose(t),
    liveTensors: () => handles.liveCount(),
    destroy: () => handles.close('reference'),
    reshape: (t, shape) => handles.view(t, shape),
    conv2d(x, w, p: Conv2dParams) {
      const d = convDims(x, w, p);
      const y = ops.conv2d(get(x), [d.B, d.C, d.H, d.W], get(w), d.O, d.K, p.stride, p.padding);
      return wrap(y, convOutShape(x, d));
    },
    conv2dBackward(x, w, gy, p, needInputGrad) {
      const d = convBackwardDims(x, w, gy, p);
      const r = ops.conv2dBackward(get(x), [d.B, d.C, d.H, d.W], get(w), d.O, d.K, p.stride, p.padding, get(gy));
      return { gx: needInputGrad ? wrap(r.gx, x.shape) : null, gw: wrap(r.gw, w.shape) };
    },
    linear(x, w) {
      const { R, I, O } = linearDims(x, w);
      return wrap(ops.linear(get(x), R, I, get(w), O), [...x.shape.slice(0, -1), O]);
    },
    linearBackward(x, w, gy, needInputGrad, inputGradMask) {
      const { R, I, O } = linearBackwardDims(x, w, gy, inputGradMask);
      const r = ops.linearBackward(get(x), R, I, get(w), O, get(gy));
      return { gx: needInputGrad ? wrap(r.gx, x.shape) : null, gw: wrap(r.gw, w.shape) };
    },
    batchNorm(x, gamma, beta, runningMean, runningVar, p: BatchNormParams) {
      const { B, C, S } = batchNormDims(x, gamma, beta, runningMean, runningVar, p);
      if (p.training) {
        const r = ops.batchNormTrain(get(x), B, C, S, get(gamma), get(beta), p.eps);
        ops.batchNormRunningUpdate(get(runningMean), get(runningVar), r.mean, r.variance, B * S, p.momentum);
        return { y: wrap(r.y, x.shape), saved: { mean: wrap(r.mean, [C]), invStd: wrap(r.invStd, [C]) } };
      }
      const y = ops.batchNormEval(get(x), B, C, S, get(gamma), get(beta), get(runningMean), get(runningVar), p.eps);
      const mean = get(runningMean).slice();
      const invStd = get(runningVar).map((v) => 1 / Math.sqrt(v + p.eps));
      return { y: wrap(y, x.shape), saved: { mean: wrap(mean, [C]), invStd: wrap(invStd, [C]) } };
    },
    batchNormBackward(x, gamma, saved: BatchNormSaved, gy, p) {
      const { B, C, S } = batchNormBackwardDims(x, gamma, saved, gy, p);
      const r = ops.batchNormBackward(get(x), B, C, S, get(gamma), get(saved.mean), get(saved.invStd), get(gy));
      return { gx: wrap(r.gx, x.shape), gGamma: wrap(r.gGamma, [C]), gBeta: wrap(r.gBeta, [C]) };
    },
    maxPool2d(x, p: Pool2dParams, tieDraws) {
      const s = chw(x);
      const { shape } = poolDims(x.shape, p);
      if (tieDraws) assertShape('maxPool2d tieDraws', tieDraws.shape, shape);
      const r = ops.maxPool2d(get(x), s, p.kernel, p.stride, tieDraws ? get(tieDraws) : null);
      return { y: wrap(r.y, shape), argmax: wrap(r.argmax, shape) };
    },
    maxPool2dBackward(gy, argmax, xShape, p) {
      poolBackwardDims('maxPool2dBackward', gy, xShape, p, argmax);
      const s = [lead(xShape, 3), ...xShape.slice(-3)];
      return wrap(ops.maxPool2dBackward(get(gy), get(argmax), s, p.kernel, p.stride), xShape);
    },
    avgPool2d(x, p) {
      const s = chw(x);
      const { shape } = poolDims(x.shape, p);
      return wrap(ops.avgPool2d(get(x), s, p.kernel, p.stride), shape);
    },
    avgPool2dBackward(gy, xShape, p) {
      poolBackwardDims('avgPool2dBackward', gy, xShape, p);
      const s = [lead(xShape, 3), ...xShape.slice(-3)];
      return wrap(ops.avgPool2dBackward(get(gy), s, p.kernel, p.stride), xShape);
    },
    dropout(x, mask) {
      assertShape('dropout mask', mask.shape, x.shape.slice(1));
      return wrap(ops.dropout(get(x), x.shape[0]!, get(mask)), x.shape);
    },
    neuron(cfg, x, a): NeuronTraceT {
      neuronDims(x, a, cfg.kind === 'plif');
      const xs = get(x);
      const r = tapeNeuron(cfg, xs, x.shape[0]!, aOf(a && get(a), cfg.tau), new Float64Array(xs.length)); // Eqs. 2-6
      return { s: wrap(r.s, x.shape), h: wrap(r.h, x.shape), v: wrap(r.v, x.shape) };
    },
    neuronBackward(cfg, x, trace, gs, a) {
      neuronDims(x, a, cfg.kind === 'plif');
      checkNeuronBackward(x, trace, gs);
      // the tape replays the forward from x (the trace is the same), then reverse mode gives the vjp
      const r = tapeNeuron(cfg, get(x), x.shape[0]!, aOf(a && get(a), cfg.tau), get(gs));
      return { gx: wrap(r.gradX, x.shape), ga: a && cfg.kind === 'plif' ? wrap(Float64Array.of(r.gradA), [1]) : null };
    },
    vote(x, m) {
      const C = voteClasses(x, m);
      return wrap(ops.vote(get(x), lead(x.shape, 1), C, m), [...x.shape.slice(0, -1), C]);
    },
    voteBackward(gy, m) {
      const C = gy.shape[gy.shape.length - 1]!;
      return wrap(ops.voteBackward(get(gy), lead(gy.shape, 1), C, m), [...gy.shape.slice(0, -1), C * m]);
    },
    mseLossGrad(out, labels, form: LossForm) {
      const { T, N, C } = lossDims(out, labels);
      return wrap(ops.mseLoss(get(out), T, N, C, labels, form).grad, out.shape);
    },
    countBad(ts, limit) {
      let bad = 0;
      for (const t of ts) for (const v of get(t)) if (!Number.isFinite(v) || Math.abs(v) > limit) bad++;
      return wrap(Float64Array.of(bad), [1]);
    },
    adam(param, grad, m, v, p: AdamParams) {
      checkAdam(param, grad, m, v);
      ops.adam(get(param), get(grad), get(m), get(v), p.lr, p.beta1, p.beta2, p.eps, p.step);
    },
    repeatT: (x, T) => wrap(ops.repeatT(get(x), T), [T, ...x.shape]),
    sumT: (x) => wrap(ops.sumT(get(x), x.shape[0]!), x.shape.slice(1)),
  };
  return Object.assign(self, impl);
}
