// Inference with batch normalisation folded into the convolutions (Sec. 4.1: "the parameters of a BN layer
// can be absorbed in its front Conv2d layer"). In eval mode BN is the per-channel affine map
//   y = gamma (z - mu) / sqrt(var + eps) + beta = s z + (beta - s mu),   s = gamma / sqrt(var + eps),
// and z = conv(x, w) is linear in w, so conv + BN = conv(x, s w) + (beta - s mu): one convolution with
// scaled weights and a bias. Spike inputs are consumed as events by the backends' convolutions (only the
// nonzero inputs are visited and a spike adds its weight row: additions only, Sec. 3.6).
// The folded network is for evaluation only.
import type { Backend, Tensor } from '../backend.js';
import { Rng } from '../rng.js';
import type { EncoderName } from '../encoders.js';
import { BatchNormLayer, ConvLayer, Layer, type RunCtx, type Shape } from './layers.js';
import { Network } from './network.js';

export interface FoldedConv {
  /** s w, [O, C, k, k]. */
  weight: Float32Array;
  /** beta - s mu, [O]. */
  bias: Float32Array;
}

/**
 * Folds an eval-mode BN (per-channel gamma, beta, running mean and variance, eps) into the conv weight
 * w [O, C, k, k] before it: weight = s w, bias = beta - s mu with s = gamma / sqrt(var + eps), in float64.
 */
export function foldConvBatchNorm(w: ArrayLike<number>, O: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, mean: ArrayLike<number>, variance: ArrayLike<number>, eps: number): FoldedConv {
  if (w.length % O !== 0) throw new RangeError(`foldConvBatchNorm: ${w.length} weights are not ${O} output channels`);
  for (const [name, a] of [['gamma', gamma], ['beta', beta], ['running mean', mean], ['running variance', variance]] as const) {
    if (a.length !== O) throw new RangeError(`foldConvBatchNorm: BN ${name} has ${a.length} channels, the conv ${O}`);
  }
  const per = w.length / O;
  const weight = new Float32Array(w.length);
  const bias = new Float32Array(O);
  for (let o = 0; o < O; o++) {
    const s = gamma[o]! / Math.sqrt(variance[o]! + eps);
    for (let j = 0; j < per; j++) weight[o * per + j] = s * w[o * per + j]!;
    bias[o] = beta[o]! - s * mean[o]!;
  }
  return { weight, bias };
}

/** Conv with folded weights and a per-channel bias (inference only). */
export class FoldedConvLayer extends Layer {
  constructor(index: number, token: string, inShape: Shape, outShape: Shape, w: Tensor, bias: Tensor, readonly stride: number, readonly padding: number) {
    super(index, token, inShape, outShape);
    this.params = [
      { name: `${index}.weight`, kind: 'weight', value: w, grad: null },
      { name: `${index}.bias`, kind: 'beta', value: bias, grad: null },
    ];
  }
  forward(b: Backend, x: Tensor, ctx: RunCtx): Tensor {
    if (ctx.training) throw new Error(`layer ${this.index} (${this.token}): a network with BN folded is for evaluation only`);
    const z = b.conv2d(x, this.params[0]!.value, { stride: this.stride, padding: this.padding });
    try {
      return addChannelBias(b, z, this.params[1]!.value);
    } finally {
      b.dispose(z);
    }
  }
  backward(): Tensor | null {
    throw new Error(`layer ${this.index} (${this.token}): a network with BN folded is for evaluation only`);
  }
}

/** Stands where a folded BN was: passes its input on (a view, no copy). */
export class FoldedAwayLayer extends Layer {
  forward(b: Backend, x: Tensor): Tensor {
    return b.reshape(x, x.shape);
  }
  backward(): Tensor | null {
    throw new Error(`layer ${this.index}: a network with BN folded is for evaluation only`);
  }
}

/**
 * z + bias[c] over [..., C, H, W], exactly (one rounding of z + bias): the backend's eval-mode batchNorm
 * with gamma = 1, running mean 0, running variance 0 and eps 1 computes (z - 0) * 1/sqrt(0 + 1) * 1 + bias.
 */
function addChannelBias(b: Backend, z: Tensor, bias: Tensor): Tensor {
  const C = bias.size;
  const ones = b.upload(new Float32Array(C).fill(1), [C]);
  const zeros = b.zeros([C]);
  try {
    const r = b.batchNorm(z, ones, bias, zeros, zeros, { training: false, momentum: 0, eps: 1, spatialDims: 2 });
    b.dispose(r.saved.mean);
    b.dispose(r.saved.invStd);
    return r.y;
  } finally {
    b.dispose(ones);
    b.dispose(zeros);
  }
}

/**
 * Folds every conv + BN pair of an evaluation network in place (Sec. 4.1): the conv becomes a
 * FoldedConvLayer (weights s w, bias beta - s mu) and the BN a FoldedAwayLayer. Layer indices (and so
 * the static encoder's extent and the checkpoint names of other layers) are unchanged. Returns the
 * indices of the folded convs. The network can no longer be trained or saved as a checkpoint.
 */
export function foldBatchNorm(net: Network): number[] {
  const b = net.backend;
  const folded: number[] = [];
  for (let i = 0; i + 1 < net.layers.length; i++) {
    const conv = net.layers[i];
    const bn = net.layers[i + 1];
    if (!(conv instanceof ConvLayer) || !(bn instanceof BatchNormLayer)) continue;
    const w = conv.params[0]!.value;
    const [gamma, beta] = bn.params;
    const [mean, variance] = bn.buffers;
    const f = foldConvBatchNorm(b.download(w), w.shape[0]!, b.download(gamma!.value), b.download(beta!.value), b.download(mean!.value), b.download(variance!.value), bn.eps);
    const layer = new FoldedConvLayer(i, `${conv.token}+BN`, conv.inShape, conv.outShape, b.upload(f.weight, w.shape), b.upload(f.bias, [f.bias.length]), conv.stride, conv.padding);
    for (const t of [w, ...bn.params.map((p) => p.value), ...bn.buffers.map((q) => q.value)]) b.dispose(t);
    net.layers[i] = layer;
    net.layers[i + 1] = new FoldedAwayLayer(i + 1, 'BN(folded)', bn.inShape, bn.outShape);
    folded.push(i);
  }
  return folded;
}

/**
 * The same network (parameters and BN statistics copied) with another input encoder: e.g. a network
 * trained with the poisson encoder evaluated with latency spikes. `net` is disposed.
 */
export function withEncoder(net: Network, encoder: EncoderName): Network {
  if (net.config.encoder === encoder) return net;
  const b = net.backend;
  const next = new Network(b, { ...net.config, encoder }, Rng.seeded(0));
  const old = new Map([...net.params().map((p) => [p.name, p.value] as const), ...net.buffers().map((q) => [q.name, q.value] as const)]);
  for (const slot of [...next.params(), ...next.buffers()]) {
    const v = old.get(slot.name)!;
    b.dispose(slot.value);
    slot.value = b.upload(b.download(v), v.shape);
  }
  net.dispose();
  return next;
}
