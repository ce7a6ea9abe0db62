// NIR export and import: the file's layout (read with h5wasm, as the reference nir package lays it out),
// a NIR interpreter of the tests reproducing plif eval's predictions, the neuron mapping against core's
// neuron, the round trip back into a checkpoint, and the errors for what cannot be represented.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { saveCheckpointFile } from '../../training/checkpoint-file.js';
import { encodeSpikes } from '../../core/encoders.js';
import { predict } from '../../core/loss.js';
import { buildNetwork, networkConfig } from '../../core/network/network.js';
import { inferBatch } from '../../core/network/train.js';
import { neuronConfig, neuronForward } from '../../core/neuron.js';
import { Rng } from '../../core/rng.js';
import { main } from '../../cli/dispatch.js';
import { writeNirFile } from '../../interop/nir/hdf5.js';
import { f64, i64, type NirFile } from '../../interop/nir/tree.js';
import { loadCheckpointFile } from '../../training/checkpoint.js';
import { runPaths } from '../../training/rundir.js';
import { openSource } from '../../training/source.js';
import { capture } from '../capture.js';
import { writeTinyFashionMnist } from '../training/fixtures.js';
import { predictFromOutputs, readNirGraph, simulate } from './interpreter.js';

const tmp = (p: string) => mkdtempSync(join(tmpdir(), p));

