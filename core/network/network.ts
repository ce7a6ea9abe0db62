// A network built from a structure string (Table S1 notation) on a Backend. Static inputs ([N, C, H, W])
// go through the static encoder (every layer before the first neuron layer) ONCE per sample, and its
// output is fed at every step; its gradient is the sum over t. Event inputs are [T, N, C, H, W].
import type { Backend, LossForm, Tensor } from '../backend.js';
import { PAPER_DEFAULTS } from '../defaults.js';
import { checkEncoderName, encodeSpikes, isSpikeEncoder, type EncoderName } from '../encoders.js';
import { initialA, neuronConfig, tauOf, type NeuronConfig } from '../neuron.js';
import { Rng } from '../rng.js';
import type { FloatArray } from '../types.js';
import { surrogates, type SurrogateName } from '../surrogates.js';
import {
  BatchNormLayer,
  ConvLayer,
  DropoutLayer,
  Layer,
  LinearLayer,
  NeuronLayer,
  POOL_TIE_RULES,
  PoolLayer,
  VoteLayer,
  type PoolTieRule,
  type BufferT,
  type Param,
  type RunCtx,
} from './layers.js';
import { networkShapes } from './shapes.js';
import { presetByName } from './presets.js';

/** Everything needed to rebuild a network; JSON-serialisable (stored in checkpoints). */
export interface NetworkConfig {
  structure: string;
  input: [number, number, number];
  classes: number;
  T: number;
  /** Static images: the same input at every step, static encoder computed once. */
  static: boolean;
  /** Replaces every PLIF/LIF/IF token (ablation PLIF vs LIF); null keeps the tokens. */
  neuronKind: 'plif' | 'lif' | 'if' | null;
  /** tau0 of PLIF (a0 = -ln(tau0 - 1)) and the fixed tau of LIF. */
  tau0: number;
  /** Replaces the down-sampling pools (not the voting layer): the max/avg ablation; null keeps tokens. */
  pool: 'max' | 'avg' | null;
  loss: LossForm;
  vThreshold: number;
  vReset: number | null;
  decayInput: boolean;
  detachReset: boolean;
  surrogate: { name: SurrogateName; alpha: number };
  bnMomentum: number;
  bnEps: number;
  /** Input encoder (Supplementary 10): direct (learnable, the paper's), poisson or latency (spikes from [0, 1] pixels). */
  encoder: EncoderName;
  /**
   * Which input of a spike max-pooling window wins (and gets the gradient) when several hold the maximum:
   * 'first' (PyTorch's rule) or 'random' (Fig. 5: one of them, drawn from the run's Rng). Absent in older
   * checkpoints, which load as 'first'.
   */
  poolTies: PoolTieRule;
}

export const DEFAULT_NETWORK_OPTIONS = Object.freeze({
  neuronKind: null,
  tau0: PAPER_DEFAULTS.tau0,
  pool: null,
  loss: 'rate',
  vThreshold: PAPER_DEFAULTS.vThreshold,
  vReset: PAPER_DEFAULTS.vReset,
  decayInput: true,
  detachReset: PAPER_DEFAULTS.detachReset,
  surrogate: { name: PAPER_DEFAULTS.surrogate.name, alpha: PAPER_DEFAULTS.surrogate.alpha },
  bnMomentum: 0.1,
  bnEps: 1e-5,
  encoder: 'direct',
  poolTies: 'first',
} as const);

export type NetworkOptions = Partial<Omit<NetworkConfig, 'structure' | 'input' | 'classes'>>;

/** Network config from a preset name (Table S1) and options. */
export function presetConfig(name: string, opts: NetworkOptions = {}): NetworkConfig {
  const p = presetByName(name);
  return networkConfig(p.structure, p.input, p.classes, { T: p.T, static: p.static, ...opts });
}

