// A NIR graph of this library's shape back into a network config and its parameters (so a network edited
// or trained elsewhere can be evaluated here). The graph must be a chain Input -> ... -> Output of the
// nodes export.ts writes: Conv2d (a nonzero bias becomes a BN with gamma 1, beta = bias, mean 0 and
// variance 1 - eps), LIF / IF with one value per layer, SumPool2d + Threshold (spike max-pooling),
// AvgPool2d, Flatten, Linear (or Affine with a zero bias), and a last Linear of weights 1/M (voting).
// Anything else fails with the node's name and what cannot be represented. Pure: no I/O.
import { PAPER_DEFAULTS } from '../../core/defaults.js';
import { checkEncoderName, type EncoderName } from '../../core/encoders.js';
import { initialA } from '../../core/neuron.js';
import { networkConfig, type NetworkConfig } from '../../core/network/network.js';
import { networkShapes } from '../../core/network/shapes.js';
import { isArray, isGroup, type NirArray, type NirFile, type NirGroup, type NirValue } from './tree.js';

export class NirImportError extends Error {
  override readonly name = 'NirImportError';
}

export interface ImportedNetwork {
  config: NetworkConfig;
  /** Parameters and BN statistics by checkpoint name ("0.weight", "1.gamma", "1.running_var", "2.a"). */
  tensors: Map<string, Float32Array>;
}

export interface ImportOptions {
  /** Time steps (default: the graph's metadata T, else 8). */
  T?: number;
}

const BN_EPS = 1e-5;

