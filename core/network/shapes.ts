// The shapes of a network worked out from its configuration without allocating anything: every layer's
// input and output shape and the names and shapes of its parameters and buffers (as Network names them
// in checkpoints), and from those an estimate of the memory a training or evaluation pass needs. Used to
// check a checkpoint's header and to refuse sizes that cannot fit before any tensor exists (memory.ts).
// Pure: no I/O, no Node modules.
import { outSize } from '../backend.js';
import { isSpikeEncoder, type EncoderName } from '../encoders.js';
import { formatStructure, parseStructure, type LayerSpec } from './parser.js';

export interface TensorShape {
  /** As in checkpoints: "0.weight", "1.gamma", "1.running_mean", "2.a". */
  name: string;
  shape: number[];
}

export interface LayerShape {
  index: number;
  token: string;
  kind: LayerSpec['kind'] | 'vote';
  inShape: number[];
  outShape: number[];
  params: TensorShape[];
  buffers: TensorShape[];
  /** Inside the static encoder (computed once per sample, not at every step). */
  encoder: boolean;
  /** The parsed layer it comes from. */
  spec: LayerSpec;
}

/** What the shapes depend on: the fields of a NetworkConfig that Network reads to build its layers. */
export interface ShapeConfig {
  structure: string;
  input: readonly number[];
  classes: number;
  static: boolean;
  neuronKind: 'plif' | 'lif' | 'if' | null;
  /** A spike encoder (poisson, latency) feeds spikes at every step: no static encoder. Default direct. */
  encoder?: EncoderName;
}

const size = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

/**
 * Every layer's shapes, parameters and buffers, as `new Network(backend, config, rng)` would build them,
 * with the same errors (a kernel larger than its input, a voting layer that does not divide, an output
 * that is not one value per class), but pure: nothing is allocated.
 */
export function networkShapes(c: ShapeConfig): LayerShape[] {
  const specs = parseStructure(c.structure);
  const tokens = formatStructure(specs).split('-');
  let shape: number[] = [...c.input];
  const layers: LayerShape[] = [];
  specs.forEach((s, i) => {
    const tok = tokens[i]!;
    const bad = (why: string): never => {
      throw new RangeError(`layer ${i} (${tok}) on input [${shape.join(', ')}]: ${why}`);
    };
    const push = (kind: LayerShape['kind'], out: number[], params: TensorShape[] = [], buffers: TensorShape[] = []) => {
      layers.push({ index: i, token: tok, kind, inShape: shape, outShape: out, params, buffers, encoder: false, spec: s });
      shape = out;
    };
    switch (s.kind) {
      case 'conv': {
        if (shape.length !== 3) bad('a conv needs a [C, H, W] input');
        const [C, H, W] = shape as [number, number, number];
        const Ho = outSize(H, s.kernel, s.stride, s.padding);
        const Wo = outSize(W, s.kernel, s.stride, s.padding);
        if (Ho <= 0 || Wo <= 0) bad('kernel larger than the padded input');
        push('conv', [s.channels, Ho, Wo], [{ name: `${i}.weight`, shape: [s.channels, C, s.kernel, s.kernel] }]);
        break;
      }
      case 'bn': {
        const C = shape[0]!;
        push('bn', shape, [{ name: `${i}.gamma`, shape: [C] }, { name: `${i}.beta`, shape: [C] }], [{ name: `${i}.running_mean`, shape: [C] }, { name: `${i}.running_var`, shape: [C] }]);
        break;
      }
      case 'neuron': {
        const kind = c.neuronKind ?? s.neuron;
        push('neuron', shape, kind === 'plif' ? [{ name: `${i}.a`, shape: [1] }] : []);
        break;
      }
      case 'maxpool':
      case 'avgpool': {
        if (shape.length === 1) {
          if (s.kind !== 'avgpool') bad('max pooling on features is not supported (voting uses APkMsM)');
          if (s.kernel !== s.stride) bad('the voting layer needs kernel = stride');
          if (shape[0]! % s.kernel !== 0) bad(`${shape[0]} features are not a multiple of ${s.kernel}`);
          push('vote', [shape[0]! / s.kernel]);
          break;
        }
        if (shape.length !== 3) bad('pooling needs a [C, H, W] input');
        const [C, H, W] = shape as [number, number, number];
        const Ho = outSize(H, s.kernel, s.stride, 0);
        const Wo = outSize(W, s.kernel, s.stride, 0);
        if (Ho <= 0 || Wo <= 0) bad('pooling window larger than the input');
        push(s.kind, [C, Ho, Wo]);
        break;
      }
      case 'dropout':
        push('dropout', shape);
        break;
      case 'fc':
        push('fc', [s.features], [{ name: `${i}.weight`, shape: [s.features, size(shape)] }]);
        break;
    }
  });
  const firstNeuron = layers.findIndex((l) => l.kind === 'neuron');
  const encoderEnd = c.static && !isSpikeEncoder(c.encoder ?? 'direct') ? (firstNeuron < 0 ? layers.length : firstNeuron) : 0;
  for (const l of layers) l.encoder = l.index < encoderEnd;
  const out = layers.at(-1)?.outShape ?? [...c.input];
  if (out.length !== 1 || out[0] !== c.classes) {
    throw new RangeError(`network output is [${out.join(', ')}] per step, expected [${c.classes}] (one value per class; end with a voting layer APk10s10 after FC${c.classes * 10})`);
  }
  return layers;
}

export interface MemoryEstimate {
  /** Bytes the pass needs, roughly (float32 values; parameters, optimizer state, activations, saved tensors). */
  bytes: number;
  /** Values of the network's parameters. */
  params: number;
  /** The largest single tensor: what it is and its number of values. */
  largest: { what: string; values: number };
}

/**
 * Memory of one training step (`train`: parameters, gradients, both Adam moments, every activation of the
 * T steps and what the layers save for backward) or one evaluation batch (`eval`: parameters and the
 * activations of one layer at a time), for a batch of `batch` samples. An estimate, on the high side.
 */
export function estimateMemory(c: ShapeConfig & { T: number }, batch: number, mode: 'train' | 'eval'): MemoryEstimate {
  const layers = networkShapes(c);
  const params = layers.reduce((a, l) => a + l.params.reduce((b, p) => b + size(p.shape), 0), 0);
  const steps = c.static && !isSpikeEncoder(c.encoder ?? 'direct') ? 1 : c.T; // a spike encoder's input is [T, N, ...]
  const input = steps * batch * size(c.input);
  let largest = { what: `the input batch [${steps === 1 ? '' : `${c.T}, `}${batch}, ${c.input.join(', ')}]`, values: input };
  const consider = (what: string, values: number) => {
    if (values > largest.values) largest = { what, values };
  };
  let activations = 0;
  let widest = input;
  for (const l of layers) {
    for (const p of l.params) consider(`parameter ${p.name} [${p.shape.join(', ')}]`, size(p.shape));
    const steps = l.encoder ? 1 : c.T;
    const values = steps * batch * size(l.outShape);
    consider(`the output of layer ${l.index} (${l.token}) [${steps}, ${batch}, ${l.outShape.join(', ')}]`, values);
    widest = Math.max(widest, values);
    // neurons keep H and V besides S; max pooling its argmax; dropout a mask per sample
    const saved = l.kind === 'neuron' ? 3 : l.kind === 'maxpool' ? 2 : 1;
    activations += values * saved;
  }
  const values =
    mode === 'train'
      ? 4 * params + 2 * input + activations + 2 * widest // + the gradients flowing back through the widest layer
      : params + 2 * input + 4 * widest;
  return { bytes: 4 * values, params, largest };
}
