// The max-pooling tie rule as a network option: stored with the network config (old checkpoints without
// it load as 'first'), seeded, and refused without an Rng; evaluation is the same however it is batched.
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { decodeSafetensors, encodeSafetensors, loadCheckpoint, saveCheckpoint } from '../../core/checkpoint.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { createAdam, inferBatch, trainStep } from '../../core/network/train.js';
import { Rng } from '../../core/rng.js';
import { sampleRng } from '../../training/evaluate.js';

const structure = 'c4k3s1-BN-PLIF-MPk2s2-FC20-PLIF-APk10s10';
const cfgOf = (poolTies: 'first' | 'random') => networkConfig(structure, [1, 6, 6], 2, { T: 3, poolTies });
const batch = (rng: Rng, n = 4) => ({ x: Float32Array.from({ length: n * 36 }, () => rng.range(-1, 3)), labels: Int32Array.from({ length: n }, () => rng.int(2)) });

async function train(poolTies: 'first' | 'random', seed: number) {
  const b = cpuBackend();
  const net = new Network(b, cfgOf(poolTies), Rng.seeded(1));
  const opt = createAdam(net, { lr: 0.05 });
  const rng = Rng.seeded(seed);
  const losses: number[] = [];
  for (let i = 0; i < 4; i++) losses.push((await trainStep(net, opt, batch(rng), rng)).loss);
  return { b, net, losses, w: Array.from(b.download(net.params()[0]!.value)) };
}

describe('max-pooling tie rule of a network', () => {
  it('is part of the config: first by default, checked', () => {
    expect(networkConfig(structure, [1, 6, 6], 2).poolTies).toBe('first');
    expect(() => networkConfig(structure, [1, 6, 6], 2, { poolTies: 'last' as never })).toThrow(/poolTies must be one of first, random, got 'last'/);
  });

  it('random ties train reproducibly from the step Rng, and differently from first ties', async () => {
    const a = await train('random', 7);
    const a2 = await train('random', 7);
    const f = await train('first', 7);
    expect(a2.losses).toEqual(a.losses);
    expect(a2.w).toEqual(a.w);
    expect(f.w).not.toEqual(a.w);
  });

  it('a checkpoint keeps the rule and evaluates the same; one written without it loads as first', async () => {
    const { net } = await train('random', 3);
    const bytes = saveCheckpoint(net);
    const loaded = loadCheckpoint(cpuBackend(), bytes);
    expect(loaded.config.poolTies).toBe('random');
    const x = batch(Rng.seeded(9), 5).x;
    const rngs = () => Array.from({ length: 5 }, (_, i) => sampleRng(11, i));
    expect(Array.from(await inferBatch(loaded.net, x, 5, rngs()))).toEqual(Array.from(await inferBatch(net, x, 5, rngs())));
    // an evaluation with per-sample Rngs does not depend on the batching: samples 0-1 and 2-4 apart
    const whole = await inferBatch(net, x, 5, rngs()); // [T, 5, 2]
    const head = await inferBatch(net, x.subarray(0, 2 * 36), 2, [sampleRng(11, 0), sampleRng(11, 1)]);
    const tail = await inferBatch(net, x.subarray(2 * 36), 3, [2, 3, 4].map((i) => sampleRng(11, i)));
    for (let t = 0; t < 3; t++) {
      expect(Array.from(whole.subarray(t * 10, t * 10 + 4))).toEqual(Array.from(head.subarray(t * 4, t * 4 + 4)));
      expect(Array.from(whole.subarray(t * 10 + 4, t * 10 + 10))).toEqual(Array.from(tail.subarray(t * 6, t * 6 + 6)));
    }
    await expect(inferBatch(net, x, 5)).rejects.toThrow(/layer 3 \(MPk2s2\): random pool ties need an Rng/);
    // the same checkpoint as written before the option existed: no poolTies in its config
    const { tensors, metadata } = decodeSafetensors(bytes);
    const old = JSON.parse(metadata.config!);
    delete old.poolTies;
    const oldBytes = encodeSafetensors([...tensors.values()], { ...metadata, config: JSON.stringify(old) });
    const oldNet = loadCheckpoint(cpuBackend(), oldBytes);
    expect(oldNet.config.poolTies).toBe('first');
    const firstNet = loadCheckpoint(cpuBackend(), encodeSafetensors([...tensors.values()], { ...metadata, config: JSON.stringify({ ...old, poolTies: 'first' }) }));
    expect(Array.from(await inferBatch(oldNet.net, x, 5))).toEqual(Array.from(await inferBatch(firstNet.net, x, 5))); // needs no Rng
  });
});