export function nirToNetwork(file: NirFile, opts: ImportOptions = {}): ImportedNetwork {
  const g = file.node;
  if (g.type !== 'NIRGraph') throw new NirImportError(`/node is of type ${JSON.stringify(g.type)}, expected a NIRGraph`);
  const nodes = g.nodes;
  if (!isGroup(nodes)) throw new NirImportError('/node/nodes is missing or not a group');
  const edges = g.edges;
  if (typeof edges !== 'object' || (edges as { kind?: string }).kind !== 'strings') throw new NirImportError('/node/edges is missing or not an [E, 2] array of node names');
  const pairs = (edges as { data: string[] }).data;
  const next = new Map<string, string[]>();
  const prev = new Map<string, string[]>();
  for (let k = 0; k + 1 < pairs.length; k += 2) {
    const [a, b] = [pairs[k]!, pairs[k + 1]!];
    for (const n of [a, b]) if (!isGroup(nodes[n])) throw new NirImportError(`edge ${a} -> ${b}: no node '${n}' in /node/nodes`);
    next.set(a, [...(next.get(a) ?? []), b]);
    prev.set(b, [...(prev.get(b) ?? []), a]);
  }
  const typeOf = (name: string) => String((nodes[name] as NirGroup).type);
  const inputs = Object.keys(nodes).filter((n) => typeOf(n) === 'Input');
  if (inputs.length !== 1) throw new NirImportError(`the graph has ${inputs.length} Input nodes; this library's networks have exactly one`);

  // the chain from the Input
  const chain: string[] = [inputs[0]!];
  for (;;) {
    const at = chain.at(-1)!;
    const outs = next.get(at) ?? [];
    if (typeOf(at) === 'Output') break;
    if (outs.length !== 1) throw new NirImportError(`node '${at}' (${typeOf(at)}) has ${outs.length} successors; only a chain Input -> ... -> Output can be represented`);
    const n = outs[0]!;
    if ((prev.get(n) ?? []).length !== 1) throw new NirImportError(`node '${n}' (${typeOf(n)}) has ${(prev.get(n) ?? []).length} inputs; only a chain can be represented`);
    if (chain.includes(n)) throw new NirImportError(`the graph has a cycle through '${n}'; recurrent connections cannot be represented`);
    chain.push(n);
  }
  const unused = Object.keys(nodes).filter((n) => !chain.includes(n));
  if (unused.length) throw new NirImportError(`node(s) ${unused.join(', ')} are not on the chain from '${inputs[0]}' to the Output`);

  const meta = isGroup(g.metadata) ? g.metadata : {};
  const inputShape = ints(nodes[inputs[0]!] as NirGroup, 'shape', inputs[0]!);
  // the graph's time step in the units of tau (plif export writes it; 1 = tau in steps)
  const dt = isArray(meta.dt) ? Number(meta.dt.data[0]) : 1;
  if (!(dt > 0)) throw new NirImportError(`metadata dt = ${dt}; it must be > 0`);
  if (inputShape.length !== 3) throw new NirImportError(`Input '${inputs[0]}' has shape [${inputShape.join(', ')}]; this library takes [C, H, W]`);

  const tokens: string[] = [];
  const tensors = new Map<string, Float32Array>();
  const neuron = { vThreshold: null as number | null, vReset: null as number | null, decayInput: null as boolean | null, lifTau: null as number | null };
  const same = (what: keyof typeof neuron, v: number | boolean, name: string) => {
    const had = neuron[what];
    if (had !== null && had !== v) throw new NirImportError(`node '${name}': ${what} ${v} differs from ${had} of an earlier neuron node; this library has one value per network`);
    (neuron as Record<string, unknown>)[what] = v;
  };
  let classes = 0;
  for (let k = 1; k < chain.length; k++) {
    const name = chain[k]!;
    const node = nodes[name] as NirGroup;
    const type = typeOf(name);
    const idx = tokens.length;
    const fail = (why: string): never => {
      throw new NirImportError(`node '${name}' (${type}): ${why}`);
    };
    switch (type) {
      case 'Conv2d': {
        const w = floats(node, 'weight', name);
        if (w.shape.length !== 4 || w.shape[2] !== w.shape[3]) fail(`weight of shape [${w.shape.join(', ')}]; a square kernel [O, C, k, k] is needed`);
        const [O, , K] = w.shape as [number, number, number, number];
        const stride = pair(node, 'stride', name);
        if (typeof node.padding === 'string') fail(`padding '${node.padding}': give the padding as integers`);
        const padding = pair(node, 'padding', name);
        if (node.dilation !== undefined && pair(node, 'dilation', name) !== 1) fail('dilation other than 1 is not supported');
        if (node.groups !== undefined && ints(node, 'groups', name)[0] !== 1) fail('grouped convolutions are not supported');
        tokens.push(`c${O}k${K}s${stride}p${padding}`);
        tensors.set(`${idx}.weight`, Float32Array.from(w.data));
        const bias = node.bias !== undefined ? floats(node, 'bias', name).data : new Float32Array(O);
        if (bias.length !== O) fail(`bias has ${bias.length} values for ${O} output channels`);
        if (Array.from(bias).some((v) => v !== 0)) {
          // the bias as a BN in eval mode: (z - 0) / sqrt((1 - eps) + eps) * 1 + bias
          tokens.push('BN');
          tensors.set(`${idx + 1}.gamma`, new Float32Array(O).fill(1));
          tensors.set(`${idx + 1}.beta`, Float32Array.from(bias));
          tensors.set(`${idx + 1}.running_mean`, new Float32Array(O));
          tensors.set(`${idx + 1}.running_var`, new Float32Array(O).fill(1 - BN_EPS));
        }
        break;
      }
      case 'LIF':
      case 'IF': {
        const r = uniform(node, 'r', name);
        const vth = uniform(node, 'v_threshold', name);
        const vReset = node.v_reset !== undefined ? uniform(node, 'v_reset', name) : 0;
        same('vThreshold', vth, name);
        same('vReset', vReset, name);
        if (type === 'IF') {
          if (Math.abs(r * dt - 1) > 1e-6) fail(`r = ${r} at dt = ${dt}; this library's IF integrates H = V + X (r dt = 1)`);
          tokens.push('IF');
          break;
        }
        const tau = uniform(node, 'tau', name) / dt; // in steps
        if (!(tau > 1)) fail(`tau = ${tau}; a leaky neuron here needs tau > 1 (the time step)`);
        const vLeak = uniform(node, 'v_leak', name);
        if (vLeak !== vReset) fail(`v_leak ${vLeak} differs from v_reset ${vReset}; this library's neurons leak towards V_reset`);
        if (r === 1) same('decayInput', true, name);
        else if (Math.abs(r - tau) <= 1e-6 * tau) same('decayInput', false, name);
        else fail(`r = ${r}; only r = 1 (Eq. 6, decay_input) or r = tau can be represented`);
        const kind = isGroup(node.metadata) && node.metadata.neuron === 'LIF' ? 'LIF' : 'PLIF';
        if (kind === 'LIF') {
          same('lifTau', tau, name);
          tokens.push('LIF');
        } else {
          tokens.push('PLIF');
          tensors.set(`${idx}.a`, Float32Array.of(initialA(tau))); // tau = 1 + e^-a
        }
        break;
      }
      case 'SumPool2d': {
        const after = chain[k + 1];
        if (!after || typeOf(after) !== 'Threshold') fail('a sum pooling not followed by a Threshold has no counterpart (spike max-pooling is SumPool2d then Threshold)');
        const th = floats(nodes[after!] as NirGroup, 'threshold', after!).data;
        if (!Array.from(th).every((v) => v > 0 && v <= 1)) fail(`the Threshold '${after}' after it must lie in (0, 1] to be the max of binary spikes`);
        tokens.push(poolToken('MP', node, name));
        k++; // the Threshold is part of the max-pooling
        break;
      }
      case 'AvgPool2d':
        tokens.push(poolToken('AP', node, name));
        break;
      case 'Flatten':
        break; // FC layers flatten their input
      case 'Linear':
      case 'Affine': {
        const w = floats(node, 'weight', name);
        if (w.shape.length !== 2) fail(`weight of shape [${w.shape.join(', ')}], expected [out, in]`);
        if (type === 'Affine' && Array.from(floats(node, 'bias', name).data).some((v) => v !== 0)) fail("a nonzero bias cannot be represented (this library's FC layers have no bias)");
        const [O, I] = w.shape as [number, number];
        const last = chain[k + 1] !== undefined && typeOf(chain[k + 1]!) === 'Output';
        const M = I / O;
        if (last && Number.isInteger(M) && M > 1 && isVoting(w.data, O, M)) {
          tokens.push(`APk${M}s${M}`); // the voting layer
        } else {
          tokens.push(`FC${O}`);
          tensors.set(`${idx}.weight`, Float32Array.from(w.data));
        }
        break;
      }
      case 'Output': {
        const s = ints(node, 'shape', name);
        classes = s.reduce((a, d) => a * d, 1);
        break;
      }
      case 'Threshold':
        fail('a Threshold that does not follow a SumPool2d has no counterpart');
        break;
      default:
        fail(`no counterpart in this library (it represents Conv2d, LIF, IF, SumPool2d + Threshold, AvgPool2d, Flatten, Linear, Affine without bias)`);
    }
  }
  const static_ = meta.static_input !== undefined ? ints(meta, 'static_input', 'metadata')[0] === 1 : true;
  const encoder: EncoderName = typeof meta.encoder === 'string' ? checkEncoderName(meta.encoder) : 'direct';
  const T = opts.T ?? (meta.T !== undefined ? ints(meta, 'T', 'metadata')[0]! : 8);
  let config: NetworkConfig;
  try {
    config = networkConfig(tokens.join('-'), inputShape as [number, number, number], classes, {
      T,
      static: static_,
      encoder,
      vThreshold: neuron.vThreshold ?? PAPER_DEFAULTS.vThreshold,
      vReset: neuron.vReset ?? PAPER_DEFAULTS.vReset,
      decayInput: neuron.decayInput ?? true,
      tau0: neuron.lifTau ?? PAPER_DEFAULTS.tau0,
    });
    for (const l of networkShapes(config)) {
      for (const p of [...l.params, ...l.buffers]) {
        const t = tensors.get(p.name);
        const n = p.shape.reduce((a, d) => a * d, 1);
        if (!t || t.length !== n) throw new Error(`${p.name} needs ${n} values, the graph gives ${t ? t.length : 'none'}`);
      }
    }
  } catch (err) {
    throw new NirImportError(`the graph reads as ${tokens.join('-')} on [${inputShape.join(', ')}] with ${classes} classes, which is not a network here: ${(err as Error).message}`);
  }
  return { config, tensors };
}