export function networkConfig(structure: string, input: readonly [number, number, number], classes: number, opts: NetworkOptions = {}): NetworkConfig {
  const c: NetworkConfig = {
    ...DEFAULT_NETWORK_OPTIONS,
    surrogate: { ...DEFAULT_NETWORK_OPTIONS.surrogate },
    T: 8,
    static: true,
    ...opts,
    structure,
    input: [...input] as [number, number, number],
    classes,
  };
  if (!Number.isInteger(c.T) || c.T <= 0) throw new RangeError(`T must be a positive integer, got ${c.T}`);
  if (!Number.isInteger(classes) || classes <= 0) throw new RangeError(`classes must be a positive integer, got ${classes}`);
  neuronConfigOf(c, 'plif');
  checkEncoderName(c.encoder);
  if (isSpikeEncoder(c.encoder) && !c.static) throw new RangeError(`the ${c.encoder} encoder takes static images; event inputs are spikes already`);
  if (!POOL_TIE_RULES.includes(c.poolTies)) throw new RangeError(`poolTies must be one of ${POOL_TIE_RULES.join(', ')}, got '${String(c.poolTies)}'`);
  return c;
}

export function neuronConfigOf(c: NetworkConfig, token: 'plif' | 'lif' | 'if'): NeuronConfig {
  const sg = surrogates[c.surrogate.name];
  if (typeof sg !== 'function') throw new RangeError(`unknown surrogate '${c.surrogate.name}'`);
  return neuronConfig({
    kind: c.neuronKind ?? token,
    tau: c.tau0,
    vThreshold: c.vThreshold,
    vReset: c.vReset,
    decayInput: c.decayInput,
    detachReset: c.detachReset,
    surrogate: sg(c.surrogate.alpha),
  });
}

export interface LayerInfo {
  index: number;
  token: string;
  inShape: readonly number[];
  outShape: readonly number[];
  params: number;
  /** Inside the static encoder (computed once per sample). */
  encoder: boolean;
  tau?: number;
}

export class Network {
  readonly layers: Layer[];
  /** Layers [0, encoderEnd) form the static encoder (static inputs only). */
  readonly encoderEnd: number;
  /** Static images through the direct encoder: layers [0, encoderEnd) run once per sample. */
  private readonly staticEncoder: boolean;
  private acts: Tensor[] = [];
  private forwarded = false;

  constructor(
    readonly backend: Backend,
    readonly config: NetworkConfig,
    rng: Rng,
  ) {
    this.layers = buildLayers(backend, config, rng);
    const firstNeuron = this.layers.findIndex((l) => l instanceof NeuronLayer);
    this.staticEncoder = config.static && !isSpikeEncoder(config.encoder);
    this.encoderEnd = this.staticEncoder ? (firstNeuron < 0 ? this.layers.length : firstNeuron) : 0;
  }

  /**
   * Neurons per class of the output when it is spikes (core/readout.ts): M of a voting layer after a
   * neuron layer, 1 for a neuron layer last; null when the output is not spikes.
   */
  spikesPerClass(): number | null {
    const last = this.layers.at(-1);
    const before = this.layers.at(-2);
    if (last instanceof NeuronLayer) return 1;
    if (last instanceof VoteLayer && before instanceof NeuronLayer) return last.m;
    return null;
  }

  /** Trainable parameters: weights, BN gamma/beta, one `a` per PLIF layer. */
  params(): Param[] {
    return this.layers.flatMap((l) => l.params);
  }

  buffers(): BufferT[] {
    return this.layers.flatMap((l) => l.buffers);
  }

  /** The PLIF layers' parameters a, in layer order: what taus() reads back. */
  tauTensors(): Tensor[] {
    return this.layers.flatMap((l) => (l instanceof NeuronLayer && l.a ? [l.a] : []));
  }

  /**
   * Per-layer tau of the neuron layers (PLIF: 1/sigmoid(a), LIF: tau, IF: Infinity). aValues: the values of
   * tauTensors() already read back (default: downloaded now, on a backend with synchronous readback).
   */
  taus(aValues: readonly FloatArray[] = this.tauTensors().map((a) => this.backend.download(a))): { index: number; tau: number }[] {
    let next = 0;
    return this.layers.flatMap((l) => {
      if (!(l instanceof NeuronLayer)) return [];
      const tau = l.a ? tauOf(aValues[next++]![0]!) : l.cfg.kind === 'lif' ? l.cfg.tau : Infinity;
      return [{ index: l.index, tau }];
    });
  }

  /** taus() on any backend: the parameters read back with one host sync. */
  async readTaus(): Promise<{ index: number; tau: number }[]> {
    return this.taus(await this.backend.read(this.tauTensors()));
  }

