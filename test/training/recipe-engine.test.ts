// The step's divergence check (training/recipe.ts) and the engine's bookkeeping (training/engine.ts) in
// process: which value firstBad names and in what order, a checked step that stops on a runaway parameter
// and leaves the gradients zeroed, the RNG streams pinned (a run's shuffle, dropout and augmentation, and
// so every resume of a saved run, depend on these exact seeds), the validation split of a limited run, the
// best-epoch rule (a tie keeps the earlier epoch; the validation score decides when there is one) and the
// epoch's averages, and tau of the spiking layers that have one.
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../core/backend.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { createAdam, trainStep } from '../../core/network/train.js';
import { Rng } from '../../core/rng.js';
import { referenceBackend } from '../../reference/ops-backend.js';
import { trainConfig } from '../../training/config.js';
import { finishEpoch, freshState, runIndices } from '../../training/engine.js';
import type { Evaluation } from '../../training/evaluate.js';
import { checkedTrainStep, finiteTaus, firstBad, PARAMETER_LIMIT, streamRng, type StreamId } from '../../training/recipe.js';

function smallNet(b: Backend, neuronKind: 'plif' | 'lif' | 'if' = 'plif'): Network {
  return new Network(b, networkConfig('c2k3s1-BN-PLIF-FC4-PLIF', [1, 3, 3], 4, { T: 2, neuronKind }), Rng.seeded(1));
}

/** Sets element i of parameter `name` to v. */
function setParam(net: Network, name: string, i: number, v: number): void {
  const p = net.params().find((q) => q.name === name)!;
  const d = net.backend.download(p.value);
  d[i] = v;
  net.backend.dispose(p.value);
  p.value = net.backend.upload(d, p.value.shape);
}

describe('firstBad: the first bad gradient or parameter, in parameter order then index order', () => {
  it('names a runaway or non-finite parameter and its value; a value at the limit is good', async () => {
    const net = smallNet(referenceBackend());
    const names = net.params().map((p) => p.name);
    expect(await firstBad(net, 'value')).toBeNull();
    setParam(net, names[0]!, 2, PARAMETER_LIMIT);
    setParam(net, names[0]!, 3, -PARAMETER_LIMIT);
    expect(await firstBad(net, 'value')).toBeNull();
    setParam(net, names[2]!, 0, -Infinity);
    setParam(net, names[0]!, 5, -PARAMETER_LIMIT * 1.5);
    setParam(net, names[0]!, 7, NaN);
    expect(await firstBad(net, 'value')).toEqual({ what: `parameter ${names[0]}`, value: -PARAMETER_LIMIT * 1.5 });
    setParam(net, names[0]!, 5, 0);
    expect(await firstBad(net, 'value')).toEqual({ what: `parameter ${names[0]}`, value: NaN });
    setParam(net, names[0]!, 7, 0);
    expect(await firstBad(net, 'value')).toEqual({ what: `parameter ${names[2]}`, value: -Infinity });
  });

  it('gradients: only non-finite ones are bad (any magnitude is a gradient), parameters without one are skipped', async () => {
    const b = referenceBackend();
    const net = smallNet(b);
    const ps = net.params();
    expect(await firstBad(net, 'grad')).toBeNull(); // no gradients yet
    ps[1]!.grad = b.upload(new Float32Array(ps[1]!.value.size).fill(2 * PARAMETER_LIMIT), ps[1]!.value.shape);
    expect(await firstBad(net, 'grad')).toBeNull();
    const g = new Float32Array(ps[3]!.value.size);
    g[g.length - 1] = Infinity;
    ps[3]!.grad = b.upload(g, ps[3]!.value.shape);
    expect(await firstBad(net, 'grad')).toEqual({ what: `the gradient of parameter ${ps[3]!.name}`, value: Infinity });
  });
});