function field(node: NirGroup, key: string, name: string): NirValue {
  const v = node[key];
  if (v === undefined) throw new NirImportError(`node '${name}' lacks '${key}'`);
  return v;
}

/**
 * A numeric array of a node, every value finite and within float32's range (a checkpoint holds float32:
 * a NaN or an infinity would be imported only for plif eval to refuse it; a double beyond 3.4e38 becomes one).
 */
function floats(node: NirGroup, key: string, name: string): NirArray {
  const v = field(node, key, name);
  if (!isArray(v)) throw new NirImportError(`node '${name}': '${key}' is not a numeric array`);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < v.data.length; i++) {
    if (!Number.isFinite(Math.fround(v.data[i]!))) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    const at = v.data[first]!;
    const what = Number.isNaN(at) || !Number.isFinite(at) ? String(at) : `${at} (beyond float32's range)`;
    throw new NirImportError(`node '${name}': tensor '${key}' holds ${bad} value(s) that are not finite float32 numbers, the first ${what} at index ${first} of shape [${v.shape.join(', ')}]; a checkpoint's values must be finite`);
  }
  return v;
}

function ints(node: NirGroup, key: string, name: string): number[] {
  const v = floats(node, key, name);
  const out = Array.from(v.data as ArrayLike<number>);
  if (!out.every(Number.isInteger)) throw new NirImportError(`node '${name}': '${key}' holds non-integers ${JSON.stringify(out)}`);
  return out;
}

