// A trained network as a NIR graph (the Neuromorphic Intermediate Representation, the node set and HDF5
// layout of the reference `nir` package 1.0). Pure: reads the network's parameters, builds the tree of
// tree.ts; hdf5.ts writes it. The mapping (docs/nir.md has the equations side by side):
//  - conv + BN      -> Conv2d with BN folded in (weight s w, bias beta - s mu; Sec. 4.1)
//  - PLIF / LIF     -> LIF: tau = the layer's tau (PLIF: 1 + e^-a), r = 1, v_leak = v_reset = V_reset,
//                      v_threshold = V_th; forward Euler with dt = 1 of tau dv/dt = (v_leak - v) + r I gives
//                      H = V + (1/tau)(X - (V - V_reset)), the charge of Eq. 6 (without decay_input: r = tau)
//  - IF             -> IF: r = 1, v_threshold = V_th, v_reset = V_reset (H = V + X)
//  - spike max-pool -> SumPool2d then Threshold 0.5: the max of 0/1 values is [sum > 0] (exact)
//  - average pool   -> AvgPool2d;  FC -> Flatten (from [C, H, W]) and Linear (no bias)
//  - voting layer   -> Linear with weights 1/M (each class averages its M neurons)
//  - dropout        -> nothing (the identity at inference)
import type { Backend, Tensor } from '../../core/backend.js';
import { foldConvBatchNorm, FoldedAwayLayer, FoldedConvLayer } from '../../core/network/fold.js';
import { BatchNormLayer, ConvLayer, DropoutLayer, LinearLayer, NeuronLayer, PoolLayer, VoteLayer } from '../../core/network/layers.js';
import type { Network } from '../../core/network/network.js';
import { tauOf } from '../../core/neuron.js';
import { isSpikeEncoder } from '../../core/encoders.js';
import { f32, f64, i64, i64Scalar, type NirFile, type NirGroup } from './tree.js';

/** The NIR version written in /version: the 1.0 node set and layout. */
export const NIR_VERSION = '1.0.0';

export class NirExportError extends Error {
  override readonly name = 'NirExportError';
}

const size = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);
const filled = (n: number, v: number) => new Float64Array(n).fill(v);

export interface NirExportOptions {
  /** Recorded in the graph's metadata. */
  source?: string;
  /**
   * The time step the graph is written for, in the units of tau (default 1: tau in steps). NIR's
   * equations are continuous; Euler with this dt reproduces the network when tau = tau_steps * dt and
   * an IF's r = 1/dt (e.g. dt = 1e-4 s for importers that assume it).
   */
  dt?: number;
}