describe('plif export --format nir on a trained checkpoint', () => {
  let dataDir: string;
  let run: string;
  let nirPath: string;
  beforeAll(async () => {
    dataDir = writeTinyFashionMnist(160, 60);
    run = tmp('plif-nir-run-');
    const r = await capture(() => main(['train', '--preset', 'fmnist-small', '--data-dir', dataDir, '--T', '4', '--epochs', '3', '--seed', '1', '--eval-batch', '30', '--out', run, '--json']));
    expect(r.code, r.err).toBe(0);
    nirPath = join(tmp('plif-nir-'), 'net.nir');
    const e = await capture(() => main(['export', '--checkpoint', runPaths(run).last, '--format', 'nir', '--out', nirPath]));
    expect(e.code, e.err).toBe(0);
    expect(e.out).toContain('NIR 1.0.0 graph of 16 nodes');
  }, 120_000);

  it('lays the graph out as the reference nir package does: version, node/type, node/nodes/<name>, node/edges', async () => {
    const g = await readNirGraph(nirPath);
    expect(g.version).toMatch(/^1\.0\./);
    const types = [...g.nodes].map(([n, v]) => `${n}:${v.type}`).sort();
    expect(types).toEqual(
      [
        'input:Input', '0_conv:Conv2d', '2_lif:LIF', '3_maxpool_sum:SumPool2d', '3_maxpool_threshold:Threshold',
        '4_conv:Conv2d', '6_lif:LIF', '7_maxpool_sum:SumPool2d', '7_maxpool_threshold:Threshold',
        '9_flatten:Flatten', '9_linear:Linear', '10_lif:LIF', '12_linear:Linear', '13_lif:LIF', '14_vote:Linear', 'output:Output',
      ].sort(),
    );
    // a chain: input -> 0_conv -> 2_lif -> ... -> 14_vote -> output
    expect(g.edges[0]).toEqual(['input', '0_conv']);
    expect(g.edges.at(-1)).toEqual(['14_vote', 'output']);
    expect(g.edges).toHaveLength(15);
    const conv = g.nodes.get('4_conv')!.fields;
    expect([...conv.keys()].sort()).toEqual(['bias', 'dilation', 'groups', 'input_shape', 'padding', 'stride', 'type', 'weight']);
    expect((conv.get('weight') as { shape: number[] }).shape).toEqual([16, 16, 3, 3]);
    expect(Array.from((conv.get('input_shape') as { data: Float64Array }).data)).toEqual([14, 14]);
    const lif = g.nodes.get('2_lif')!.fields;
    for (const k of ['tau', 'r', 'v_leak', 'v_threshold', 'v_reset']) expect((lif.get(k) as { shape: number[] }).shape).toEqual([16, 28, 28]);
    expect(Array.from((lif.get('r') as { data: Float64Array }).data.subarray(0, 3))).toEqual([1, 1, 1]);
    const vote = g.nodes.get('14_vote')!.fields.get('weight') as { data: Float64Array; shape: number[] };
    expect(vote.shape).toEqual([10, 100]);
    expect(vote.data[0]).toBeCloseTo(0.1, 7);
    expect(g.metadata.get('encoder')).toBe('direct');
    expect(Array.from((g.metadata.get('dt') as { data: Float64Array }).data)).toEqual([1]);
    // the learned tau of each PLIF layer
    const ck = await loadCheckpointFile(cpuBackend(), runPaths(run).last);
    const taus = ck.net.taus();
    expect((lif.get('tau') as { data: Float64Array }).data[0]).toBe(taus.find((t) => t.index === 2)!.tau);
    ck.net.dispose();
  });

  it("a NIR interpreter of the tests reproduces plif eval's predictions on every test image", async () => {
    const g = await readNirGraph(nirPath);
    const src = await openSource('fashion-mnist', 'test', { dataDir });
    const idx = Uint32Array.from({ length: src.n }, (_, i) => i);
    const x = await src.batch(idx, 4, null);
    const ck = await loadCheckpointFile(cpuBackend(), runPaths(run).last);
    const library = predict(await inferBatch(ck.net, x, src.n), 4, src.n, 10, ck.net.spikesPerClass());
    ck.net.dispose();
    const per = 784;
    const interpreted = Array.from(idx, (i) => predictFromOutputs(simulate(g, () => x.subarray(i * per, (i + 1) * per), 4)));
    expect(interpreted).toEqual(Array.from(library));
    // and plif eval's accuracy
    const ev = await capture(() => main(['eval', '--checkpoint', runPaths(run).last, '--data-dir', dataDir, '--json']));
    const acc = interpreted.filter((p, i) => p === src.labels[i]).length / src.n;
    expect(JSON.parse(ev.out).accuracy).toBe(acc);
    expect(acc).toBeGreaterThan(0.3);

    // written for dt = 1e-4 (tau in seconds of 0.1 ms steps): the same predictions
    const at = join(tmp('plif-nir-dt-'), 'dt.nir');
    const e = await capture(() => main(['export', '--checkpoint', runPaths(run).last, '--out', at, '--dt', '1e-4']));
    expect(e.code, e.err).toBe(0);
    const g2 = await readNirGraph(at);
    const tau1 = (g.nodes.get('2_lif')!.fields.get('tau') as { data: Float64Array }).data[0]!;
    expect((g2.nodes.get('2_lif')!.fields.get('tau') as { data: Float64Array }).data[0]).toBeCloseTo(tau1 * 1e-4, 15);
    expect(Array.from(idx, (i) => predictFromOutputs(simulate(g2, () => x.subarray(i * per, (i + 1) * per), 4)))).toEqual(interpreted);
  });

  it('plif import reads it back into a checkpoint that plif eval scores exactly as the original', async () => {
    const out = join(tmp('plif-nir-imp-'), 'imported.safetensors');
    const r = await capture(() => main(['import', '--format', 'nir', nirPath, '--out', out]));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('c16k3s1p1-BN-PLIF-MPk2s2-c16k3s1p1-BN-PLIF-MPk2s2-FC128-PLIF-FC100-PLIF-APk10s10');
    const a = await capture(() => main(['eval', '--checkpoint', runPaths(run).last, '--data-dir', dataDir, '--json']));
    const b = await capture(() => main(['eval', '--checkpoint', out, '--dataset', 'fashion-mnist', '--data-dir', dataDir, '--json']));
    expect(b.code, b.err).toBe(0);
    const strip = (s: string) => {
      const { checkpoint: _c, tau, ...rest } = JSON.parse(s);
      return { ...rest, tau: tau.map((t: { layer: number; tau: number }) => t.tau.toFixed(5)) };
    };
    expect(strip(b.out)).toEqual(strip(a.out));
    // and exports again to the same graph (up to the float32 rounding of the folded weights)
    const again = join(tmp('plif-nir-again-'), 'again.nir');
    expect((await capture(() => main(['export', '--checkpoint', out, '--out', again]))).code).toBe(0);
    const g1 = await readNirGraph(nirPath);
    const g2 = await readNirGraph(again);
    // (the dropout layers, the identity at inference, are not in the graph: the layer numbers shift)
    const chain = (g: typeof g1) => g.edges.map(([a]) => g.nodes.get(a)!.type);
    expect(chain(g2)).toEqual(chain(g1));
    const w1 = g1.nodes.get('4_conv')!.fields.get('bias') as { data: Float64Array };
    const w2 = g2.nodes.get('4_conv')!.fields.get('bias') as { data: Float64Array };
    w1.data.forEach((v, i) => expect(Math.abs(w2.data[i]! - v)).toBeLessThanOrEqual(1e-5 * (1 + Math.abs(v))));
  });
});