  describe(): LayerInfo[] {
    const taus = new Map(this.taus().map((t) => [t.index, t.tau]));
    return this.layers.map((l) => ({
      index: l.index,
      token: l.token,
      inShape: l.inShape,
      outShape: l.outShape,
      params: l.paramCount(),
      encoder: l.index < this.encoderEnd,
      ...(taus.has(l.index) ? { tau: taus.get(l.index)! } : {}),
    }));
  }

  /** Shape of a batch of n inputs: [n, C, H, W] (static) or [T, n, C, H, W] (events). */
  inputShape(n: number): number[] {
    return this.config.static ? [n, ...this.config.input] : [this.config.T, n, ...this.config.input];
  }

  /**
   * Forward over T steps; returns the voted output [T, N, classes] (owned by the network until the next
   * forward or release()). training: batch statistics, dropout masks from `rng`, saves for backward().
   */
  forward(x: Tensor, ctx: RunCtx): Tensor {
    this.release();
    const b = this.backend;
    const T = this.config.T;
    const N = this.config.static ? x.shape[0]! : x.shape[1]!;
    const want = this.inputShape(N);
    if (x.shape.length !== want.length || x.shape.some((d, i) => d !== want[i])) {
      throw new RangeError(`network input has shape [${x.shape.join(', ')}], expected [${want.join(', ')}]`);
    }
    const enc = this.config.encoder;
    // a spike encoder turns the [N, C, H, W] intensities into spikes [T, N, C, H, W] (Supplementary 10)
    let h = isSpikeEncoder(enc) ? this.keep(b.upload(encodeSpikes(enc, ctx.hostInput ?? b.download(x), N, T, ctx.sampleRngs ?? ctx.rng), [T, ...x.shape])) : this.staticEncoder ? this.keep(b.reshape(x, [1, ...x.shape])) : x;
    for (let i = 0; i < this.layers.length; i++) {
      if (this.staticEncoder && i === this.encoderEnd) {
        const flat = this.keep(b.reshape(h, h.shape.slice(1)));
        h = this.keep(b.repeatT(flat, T)); // the encoder's output fed at every step
      }
      h = this.keep(this.layers[i]!.forward(b, h, ctx));
      ctx.observe?.(this.layers[i]!, h);
      if (!ctx.training) this.dropOld();
    }
    if (this.staticEncoder && this.encoderEnd === this.layers.length) {
      const flat = this.keep(b.reshape(h, h.shape.slice(1)));
      h = this.keep(b.repeatT(flat, T));
    }
    this.forwarded = ctx.training;
    return h;
  }

  /** Backward from dL/d(output); leaves each parameter's gradient in param.grad. Disposes nothing of gOut. */
  backward(gOut: Tensor): void {
    if (!this.forwarded) throw new Error('backward() needs a training-mode forward() first');
    const b = this.backend;
    const sumEncoder = (g: Tensor): Tensor => {
      const s = b.sumT(g); // the encoder's gradient is the sum over t
      const r = b.reshape(s, [1, ...s.shape]);
      b.dispose(s);
      return r;
    };
    let g: Tensor | null = this.staticEncoder && this.encoderEnd === this.layers.length ? sumEncoder(gOut) : b.reshape(gOut, gOut.shape);
    for (let i = this.layers.length - 1; i >= 0 && g; i--) {
      const prev = this.layers[i - 1];
      const next: Tensor | null = this.layers[i]!.backward(b, g, i > 0, prev instanceof DropoutLayer ? prev.currentMask : null);
      b.dispose(g);
      g = next;
      if (g && this.staticEncoder && i === this.encoderEnd) {
        const s = sumEncoder(g);
        b.dispose(g);
        g = s;
      }
    }
    if (g) b.dispose(g);
    this.forwarded = false;
  }

  /** Frees every activation and saved tensor of the last forward (not the caller's input). */
  release(): void {
    for (const l of this.layers) l.release(this.backend);
    for (const t of this.acts) this.backend.dispose(t);
    this.acts = [];
    this.forwarded = false;
  }

  /** Frees parameter gradients. */
  zeroGrad(): void {
    for (const p of this.params()) {
      if (p.grad) this.backend.dispose(p.grad);
      p.grad = null;
    }
  }

