// A small NIR interpreter for the tests, independent of the library's network code and of its NIR
// reader: it opens the HDF5 file with h5wasm, reads the graph the way the reference `nir` package lays it
// out (/version, /node/type, /node/nodes/<name>/..., /node/edges), and simulates it step by step:
//   Conv2d, Linear, Affine, Flatten, SumPool2d, AvgPool2d, Threshold (x > threshold), and the neurons by
//   forward Euler of NIR's equations with the dt of the graph's metadata (default 1):
//     LIF: v <- v + (dt/tau)((v_leak - v) + r I);  IF: v <- v + dt r I;  spike when v >= v_threshold, v <- v_reset
//   with v starting at v_reset. Values are kept in float32 between nodes, as the library's backends do.
import h5wasm from 'h5wasm/node';

type Arr = { data: Float64Array; shape: number[] };
export interface NirNodeData {
  type: string;
  fields: Map<string, Arr | string>;
}
export interface NirGraphData {
  version: string;
  nodes: Map<string, NirNodeData>;
  edges: [string, string][];
  metadata: Map<string, Arr | string>;
}

function readFields(g: InstanceType<typeof h5wasm.Group>): Map<string, Arr | string> {
  const out = new Map<string, Arr | string>();
  for (const k of g.keys()) {
    const e = g.get(k);
    if (!(e instanceof h5wasm.Dataset)) continue;
    const v = e.value;
    if (typeof v === 'string') out.set(k, v);
    else if (typeof v === 'number' || typeof v === 'bigint') out.set(k, { data: Float64Array.of(Number(v)), shape: [] });
    else out.set(k, { data: Float64Array.from(Array.from(v as ArrayLike<number | bigint>, Number)), shape: e.shape ?? [] });
  }
  return out;
}

export async function readNirGraph(path: string): Promise<NirGraphData> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'r');
  try {
    const version = String((f.get('version') as InstanceType<typeof h5wasm.Dataset>).value);
    const node = f.get('node') as InstanceType<typeof h5wasm.Group>;
    const type = (node.get('type') as InstanceType<typeof h5wasm.Dataset>).value;
    if (type !== 'NIRGraph') throw new Error(`/node/type is ${String(type)}`);
    const nodesGroup = node.get('nodes') as InstanceType<typeof h5wasm.Group>;
    const nodes = new Map<string, NirNodeData>();
    for (const name of nodesGroup.keys()) {
      const g = nodesGroup.get(name) as InstanceType<typeof h5wasm.Group>;
      const fields = readFields(g);
      nodes.set(name, { type: fields.get('type') as string, fields });
    }
    const e = node.get('edges') as InstanceType<typeof h5wasm.Dataset>;
    const flat = e.value as string[];
    const edges: [string, string][] = [];
    for (let i = 0; i < flat.length; i += 2) edges.push([flat[i]!, flat[i + 1]!]);
    const m = node.get('metadata');
    const metadata = m instanceof h5wasm.Group ? readFields(m) : new Map<string, Arr | string>();
    return { version, nodes, edges, metadata };
  } finally {
    f.close();
  }
}

const arr = (n: NirNodeData, k: string): Arr => {
  const v = n.fields.get(k);
  if (v === undefined || typeof v === 'string') throw new Error(`node of type ${n.type} lacks array '${k}'`);
  return v;
};

function conv2d(x: Float32Array, shape: number[], w: Arr, bias: Arr | null, stride: number, pad: number): { y: Float32Array; shape: number[] } {
  const [C, H, W] = shape as [number, number, number];
  const [O, Ci, K] = w.shape as [number, number, number, number];
  if (Ci !== C) throw new Error(`conv expects ${Ci} channels, got ${C}`);
  const Ho = Math.floor((H + 2 * pad - K) / stride) + 1;
  const Wo = Math.floor((W + 2 * pad - K) / stride) + 1;
  const y = new Float32Array(O * Ho * Wo);
  for (let o = 0; o < O; o++) {
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        let s = bias ? bias.data[o]! : 0;
        for (let c = 0; c < C; c++) {
          for (let ky = 0; ky < K; ky++) {
            const iy = oy * stride + ky - pad;
            if (iy < 0 || iy >= H) continue;
            for (let kx = 0; kx < K; kx++) {
              const ix = ox * stride + kx - pad;
              if (ix < 0 || ix >= W) continue;
              const v = x[(c * H + iy) * W + ix]!;
              if (v !== 0) s += v * w.data[((o * C + c) * K + ky) * K + kx]!;
            }
          }
        }
        y[(o * Ho + oy) * Wo + ox] = s;
      }
    }
  }
  return { y, shape: [O, Ho, Wo] };
}

function pool(x: Float32Array, shape: number[], k: number, s: number, avg: boolean): { y: Float32Array; shape: number[] } {
  const [C, H, W] = shape as [number, number, number];
  const Ho = Math.floor((H - k) / s) + 1;
  const Wo = Math.floor((W - k) / s) + 1;
  const y = new Float32Array(C * Ho * Wo);
  for (let c = 0; c < C; c++)
    for (let oy = 0; oy < Ho; oy++)
      for (let ox = 0; ox < Wo; ox++) {
        let sum = 0;
        for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) sum += x[(c * H + oy * s + ky) * W + ox * s + kx]!;
        y[(c * Ho + oy) * Wo + ox] = avg ? sum / (k * k) : sum;
      }
  return { y, shape: [C, Ho, Wo] };
}