describe('the neuron mapping', () => {
  const variants = [
    { token: 'LIF', decayInput: true, node: '1_lif', r: 1 },
    { token: 'LIF', decayInput: false, node: '1_lif', r: 1.7 },
    { token: 'IF', decayInput: true, node: '1_if', r: 1 },
  ] as const;
  for (const v of variants) {
    it(`Euler (dt = 1) of NIR's ${v.token} (r = ${v.r}${v.token === 'LIF' ? `, decay_input ${v.decayInput}` : ''}) is the paper's charge, spike for spike`, async () => {
      // one exported neuron layer run by the interpreter against core's neuronForward, tau0 != 2, V_reset != 0
      const b = cpuBackend();
      const cfg = networkConfig(`FC30-${v.token}-APk10s10`, [1, 2, 3], 3, { T: 12, tau0: 1.7, vReset: -0.2, vThreshold: 0.6, decayInput: v.decayInput });
      const net = buildNetwork(b, cfg, Rng.seeded(2));
      const path = join(tmp('plif-nir-lif-'), 'lif.nir');
      const ck = join(tmp('plif-nir-lifck-'), 'lif.safetensors');
      await saveCheckpointFile(ck, net);
      expect((await capture(() => main(['export', '--checkpoint', ck, '--out', path]))).code).toBe(0);
      const g = await readNirGraph(path);
      const fields = g.nodes.get(v.node)!.fields;
      const first = (k: string) => (fields.get(k) as { data: Float64Array }).data[0];
      expect(first('r')).toBe(v.r);
      expect(first('v_reset')).toBeCloseTo(-0.2, 12);
      if (v.token === 'LIF') {
        expect(first('tau')).toBe(1.7);
        expect(first('v_leak')).toBeCloseTo(-0.2, 12);
      }
      // drive the neuron node alone: a graph Input -> neurons -> Output
      const only = { version: g.version, nodes: new Map([...g.nodes].filter(([n]) => ['input', v.node, 'output'].includes(n))), edges: [['input', v.node], [v.node, 'output']] as [string, string][], metadata: g.metadata };
      only.nodes.set('input', { type: 'Input', fields: new Map([['shape', { data: Float64Array.of(30), shape: [1] }]]) });
      const rng = Rng.seeded(9);
      const xs = Array.from({ length: 12 }, () => Float32Array.from({ length: 30 }, () => rng.range(-0.5, 1.5)));
      const s = simulate(only, (t) => xs[t]!, 12);
      const x = new Float64Array(12 * 30);
      xs.forEach((row, t) => x.set(row, t * 30));
      const ref = neuronForward(neuronConfig({ kind: v.token === 'IF' ? 'if' : 'lif', tau: 1.7, vReset: -0.2, vThreshold: 0.6, decayInput: v.decayInput }), x, 12);
      expect(s.flatMap((o) => Array.from(o))).toEqual(Array.from(ref.s));
      expect(ref.s.some((q) => q === 1) && ref.s.some((q) => q === 0)).toBe(true);
      net.dispose();
    });
  }

  it('a network fed by the latency encoder: the interpreter given the encoder spikes predicts as the library', async () => {
    const b = cpuBackend();
    const cfg = networkConfig('c6k3s1-BN-PLIF-MPk2s2-FC40-PLIF-APk10s10', [1, 8, 8], 4, { T: 6, encoder: 'latency' });
    const net = buildNetwork(b, cfg, Rng.seeded(5));
    const ck = join(tmp('plif-nir-lat-'), 'lat.safetensors');
    await saveCheckpointFile(ck, net);
    const path = join(tmp('plif-nir-lat-'), 'lat.nir');
    expect((await capture(() => main(['export', '--checkpoint', ck, '--out', path]))).code).toBe(0);
    const g = await readNirGraph(path);
    expect(g.metadata.get('encoder')).toBe('latency');
    const rng = Rng.seeded(1);
    const N = 20;
    const x = Float32Array.from({ length: N * 64 }, () => (rng.uniform() < 0.3 ? 0 : rng.uniform()));
    const out = await inferBatch(net, x, N);
    const spikes = encodeSpikes('latency', x, N, 6, null);
    for (let n = 0; n < N; n++) {
      const outs = simulate(g, (t) => spikes.subarray((t * N + n) * 64, (t * N + n + 1) * 64), 6);
      for (let t = 0; t < 6; t++) expect(Array.from(outs[t]!)).toEqual(Array.from(out.subarray((t * N + n) * 4, (t * N + n + 1) * 4)));
    }
    net.dispose();
  });
});