/** The NIR graph of a network (evaluation mode). */
export function networkToNir(net: Network, opts: NirExportOptions = {}): NirFile {
  const source = opts.source ?? 'plif-snn';
  const dt = opts.dt ?? 1;
  if (!(Number.isFinite(dt) && dt > 0)) throw new NirExportError(`dt must be a number > 0, got ${dt}`);
  const b: Backend = net.backend;
  const host = (t: { value: Tensor }) => b.download(t.value);
  const c = net.config;
  const nodes: NirGroup = { input: { type: 'Input', shape: i64([...c.input]) } };
  const order: string[] = ['input'];
  const add = (name: string, node: NirGroup) => {
    nodes[name] = node;
    order.push(name);
  };
  const layers = net.layers;
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    const where = `layer ${l.index} (${l.token})`;
    if (l instanceof ConvLayer || l instanceof FoldedConvLayer) {
      const w = l.params[0]!.value;
      const O = w.shape[0]!;
      let weight: Float32Array = Float32Array.from(b.download(w));
      let bias: Float32Array = l instanceof FoldedConvLayer ? Float32Array.from(b.download(l.params[1]!.value)) : new Float32Array(O);
      const next = layers[i + 1];
      if (l instanceof ConvLayer && next instanceof BatchNormLayer) {
        const [gamma, beta] = next.params;
        const [mean, variance] = next.buffers;
        ({ weight, bias } = foldConvBatchNorm(weight, O, host(gamma!), host(beta!), host(mean!), host(variance!), next.eps));
        i++; // the BN is folded into this Conv2d
      }
      add(`${l.index}_conv`, {
        type: 'Conv2d',
        weight: f32(weight, [...w.shape]),
        bias: f32(bias, [O]),
        stride: i64([l.stride, l.stride]),
        padding: i64([l.padding, l.padding]),
        dilation: i64([1, 1]),
        groups: i64Scalar(1),
        input_shape: i64([l.inShape[1]!, l.inShape[2]!]),
      });
    } else if (l instanceof BatchNormLayer) {
      throw new NirExportError(`${where}: a BN that does not follow a conv cannot be folded, and NIR has no batch norm node`);
    } else if (l instanceof FoldedAwayLayer || l instanceof DropoutLayer) {
      continue; // folded into the conv before it / the identity at inference
    } else if (l instanceof NeuronLayer) {
      const cfg = l.cfg;
      if (cfg.vReset === null) throw new NirExportError(`${where}: soft reset (V = H - S Vth) has no NIR neuron; NIR's LIF and IF reset to v_reset`);
      const n = size(l.outShape);
      const shape = [...l.outShape];
      if (cfg.kind === 'if') {
        add(`${l.index}_if`, { type: 'IF', r: f64(filled(n, 1 / dt), shape), v_threshold: f64(filled(n, cfg.vThreshold), shape), v_reset: f64(filled(n, cfg.vReset), shape) });
        continue;
      }
      const tau = cfg.kind === 'plif' ? tauOf(b.download(l.a!)[0]!) : cfg.tau;
      add(`${l.index}_lif`, {
        type: 'LIF',
        tau: f64(filled(n, tau * dt), shape),
        // Eq. 6 (decay_input): H = V + (1/tau)(X - (V - Vr)) is Euler of tau dv/dt = (Vr - v) + 1*I;
        // without it, H = V - (1/tau)(V - Vr) + X needs r = tau
        r: f64(filled(n, cfg.decayInput ? 1 : tau), shape),
        v_leak: f64(filled(n, cfg.vReset), shape),
        v_threshold: f64(filled(n, cfg.vThreshold), shape),
        v_reset: f64(filled(n, cfg.vReset), shape),
        metadata: { neuron: cfg.kind.toUpperCase() },
      });
    } else if (l instanceof PoolLayer) {
      const k = l.pool.kernel;
      const s = l.pool.stride;
      const pool = { kernel_size: i64([k, k]), stride: i64([s, s]), padding: i64([0, 0]) };
      if (l.mode === 'avg') {
        add(`${l.index}_avgpool`, { type: 'AvgPool2d', ...pool });
      } else {
        // spike max-pooling (Sec. 3.6): the max of binary spikes is 1 exactly when their sum is > 0
        add(`${l.index}_maxpool_sum`, { type: 'SumPool2d', ...pool });
        add(`${l.index}_maxpool_threshold`, { type: 'Threshold', threshold: f32(new Float32Array(size(l.outShape)).fill(0.5), [...l.outShape]) });
      }
    } else if (l instanceof LinearLayer) {
      if (l.inShape.length > 1) add(`${l.index}_flatten`, { type: 'Flatten', start_dim: i64Scalar(0), end_dim: i64Scalar(-1), input_type: i64([...l.inShape]) });
      const w = l.params[0]!.value;
      add(`${l.index}_linear`, { type: 'Linear', weight: f32(b.download(w), [...w.shape]) });
    } else if (l instanceof VoteLayer) {
      const C = l.outShape[0]!;
      const M = l.m;
      const w = new Float32Array(C * C * M);
      for (let cl = 0; cl < C; cl++) for (let j = 0; j < M; j++) w[cl * C * M + cl * M + j] = 1 / M;
      add(`${l.index}_vote`, { type: 'Linear', weight: f32(w, [C, C * M]) });
    } else {
      throw new NirExportError(`${where}: no NIR node for this layer`);
    }
  }
  add('output', { type: 'Output', shape: i64([c.classes]) });
  const edges: string[] = [];
  for (let k = 0; k + 1 < order.length; k++) edges.push(order[k]!, order[k + 1]!);
  return {
    version: NIR_VERSION,
    node: {
      type: 'NIRGraph',
      nodes,
      edges: { kind: 'strings', shape: [order.length - 1, 2], data: edges },
      metadata: {
        source,
        structure: c.structure,
        T: i64Scalar(c.T),
        dt: f64(Float64Array.of(dt), []),
        encoder: c.encoder,
        static_input: i64Scalar(c.static ? 1 : 0),
        input: isSpikeEncoder(c.encoder)
          ? `spikes of the ${c.encoder} encoder from [0, 1] pixels, one frame per step`
          : c.static
            ? 'the image normalised per channel, (x - mean) / std of the dataset, the same at every step'
            : 'one event frame per step',
        discretisation: `forward Euler, dt = ${dt}: v[t+1] = v[t] + (dt/tau)((v_leak - v[t]) + r I[t]) (IF: v[t+1] = v[t] + dt r I[t]); a spike when v >= v_threshold, then v = v_reset; v starts at v_reset`,
        readout: 'predicted class = argmax over the output of its mean over the T steps',
      },
    },
  };
}