/** One integer for both spatial dimensions (an int or an equal pair). */
function pair(node: NirGroup, key: string, name: string): number {
  const v = ints(node, key, name);
  if (v.length === 0 || v.length > 2 || v.some((x) => x !== v[0])) throw new NirImportError(`node '${name}': ${key} ${JSON.stringify(v)}; only the same value for height and width is supported`);
  return v[0]!;
}

/** The single value of a per-neuron parameter array (one value per layer here). */
function uniform(node: NirGroup, key: string, name: string): number {
  const d = floats(node, key, name).data;
  if (d.length === 0) throw new NirImportError(`node '${name}': '${key}' is empty`);
  const v = d[0]!;
  for (let i = 1; i < d.length; i++) {
    if (d[i] !== v) throw new NirImportError(`node '${name}': '${key}' differs between neurons (${v} at 0, ${d[i]} at ${i}); this library has one value per layer`);
  }
  return v;
}

function poolToken(prefix: 'MP' | 'AP', node: NirGroup, name: string): string {
  const k = pair(node, 'kernel_size', name);
  const s = pair(node, 'stride', name);
  if (node.padding !== undefined && pair(node, 'padding', name) !== 0) throw new NirImportError(`node '${name}': padded pooling is not supported`);
  return `${prefix}k${k}s${s}`;
}

/** w [C, C*M] averages each class's M consecutive neurons (weights 1/M, zero elsewhere). */
function isVoting(w: ArrayLike<number>, C: number, M: number): boolean {
  const v = Math.fround(1 / M);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < C * M; i++) {
      const want = Math.floor(i / M) === c ? v : 0;
      if (Math.fround(w[c * C * M + i]!) !== want) return false;
    }
  }
  return true;
}