describe('what cannot be represented', () => {
  it('plif export refuses soft reset, naming the layer', async () => {
    const net = buildNetwork(cpuBackend(), networkConfig('FC20-PLIF-APk10s10', [1, 2, 2], 2, { T: 2, vReset: null }), Rng.seeded(0));
    const ck = join(tmp('plif-nir-soft-'), 'soft.safetensors');
    await saveCheckpointFile(ck, net);
    // the checkpoint cannot be converted: thrown, exit 1 from the CLI
    await expect(main(['export', '--checkpoint', ck, '--out', join(tmp('plif-nir-soft-'), 'x.nir')])).rejects.toThrow('layer 1 (PLIF): soft reset');
    net.dispose();
  });

  it('plif import names the node it cannot represent, and refuses a file that is not NIR', async () => {
    const dir = tmp('plif-nir-bad-');
    const shape = [4];
    const graph = (lif: Record<string, unknown>): NirFile => ({
      version: '1.0.0',
      node: {
        type: 'NIRGraph',
        nodes: {
          input: { type: 'Input', shape: i64([1, 2, 2]) },
          fc: { type: 'Linear', weight: f64(new Float64Array(16).fill(0.1), [4, 4]) },
          neurons: { tau: f64([2, 2, 2, 2], shape), r: f64([1, 1, 1, 1], shape), v_leak: f64([0, 0, 0, 0], shape), v_threshold: f64([1, 1, 1, 1], shape), v_reset: f64([0, 0, 0, 0], shape), ...lif } as never,
          output: { type: 'Output', shape: i64([4]) },
        },
        edges: { kind: 'strings', shape: [3, 2], data: ['input', 'fc', 'fc', 'neurons', 'neurons', 'output'] },
      },
    });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ type: 'CubaLIF' }, /node 'neurons' \(CubaLIF\): no counterpart in this library/],
      [{ type: 'LIF', tau: f64([2, 3, 2, 2], shape) }, /node 'neurons': 'tau' differs between neurons \(2 at 0, 3 at 1\); this library has one value per layer/],
      [{ type: 'LIF', v_leak: f64([0.5, 0.5, 0.5, 0.5], shape) }, /v_leak 0.5 differs from v_reset 0/],
      [{ type: 'LIF', r: f64([2.5, 2.5, 2.5, 2.5], shape) }, /r = 2.5; only r = 1/],
    ];
    for (const [lif, want] of cases) {
      const p = join(dir, 'g.nir');
      await writeNirFile(p, graph(lif));
      // a fault of the file, as a corrupt checkpoint is: thrown, exit 1 from the CLI (test/reliability/messages.test.ts)
      await expect(main(['import', '--format', 'nir', p, '--out', join(dir, 'g.safetensors')])).rejects.toThrow(want);
    }
    // the good one imports (FC4-PLIF on [1, 2, 2] with 4 classes)
    const ok = join(dir, 'ok.nir');
    await writeNirFile(ok, graph({ type: 'LIF' }));
    const r = await capture(() => main(['import', '--format', 'nir', ok, '--out', join(dir, 'ok.safetensors')]));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('FC4-PLIF on [1, 2, 2], 4 classes');
    // not an HDF5 file at all
    const junk = join(dir, 'junk.nir');
    writeFileSync(junk, 'not hdf5');
    await expect(main(['import', '--format', 'nir', junk, '--out', join(dir, 'j.safetensors')])).rejects.toThrow(/cannot read the NIR file .*junk.nir: not an HDF5 file/);
    await expect(main(['import', '--format', 'nir', join(dir, 'missing.nir'), '--out', join(dir, 'j.safetensors')])).rejects.toThrow(/cannot read the NIR file .*missing.nir: .*ENOENT/);
  });
});
