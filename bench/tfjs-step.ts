// The same network written with TensorFlow.js (CPU backend) for the speed comparison of `plif bench`:
// NHWC layout, spike = Heaviside forward with the ATan surrogate backward through tf.customGrad, reset
// detached, PLIF charge H = V + k(a)(X - (V - Vr)) (Eq. 6), static encoder once per sample, BN with batch
// statistics, dropout mask shared over T, voting, firing-rate MSE, Adam. Supports the layer tokens of the
// parser (conv, BN, PLIF/LIF/IF, MP/AP, DP, FC, voting).
import * as tf from '@tensorflow/tfjs';
import { parseStructure } from '../core/network/parser.js';
import type { NetworkConfig } from '../core/network/network.js';
import { initialA } from '../core/neuron.js';
import { Rng } from '../core/rng.js';

type Op = (x: tf.Tensor, training: boolean) => tf.Tensor;

const spike = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  (args[1] as tf.GradSaveFunc)([x]);
  return {
    value: tf.cast(tf.greaterEqual(x, 0), 'float32'),
    // ATan surrogate, alpha = 2: sigma'(x) = 1 / (1 + (pi x)^2)
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => tf.div(dy as tf.Tensor, tf.add(1, tf.square(tf.mul(Math.PI, saved[0]!)))),
  };
}) as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

const detach = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
  value: tf.clone(args[0] as tf.Tensor),
  gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor),
})) as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

export interface TfjsNet {
  step(x: Float32Array, labels: Int32Array): number;
  dispose(): void;
}

export async function buildTfjsNet(cfg: NetworkConfig, seed: number): Promise<TfjsNet> {
  await tf.setBackend('cpu');
  const rng = Rng.seeded(seed);
  const T = cfg.T;
  const vars: tf.Variable[] = [];
  const uniform = (shape: number[], fanIn: number) => {
    const n = shape.reduce((a, c) => a * c, 1);
    const bound = 1 / Math.sqrt(fanIn);
    const v = tf.variable(tf.tensor(Float32Array.from({ length: n }, () => rng.range(-bound, bound)), shape));
    vars.push(v);
    return v;
  };
  let [C, H, W] = cfg.input;
  let flat = 0;
  // ops on time-major batches [T'*N, ...]; neuron ops need T' = T
  const ops: { op: Op; neuron: boolean }[] = [];
  let N = 0; // set per step
  for (const s of parseStructure(cfg.structure)) {
    switch (s.kind) {
      case 'conv': {
        const w = uniform([s.kernel, s.kernel, C, s.channels], C * s.kernel * s.kernel);
        const pad = s.padding;
        ops.push({ op: (x) => tf.conv2d(pad ? tf.pad(x as tf.Tensor4D, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : (x as tf.Tensor4D), w as tf.Tensor4D, s.stride, 'valid'), neuron: false });
        C = s.channels;
        H = Math.floor((H + 2 * pad - s.kernel) / s.stride) + 1;
        W = Math.floor((W + 2 * pad - s.kernel) / s.stride) + 1;
        break;
      }
      case 'bn': {
        const F = flat || C;
        const gamma = tf.variable(tf.ones([F]));
        const beta = tf.variable(tf.zeros([F]));
        vars.push(gamma, beta);
        const axes = flat ? [0] : [0, 1, 2];
        ops.push({
          op: (x) => {
            const { mean, variance } = tf.moments(x, axes);
            return tf.add(tf.mul(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))), gamma), beta);
          },
          neuron: false,
        });
        break;
      }
      case 'neuron': {
        const kind = cfg.neuronKind ?? s.neuron;
        const a = kind === 'plif' ? tf.variable(tf.scalar(initialA(cfg.tau0))) : null;
        if (a) vars.push(a);
        ops.push({
          op: (x) => {
            const steps = tf.split(x, T, 0);
            let v: tf.Tensor = tf.zerosLike(steps[0]!);
            const out: tf.Tensor[] = [];
            const k = a ? tf.sigmoid(a) : kind === 'lif' ? tf.scalar(1 / cfg.tau0) : null;
            for (const xt of steps) {
              const h = k ? tf.add(v, tf.mul(k, tf.sub(xt, v))) : tf.add(v, xt); // Eq. 6 with Vr = 0
              const sp = spike(tf.sub(h, 1));
              out.push(sp);
              v = tf.mul(h, tf.sub(1, detach(sp))); // hard reset to 0, detached
            }
            return tf.concat(out, 0);
          },
          neuron: true,
        });
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        if (flat) {
          const M = s.kernel;
          const F = flat;
          ops.push({ op: (x) => tf.mean(tf.reshape(x, [-1, F / M, M]), 2), neuron: false });
          flat = F / M;
          break;
        }
        const mode = cfg.pool ?? (s.kind === 'maxpool' ? 'max' : 'avg');
        ops.push({ op: (x) => (mode === 'max' ? tf.maxPool : tf.avgPool)(x as tf.Tensor4D, s.kernel, s.stride, 'valid'), neuron: false });
        H = Math.floor((H - s.kernel) / s.stride) + 1;
        W = Math.floor((W - s.kernel) / s.stride) + 1;
        break;
      }
      case 'dropout': {
        const p = s.p;
        ops.push({
          op: (x, training) => {
            if (!training) return x;
            const per = x.shape.slice(1);
            const mask = tf.div(tf.cast(tf.greaterEqual(tf.randomUniform([N, ...per], 0, 1, 'float32', rng.nextUint32()), p), 'float32'), 1 - p);
            return tf.mul(x, tf.tile(mask, [x.shape[0]! / N, ...per.map(() => 1)])); // one mask per sample for every step
          },
          neuron: false,
        });
        break;
      }
      case 'fc': {
        const F = flat || C * H * W;
        const w = uniform([F, s.features], F);
        ops.push({ op: (x) => tf.matMul(tf.reshape(x, [-1, F]), w as tf.Tensor2D), neuron: false });
        flat = s.features;
        break;
      }
    }
  }
  const firstNeuron = ops.findIndex((o) => o.neuron);
  const encEnd = cfg.static ? (firstNeuron < 0 ? ops.length : firstNeuron) : 0;
  const optimizer = tf.train.adam(1e-3, 0.9, 0.999, 1e-8);
  return {
    step(xHost, labels) {
      N = labels.length;
      const loss = tf.tidy(() => {
        const xs = cfg.static ? tf.tensor4d(xHost, [N, ...cfg.input]) : tf.tensor(xHost, [T * N, ...cfg.input]);
        const nhwc = tf.transpose(xs, [0, 2, 3, 1]);
        const y = tf.oneHot(tf.tensor1d(labels, 'int32'), cfg.classes);
        const cost = optimizer.minimize(() => {
          let h: tf.Tensor = nhwc;
          ops.forEach((o, i) => {
            if (cfg.static && i === encEnd) h = tf.tile(h, [T, ...h.shape.slice(1).map(() => 1)]); // encoder once, fed at every step
            h = o.op(h, true);
          });
          const rate = tf.mean(tf.reshape(h, [T, N, cfg.classes]), 0);
          return tf.mean(tf.square(tf.sub(rate, y))) as tf.Scalar;
        }, true, vars);
        return cost!;
      });
      const v = loss.dataSync()[0]!;
      loss.dispose();
      return v;
    },
    dispose() {
      for (const v of vars) v.dispose();
      optimizer.dispose();
    },
  };
}