/**
 * Runs the graph on one sample for `steps` steps; `inputAt(t)` gives the Input node's value at step t.
 * Returns the Output node's value at every step.
 */
export function simulate(g: NirGraphData, inputAt: (t: number) => Float32Array, steps: number): Float32Array[] {
  // topological order from the Input nodes
  const order: string[] = [];
  const indeg = new Map([...g.nodes.keys()].map((n) => [n, 0]));
  for (const [, b] of g.edges) indeg.set(b, indeg.get(b)! + 1);
  const ready = [...indeg].filter(([, d]) => d === 0).map(([n]) => n);
  while (ready.length) {
    const n = ready.shift()!;
    order.push(n);
    for (const [a, b] of g.edges) if (a === n && indeg.set(b, indeg.get(b)! - 1).get(b) === 0) ready.push(b);
  }
  if (order.length !== g.nodes.size) throw new Error('the graph has a cycle');
  const state = new Map<string, Float32Array>();
  const dtField = g.metadata.get('dt');
  const dt = dtField && typeof dtField !== 'string' ? dtField.data[0]! : 1;
  const outputs: Float32Array[] = [];
  for (let t = 0; t < steps; t++) {
    const value = new Map<string, { y: Float32Array; shape: number[] }>();
    for (const name of order) {
      const node = g.nodes.get(name)!;
      const ins = g.edges.filter(([, b]) => b === name).map(([a]) => value.get(a)!);
      let x: { y: Float32Array; shape: number[] };
      if (node.type === 'Input') x = { y: inputAt(t), shape: Array.from(arr(node, 'shape').data) };
      else {
        x = { y: Float32Array.from(ins[0]!.y), shape: ins[0]!.shape };
        for (const o of ins.slice(1)) for (let i = 0; i < x.y.length; i++) x.y[i]! += o.y[i]!;
      }
      let out: { y: Float32Array; shape: number[] };
      switch (node.type) {
        case 'Input':
        case 'Output':
          out = x;
          break;
        case 'Conv2d': {
          const stride = arr(node, 'stride').data;
          const pad = arr(node, 'padding').data;
          if (stride[0] !== stride[1] || pad[0] !== pad[1] || arr(node, 'dilation').data.some((d) => d !== 1)) throw new Error('unsupported conv');
          out = conv2d(x.y, x.shape, arr(node, 'weight'), node.fields.has('bias') ? arr(node, 'bias') : null, stride[0]!, pad[0]!);
          break;
        }
        case 'Flatten':
          out = { y: x.y, shape: [x.y.length] };
          break;
        case 'Linear':
        case 'Affine': {
          const w = arr(node, 'weight');
          const [O, I] = w.shape as [number, number];
          const b = node.type === 'Affine' ? arr(node, 'bias').data : null;
          const y = new Float32Array(O);
          for (let o = 0; o < O; o++) {
            let s = b ? b[o]! : 0;
            for (let i = 0; i < I; i++) s += w.data[o * I + i]! * x.y[i]!;
            y[o] = s;
          }
          out = { y, shape: [O] };
          break;
        }
        case 'SumPool2d':
        case 'AvgPool2d': {
          const k = arr(node, 'kernel_size').data;
          const s = arr(node, 'stride').data;
          out = pool(x.y, x.shape, k[0]!, s[0]!, node.type === 'AvgPool2d');
          break;
        }
        case 'Threshold': {
          const th = arr(node, 'threshold').data;
          out = { y: Float32Array.from(x.y, (v, i) => (v > th[i]! ? 1 : 0)), shape: x.shape };
          break;
        }
        case 'LIF':
        case 'IF': {
          const lif = node.type === 'LIF';
          const r = arr(node, 'r').data;
          const vth = arr(node, 'v_threshold').data;
          const vreset = arr(node, 'v_reset').data;
          const tau = lif ? arr(node, 'tau').data : null;
          const vleak = lif ? arr(node, 'v_leak').data : null;
          let v = state.get(name);
          if (!v) state.set(name, (v = Float32Array.from(vreset)));
          const y = new Float32Array(x.y.length);
          for (let i = 0; i < y.length; i++) {
            // forward Euler, dt = 1
            const h = lif ? v[i]! + (dt / tau![i]!) * (vleak![i]! - v[i]! + r[i]! * x.y[i]!) : v[i]! + dt * r[i]! * x.y[i]!;
            const spike = h >= vth[i]!;
            y[i] = spike ? 1 : 0;
            v[i] = spike ? vreset[i]! : h;
          }
          out = { y, shape: x.shape };
          break;
        }
        default:
          throw new Error(`the test interpreter has no rule for NIR node type ${node.type}`);
      }
      value.set(name, out);
      if (node.type === 'Output') outputs.push(Float32Array.from(out.y));
    }
  }
  return outputs;
}

/**
 * Predicted class: argmax of the output summed over the steps, ties to the first class. The voted outputs
 * are spike counts / M, so distinct totals differ by at least 1/M; sums within 1e-6 (float rounding of
 * k/M) are ties, as equal spike counts are for the library.
 */
export function predictFromOutputs(outs: Float32Array[]): number {
  const sum = new Float64Array(outs[0]!.length);
  for (const o of outs) for (let i = 0; i < o.length; i++) sum[i]! += o[i]!;
  let best = 0;
  for (let i = 1; i < sum.length; i++) if (sum[i]! > sum[best]! + 1e-6) best = i;
  return best;
}