describe('checkedTrainStep', () => {
  const batch = () => {
    const rng = Rng.seeded(3);
    return { x: Float32Array.from({ length: 4 * 9 }, () => rng.uniform()), labels: Int32Array.from([0, 1, 2, 3]) };
  };

  it('a good step: ok, the loss and weights of the unchecked core step, the updated tau; the gradients are zeroed after it', async () => {
    const net = smallNet(referenceBackend());
    const r = await checkedTrainStep(net, createAdam(net), batch(), Rng.seeded(4), 1e-3);
    const twin = smallNet(referenceBackend());
    const want = await trainStep(twin, createAdam(twin), batch(), Rng.seeded(4), 1e-3);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.loss).toBe(want.loss);
    expect(want.loss).toBeGreaterThan(0);
    for (const [i, p] of net.params().entries()) expect(Array.from(net.backend.download(p.value)), p.name).toEqual(Array.from(twin.backend.download(twin.params()[i]!.value)));
    const a = net.params().filter((p) => p.name.endsWith('.a'));
    expect(a.length).toBe(2);
    expect(r.tau).toEqual(a.map((p, k) => ({ layer: [2, 4][k], tau: 1 + Math.exp(-net.backend.download(p.value)[0]!) })));
    for (const p of net.params()) if (p.grad) expect(Array.from(net.backend.download(p.grad)).every((v) => v === 0)).toBe(true);
  });

  it('a parameter beyond the limit after the update stops the step, naming it and its value', async () => {
    const net = smallNet(referenceBackend());
    const name = net.params()[0]!.name;
    setParam(net, name, 1, 3 * PARAMETER_LIMIT);
    const r = await checkedTrainStep(net, createAdam(net), batch(), Rng.seeded(4), 1e-3);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.what).toBe(`parameter ${name}`);
    expect(Math.abs(r.value - 3 * PARAMETER_LIMIT)).toBeLessThan(1);
    expect(Number.isFinite(r.loss)).toBe(true);
    for (const p of net.params()) if (p.grad) expect(Array.from(net.backend.download(p.grad)).every((v) => v === 0)).toBe(true);
  });
});

describe('checkedTrainStep on a backend whose output comes back non-finite', () => {
  it("stops the step on the loss, before the gradients and parameters are looked at, and zeroes the gradients", async () => {
    // The CPU kernels never emit a non-finite spike (NaN >= Vth is false); a faulty backend could: its
    // output read back as NaN makes the loss NaN, which the check names first.
    const inner = referenceBackend();
    let reads = 0;
    const faulty: Backend = {
      ...inner,
      read: async (ts) => {
        const r = await inner.read(ts);
        if (reads++ === 0) r[0]!.fill(NaN);
        return r;
      },
    };
    const net = smallNet(faulty);
    const r = await checkedTrainStep(net, createAdam(net), { x: new Float32Array(4 * 9).fill(0.5), labels: Int32Array.from([0, 1, 2, 3]) }, Rng.seeded(4), 1e-3);
    expect(r).toEqual({ ok: false, loss: NaN, what: 'the loss', value: NaN });
    for (const p of net.params()) if (p.grad) expect(Array.from(inner.download(p.grad)).every((v) => v === 0)).toBe(true);
  });
});

describe('the RNG streams of a run', () => {
  it('are pinned: (seed, epoch, stream) -> the first draw (every saved run resumes on these)', () => {
    const pinned: [number, number, StreamId, number][] = [
      [0, 0, 0, 1930866669],
      [0, 0, 1, 1685344735],
      [0, 0, 2, 1328005086],
      [0, 0, 3, 2764435607],
      [0, 0, 4, 1631135544],
      [0, 1, 0, 3581373883],
      [7, 3, 2, 3156211230],
      [42, 10, 1, 2312742352],
    ];
    for (const [seed, epoch, stream, first] of pinned) expect(streamRng(seed, epoch, stream).nextUint32(), `(${seed}, ${epoch}, ${stream})`).toBe(first);
  });
});