  /** Frees everything the network holds on its backend. */
  dispose(): void {
    this.release();
    this.zeroGrad();
    for (const p of this.params()) this.backend.dispose(p.value);
    for (const q of this.buffers()) this.backend.dispose(q.value);
  }

  private keep(t: Tensor): Tensor {
    this.acts.push(t);
    return t;
  }

  /** Eval mode: only the newest activation is needed. */
  private dropOld(): void {
    while (this.acts.length > 1) this.backend.dispose(this.acts.shift()!);
  }
}

/** PyTorch's default init for conv/linear: kaiming_uniform(a = sqrt 5) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
function uniformInit(b: Pick<Backend, 'upload'>, shape: number[], fanIn: number, rng: Rng): Tensor {
  const bound = 1 / Math.sqrt(fanIn);
  const n = shape.reduce((a, c) => a * c, 1);
  const d = new Float32Array(n);
  for (let i = 0; i < n; i++) d[i] = rng.range(-bound, bound);
  return b.upload(d, shape);
}

function buildLayers(backend: Backend, c: NetworkConfig, rng: Rng): Layer[] {
  // every tensor made so far, freed if a later allocation fails (a device out of memory)
  const made: Tensor[] = [];
  const keep = (t: Tensor) => (made.push(t), t);
  const b = { upload: (d: ArrayLike<number>, shape: readonly number[]) => keep(backend.upload(d, shape)), zeros: (shape: readonly number[]) => keep(backend.zeros(shape)) };
  try {
    return layersOf(b, c, rng);
  } catch (e) {
    for (const t of made) backend.dispose(t);
    throw e;
  }
}

function layersOf(b: Pick<Backend, 'upload' | 'zeros'>, c: NetworkConfig, rng: Rng): Layer[] {
  // networkShapes parses the structure and checks every shape (and the output) before anything is allocated
  return networkShapes(c).map((ls, i): Layer => {
    const { spec: s, token: tok, inShape, outShape } = ls;
    switch (s.kind) {
      case 'conv': {
        const C = inShape[0]!;
        const w = uniformInit(b, [s.channels, C, s.kernel, s.kernel], C * s.kernel * s.kernel, rng);
        return new ConvLayer(i, tok, inShape, outShape, w, s.stride, s.padding);
      }
      case 'bn': {
        const C = inShape[0]!;
        const ones = new Float32Array(C).fill(1);
        return new BatchNormLayer(i, tok, inShape, b.upload(ones, [C]), b.zeros([C]), b.zeros([C]), b.upload(ones, [C]), c.bnMomentum, c.bnEps);
      }
      case 'neuron': {
        const cfg = neuronConfigOf(c, s.neuron);
        const a = cfg.kind === 'plif' ? b.upload([initialA(c.tau0)], [1]) : null; // a0 = -ln(tau0 - 1), Eq. 6
        return new NeuronLayer(i, c.neuronKind ? c.neuronKind.toUpperCase() : tok, inShape, cfg, a);
      }
      case 'maxpool':
      case 'avgpool': {
        // Voting layer: average pooling of M neurons per class (kernel = stride = M).
        if (ls.kind === 'vote') return new VoteLayer(i, tok, inShape, outShape, s.kernel);
        const mode = c.pool ?? (s.kind === 'maxpool' ? 'max' : 'avg');
        return new PoolLayer(i, mode === 'max' ? `MPk${s.kernel}s${s.stride}` : `APk${s.kernel}s${s.stride}`, inShape, outShape, mode, { kernel: s.kernel, stride: s.stride }, c.poolTies);
      }
      case 'dropout':
        return new DropoutLayer(i, tok, inShape, s.p);
      case 'fc': {
        const F = inShape.reduce((a, d) => a * d, 1);
        return new LinearLayer(i, tok, inShape, outShape, uniformInit(b, [s.features, F], F, rng));
      }
    }
  });
}

/** Builds a network from a preset name or a config. */
export function buildNetwork(backend: Backend, config: NetworkConfig | string, rng: Rng, opts: NetworkOptions = {}): Network {
  const c = typeof config === 'string' ? presetConfig(config, opts) : config;
  return new Network(backend, c, rng);
}

