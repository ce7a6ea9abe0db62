// Contracts of Network, its layers and the training step that the whole-step property does not see: what
// evaluation keeps alive, how many random numbers initialisation and dropout draw (seeded runs and
// resumed runs depend on it), dropout's mask statistics, the encoder flags and taus that describe()
// reports, and every refusal with its message. (Each of these was a surviving mutant of npm run mutate.)
import { beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../core/backend.js';
import { DropoutLayer, poolTieDraws } from '../../core/network/layers.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { adamUpdate, createAdam, disposeAdam, epochLr, inferBatch, lossAndGradients } from '../../core/network/train.js';
import { mseLossValue } from '../../core/loss.js';
import { Rng } from '../../core/rng.js';
import { referenceBackend } from '../../reference/ops-backend.js';

// made inside each test, not at collection (npm run mutate would count that code as static)
let b!: Backend;
beforeEach(() => {
  b = referenceBackend();
});
const input = (n: number, size: number) => Float32Array.from({ length: n * size }, (_, i) => Math.sin(i) * 2 + 0.5);

describe('network contracts', () => {
  it('evaluation keeps only the newest activation alive while it runs', () => {
    const cfg = networkConfig('c2k3s1-BN-PLIF-MPk2s2-c2k3s1-BN-PLIF-FC6-LIF-DP-FC20-PLIF-APk10s10', [1, 6, 6], 2, { T: 3 });
    const net = new Network(b, cfg, Rng.seeded(1));
    const x = b.upload(input(2, 36), [2, 1, 6, 6]);
    const base = b.liveTensors();
    const live: number[] = [];
    net.forward(x, { training: false, rng: null, observe: () => live.push(b.liveTensors() - base) });
    net.release();
    expect(b.liveTensors()).toBe(base);
    // the layer's output and the one before it (disposed right after); at the encoder's end also its
    // flat and repeated views; nothing a layer saved for a backward
    expect(live).toHaveLength(13);
    expect(Math.max(...live)).toBeLessThanOrEqual(4);
    expect(live.slice(3)).toEqual(new Array(10).fill(2));
    b.dispose(x);
    net.dispose();
  });

  it('initialisation draws one number per weight; dropout one per feature of each sample; DP0 draws none', async () => {
    const cfg = networkConfig('FC6-PLIF-DP0-DP-FC2', [1, 2, 2], 2, { T: 2, static: false });
    const r = Rng.seeded(5);
    const twin = Rng.seeded(5);
    const net = new Network(b, cfg, r);
    for (let i = 0; i < 6 * 4 + 2 * 6; i++) twin.uniform();
    expect(r.state()).toEqual(twin.state());
    const step = Rng.seeded(6);
    const stepTwin = Rng.seeded(6);
    await lossAndGradients(net, { x: input(2 * 3, 4).subarray(0, 2 * 3 * 4), labels: Int32Array.of(0, 1, 1) }, step);
    for (let i = 0; i < 3 * 6; i++) stepTwin.uniform(); // N = 3 samples x 6 features, for DP only
    expect(step.state()).toEqual(stepTwin.state());
    net.dispose();
  });

  it('a dropout mask zeroes a fraction p of the features and scales the rest by 1/(1-p)', () => {
    const layer = new DropoutLayer(0, 'DP0.25', [1000], 0.25);
    const x = b.upload(new Float64Array(2 * 1000).fill(1), [1, 2, 1000]);
    const y = b.download(layer.forward(b, x, { training: true, rng: Rng.seeded(2) }));
    const zeros = y.filter((v) => v === 0).length;
    expect(zeros).toBeGreaterThan(400);
    expect(zeros).toBeLessThan(600);
    expect(y.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    expect(() => layer.forward(b, x, { training: true, rng: null })).toThrow(/dropout in training mode needs an Rng/);
    layer.release(b);
  });

  it('describe() flags the static encoder and gives taus of neuron layers only; IF has tau = Infinity', () => {
    const cfg = networkConfig('c2k3s1-BN-IF-MPk2s2-FC20-LIF-APk10s10', [1, 6, 6], 2, { T: 2, tau0: 3, pool: 'avg' });
    const net = new Network(b, cfg, Rng.seeded(1));
    const d = net.describe();
    expect(d.map((l) => l.encoder)).toEqual([true, true, false, false, false, false, false]);
    expect(d.map((l) => l.tau)).toEqual([undefined, undefined, Infinity, undefined, undefined, 3, undefined]);
    expect(d[3]!.token).toBe('APk2s2');
    const mp = new Network(b, networkConfig('c2k3s1-PLIF-APk2s2-FC20-PLIF-APk10s10', [1, 6, 6], 2, { pool: 'max' }), Rng.seeded(1));
    expect(mp.describe()[2]!.token).toBe('MPk2s2');
    mp.dispose();
    net.dispose();
  });

  it('refuses bad settings, a wrong input shape, bad labels and a backward without a training forward', async () => {
    expect(() => networkConfig('FC2-PLIF', [1, 2, 2], 2, { T: 0 })).toThrow(/T must be a positive integer, got 0/);
    expect(() => networkConfig('FC2-PLIF', [1, 2, 2], 2, { T: 1.5 })).toThrow(/T must be a positive integer/);
    expect(() => networkConfig('FC2-PLIF', [1, 2, 2], 0)).toThrow(/classes must be a positive integer, got 0/);
    expect(() => networkConfig('FC2-PLIF', [1, 2, 2], 2.5)).toThrow(/classes must be a positive integer/);
    expect(() => networkConfig('FC2-PLIF', [1, 2, 2], 2, { surrogate: { name: 'nope' as 'atan', alpha: 1 } })).toThrow(/unknown surrogate 'nope'/);
    const net = new Network(b, networkConfig('FC2-PLIF', [1, 2, 2], 2, { T: 2 }), Rng.seeded(1));
    expect(() => net.backward(b.zeros([2, 1, 2]))).toThrow(/backward\(\) needs a training-mode forward\(\) first/);
    const bad = b.upload(new Float64Array(4), [2, 1, 2]);
    expect(() => net.forward(bad, { training: false, rng: null })).toThrow(/network input has shape \[2, 1, 2\], expected \[2, 1, 2, 2\]/);
    const wrongSize = b.upload(new Float64Array(16), [2, 2, 2, 2]);
    expect(() => net.forward(wrongSize, { training: false, rng: null })).toThrow(/network input has shape \[2, 2, 2, 2\], expected \[2, 1, 2, 2\]/);
    const x = input(1, 4);
    await expect(lossAndGradients(net, { x: x.subarray(0, 3), labels: Int32Array.of(0) }, Rng.seeded(1))).rejects.toThrow(/batch input has 3 values, expected \[1, 1, 2, 2\] = 4/);
    await expect(lossAndGradients(net, { x, labels: Int32Array.of(2) }, Rng.seeded(1))).rejects.toThrow(/label 2 outside 0\.\.1/);
    await expect(lossAndGradients(net, { x, labels: Int32Array.of(-1) }, Rng.seeded(1))).rejects.toThrow(/label -1 outside 0\.\.1/);
    const { loss } = await lossAndGradients(net, { x, labels: Int32Array.of(1) }, Rng.seeded(1));
    // no BN or dropout: the training output is the inference output, and the loss is its MSE against the label
    expect(loss).toBe(mseLossValue(await inferBatch(net, x, 1), 2, 1, 2, Int32Array.of(1), 'rate'));
    // after a step (and after release) a second backward needs a new training forward
    const xt = b.upload(x, [1, 1, 2, 2]);
    const out = net.forward(xt, { training: true, rng: Rng.seeded(1) });
    const g = b.zeros(out.shape);
    net.backward(g);
    expect(() => net.backward(g)).toThrow(/needs a training-mode forward/);
    net.forward(xt, { training: true, rng: Rng.seeded(1) });
    net.release();
    expect(() => net.backward(g)).toThrow(/needs a training-mode forward/);
    for (const t of [g, xt, bad, wrongSize]) b.dispose(t);
    net.dispose();
  });

  it('a static network without neurons feeds its output at every step: output [T, N, classes]', () => {
    const net = new Network(b, networkConfig('c2k3s1-BN-FC20-APk10s10', [1, 4, 4], 2, { T: 3 }), Rng.seeded(2));
    const x = b.upload(input(2, 16), [2, 1, 4, 4]);
    const out = net.forward(x, { training: false, rng: null });
    expect(out.shape).toEqual([3, 2, 2]);
    const o = b.download(out);
    expect(Array.from(o.subarray(8, 12))).toEqual(Array.from(o.subarray(0, 4)));
    net.release();
    b.dispose(x);
    net.dispose();
  });

  it('a step counts the correct predictions', async () => {
    const net = new Network(b, networkConfig('FC20-PLIF-APk10s10', [1, 2, 2], 2, { T: 2 }), Rng.seeded(3));
    const labels = Int32Array.of(0, 1, 1, 0, 1);
    const r = await lossAndGradients(net, { x: input(5, 4), labels }, Rng.seeded(1));
    const want = Array.from(r.predictions).filter((p, i) => p === labels[i]).length;
    expect(r.correct).toBe(want);
    expect(r.predictions).toHaveLength(5);
    // and a network that predicts all-first on silence gets exactly the class-0 samples right
    const silent = new Network(b, networkConfig('FC20-PLIF-APk10s10', [1, 2, 2], 2, { T: 2, vThreshold: 1e6 }), Rng.seeded(3));
    expect((await lossAndGradients(silent, { x: input(5, 4), labels }, Rng.seeded(1))).correct).toBe(2);
    silent.dispose();
    net.dispose();
  });
});

describe('layer and optimiser contracts', () => {
  it('poolTieDraws with one Rng per sample: each sample draws in (step, window) order from its own Rng, whatever the batch', () => {
    // outShape [T, N, C, H, W] = [3, 2, 1, 2, 2]: 4 windows per step and sample
    const ctx = (seeds: number[]) => ({ training: false, rng: null, sampleRngs: seeds.map((s) => Rng.seeded(s)) });
    const both = poolTieDraws([3, 2, 1, 2, 2], 1000, ctx([5, 6]), 'pool');
    for (const [n, seed] of [[0, 5], [1, 6]] as const) {
      const alone = poolTieDraws([3, 1, 1, 2, 2], 1000, ctx([seed]), 'pool');
      const r = Rng.seeded(seed);
      const want = Array.from({ length: 12 }, () => r.int(1000));
      expect(Array.from(alone)).toEqual(want);
      for (let t = 0; t < 3; t++) expect(Array.from(both.subarray((t * 2 + n) * 4, (t * 2 + n + 1) * 4))).toEqual(want.slice(t * 4, t * 4 + 4));
    }
    expect(() => poolTieDraws([3, 2, 1, 2, 2], 1000, ctx([5]), 'layer 2 (MPk2s2)')).toThrow(new RangeError('layer 2 (MPk2s2): 1 per-sample Rngs for a batch of 2'));
    // from the run's Rng: in index order
    const r = Rng.seeded(9);
    const run = Rng.seeded(9);
    expect(Array.from(poolTieDraws([2, 1, 3], 7, { training: false, rng: run }, 'pool'))).toEqual(Array.from({ length: 6 }, () => r.int(7)));
    // exactly one draw per window, from each Rng (the next layer and the next batch go on from there)
    expect(run.uniform()).toBe(r.uniform());
    const own = [Rng.seeded(5), Rng.seeded(6)];
    poolTieDraws([3, 2, 1, 2, 2], 1000, { training: false, rng: null, sampleRngs: own }, 'pool');
    for (const [i, seed] of [5, 6].entries()) {
      const skip = Rng.seeded(seed);
      for (let k = 0; k < 12; k++) skip.int(1000);
      expect(own[i]!.uniform()).toBe(skip.uniform());
    }
  });

  it("parameter kinds: a conv's and a linear's 'weight', BN's 'gamma' and 'beta', a PLIF neuron's 'a' (what a user selects e.g. for weight decay)", () => {
    const net = new Network(b, networkConfig('c2k3s1-BN-PLIF-FC20-LIF-APk10s10', [1, 4, 4], 2, { T: 2 }), Rng.seeded(0));
    expect(net.params().map((p) => [p.name, p.kind])).toEqual([
      ['0.weight', 'weight'],
      ['1.gamma', 'gamma'],
      ['1.beta', 'beta'],
      ['2.a', 'a'],
      ['3.weight', 'weight'],
    ]);
    net.dispose();
  });

  it('a second backward without zeroGrad replaces each gradient and frees the old one', async () => {
    const net = new Network(b, networkConfig('c2k3s1-BN-PLIF-FC20-PLIF-APk10s10', [1, 4, 4], 2, { T: 2 }), Rng.seeded(0));
    const batch = { x: input(2, 16), labels: Int32Array.of(0, 1) };
    await lossAndGradients(net, batch, Rng.seeded(1));
    const live = b.liveTensors();
    const first = net.params().map((p) => p.grad);
    await lossAndGradients(net, batch, Rng.seeded(1));
    expect(b.liveTensors()).toBe(live);
    for (const g of first) expect(() => b.download(g!)).toThrow(/dispose/);
    net.dispose();
  });

  it('spikesPerClass: 1 for a spiking output, M for voting after neurons, null for an output that is not spikes', () => {
    const per = (s: string) => {
      const net = new Network(b, networkConfig(s, [1, 4, 4], 2, { T: 2 }), Rng.seeded(0));
      const m = net.spikesPerClass();
      net.dispose();
      return m;
    };
    expect([per('FC20-PLIF-FC2-IF'), per('FC20-PLIF-APk10s10'), per('FC20-PLIF-FC2'), per('FC20-APk10s10')]).toEqual([1, 10, null, null]);
  });

  it('Adam: parameters without a gradient are left alone; disposeAdam frees and empties the state; epochLr is the cosine schedule', () => {
    const net = new Network(b, networkConfig('FC20-PLIF-APk10s10', [1, 2, 2], 2, { T: 2 }), Rng.seeded(0));
    const before = net.params().map((p) => Array.from(b.download(p.value)));
    const s = createAdam(net, { lr: 0.1 });
    adamUpdate(net, s); // no backward yet: no gradients
    expect(s.step).toBe(1);
    expect(net.params().map((p) => Array.from(b.download(p.value)))).toEqual(before);
    expect([epochLr(s, 0), epochLr(s, 32), epochLr(s, 64)].map((v) => Number(v.toFixed(12)))).toEqual([0.1, 0.05, 0]);
    expect(epochLr(s, 5, 10)).toBeCloseTo(0.05, 12);
    const live = b.liveTensors();
    disposeAdam(b, s);
    expect(b.liveTensors()).toBe(live - 2 * net.params().length);
    expect([s.m, s.v]).toEqual([[], []]);
    net.dispose();
  });
});

describe('non-finite inputs', () => {
  it('a training step and an inference refuse a NaN or infinite input, naming the index, before uploading anything', async () => {
    const b = referenceBackend();
    const net = new Network(b, networkConfig('FC20-PLIF-APk10s10', [1, 2, 2], 2, { T: 2 }), Rng.seeded(3));
    const live = b.liveTensors();
    const x = Float32Array.from({ length: 8 }, (_, i) => i / 8);
    x[5] = Number.NaN;
    await expect(lossAndGradients(net, { x, labels: Int32Array.of(0, 1) }, Rng.seeded(1))).rejects.toThrow('batch input holds a non-finite value at index 5 (NaN): check the data or its normalisation');
    x[5] = 0;
    x[2] = -Infinity;
    await expect(inferBatch(net, x, 2)).rejects.toThrow('inferBatch input holds a non-finite value at index 2 (-Infinity)');
    expect(b.liveTensors()).toBe(live);
    x[2] = 0;
    expect((await lossAndGradients(net, { x, labels: Int32Array.of(0, 1) }, Rng.seeded(1))).loss).toBeGreaterThan(0);
    net.dispose();
  });
});