describe('runIndices', () => {
  const labels = Uint8Array.from({ length: 1000 }, (_v, i) => i % 10);
  const train = { n: 1000, labels };
  const test = { n: 300 };

  it('a limited run validates on a stratified part of the held-out samples, sized as the limit implies', () => {
    const idx = runIndices(trainConfig({ preset: 'fmnist-small', val: 0.2, limitTrain: 80, limitTest: 50 }), train, test);
    expect(idx.train.length).toBe(80);
    expect(idx.val.length).toBe(20); // round(80 * 0.2 / 0.8)
    expect(new Set(Array.from(idx.val, (i) => labels[i])).size).toBe(10);
    expect(idx.test.length).toBe(50);
    expect([...idx.train].some((i) => idx.val.includes(i))).toBe(false);
    // at least one validation sample, however small the limit
    expect(runIndices(trainConfig({ preset: 'fmnist-small', val: 0.01, limitTrain: 16 }), train, test).val.length).toBe(1);
  });

  it('without a limit: the whole held-out split, all test samples; without --val no validation', () => {
    const idx = runIndices(trainConfig({ preset: 'fmnist-small', val: 0.2 }), train, test);
    expect(idx.val.length + idx.train.length).toBe(1000);
    expect(idx.val.length).toBe(200);
    expect(idx.test.length).toBe(300);
    expect(runIndices(trainConfig({ preset: 'fmnist-small', limitTest: 1000 }), train, test).test.length).toBe(300);
    expect(runIndices(trainConfig({ preset: 'fmnist-small', limitTrain: 50 }), train, test).val.length).toBe(0);
  });

  it('refuses fewer training samples than a batch', () => {
    expect(() => runIndices(trainConfig({ preset: 'fmnist-small', limitTrain: 15, batch: 16 }), train, test)).toThrow('only 15 training samples for batch size 16 (drop-last leaves no batch)');
  });
});

describe('finishEpoch', () => {
  const ev = (accuracy: number): Evaluation => ({ accuracy, correct: 0, total: 0, perClass: [], firingRates: [{ layer: 2, rate: 0.25 }], firingMaps: null, tieRule: 'first', ties: 3, confusion: [] });

  it("the epoch's averages; a better score is the new best, a tie keeps the earlier one; validation decides when there is one", async () => {
    const net = smallNet(referenceBackend());
    const state = { ...freshState(), epoch: 1, lossSum: 6, correct: 30, seen: 40, best: { epoch: 0, score: 0.5 } };
    const tie = await finishEpoch(net, state, 1, 1e-3, 8, ev(0.5), null);
    expect(tie.next.best).toEqual({ epoch: 0, score: 0.5 });
    expect(tie.metrics).toMatchObject({ epoch: 1, lr: 1e-3, train_loss: 6 / 40, train_acc: 30 / 40, test_acc: 0.5, test_ties: 3, seconds: 8, samples_per_s: 5, firing_rate: [{ layer: 2, rate: 0.25 }] });
    expect(tie.metrics).not.toHaveProperty('val_acc');
    expect(tie.next).toMatchObject({ epoch: 2, batch: 0, lossSum: 0, correct: 0, seen: 0, seconds: 0 });
    expect((await finishEpoch(net, state, 1, 1e-3, 8, ev(0.51), null)).next.best).toEqual({ epoch: 1, score: 0.51 });
    expect((await finishEpoch(net, state, 1, 1e-3, 8, ev(0.49), null)).next.best).toEqual({ epoch: 0, score: 0.5 });
    const withVal = await finishEpoch(net, state, 1, 1e-3, 8, ev(0.9), ev(0.4));
    expect(withVal.next.best).toEqual({ epoch: 0, score: 0.5 });
    expect(withVal.metrics.val_acc).toBe(0.4);
    expect((await finishEpoch(net, { ...state, best: null }, 1, 1e-3, 8, ev(0), null)).next.best).toEqual({ epoch: 1, score: 0 });
  });
});

describe('finiteTaus', () => {
  it('tau of PLIF and LIF layers; IF layers have none', async () => {
    expect((await finiteTaus(smallNet(referenceBackend(), 'plif'))).map((t) => t.layer)).toEqual([2, 4]);
    expect((await finiteTaus(smallNet(referenceBackend(), 'lif'))).map((t) => t.layer)).toEqual([2, 4]);
    expect(await finiteTaus(smallNet(referenceBackend(), 'if'))).toEqual([]);
  });
});
