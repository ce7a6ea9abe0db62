// Encoders of Supplementary 10: Poisson rates, latency times, the network fed by spikes. (The short runs
// with each encoder that learn: encoders-training.test.ts.)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../backends/cpu/index.js';
import { encodeSpikes, latencyEncodeInto, latencyTime, poissonEncodeInto } from '../core/encoders.js';
import { buildNetwork, networkConfig } from '../core/network/network.js';
import { createAdam, inferBatch, trainStep } from '../core/network/train.js';
import { Rng } from '../core/rng.js';
import { main } from '../cli/dispatch.js';
import { capture } from './capture.js';
describe('poisson encoder', () => {
  it('fires each pixel with probability equal to its intensity (counts within binomial bounds)', () => {
    const ps = [0, 0.02, 0.1, 0.37, 0.5, 0.81, 0.99, 1];
    const T = 4000;
    const out = poissonEncodeInto(ps, 1, T, Rng.seeded(7), new Float32Array(T * ps.length));
    ps.forEach((p, j) => {
      let count = 0;
      for (let t = 0; t < T; t++) {
        const s = out[t * ps.length + j]!;
        expect(s === 0 || s === 1).toBe(true);
        count += s;
      }
      // Binomial(T, p): mean pT, sd sqrt(T p (1 - p)); 5 sd (p = 0 and 1 are exact)
      expect(Math.abs(count - p * T)).toBeLessThanOrEqual(5 * Math.sqrt(T * p * (1 - p)));
    });
  });

  it('is reproducible from the seed and does not depend on how the samples are batched', () => {
    const x = Float32Array.from({ length: 3 * 20 }, (_, i) => (i % 11) / 10);
    const whole = encodeSpikes('poisson', x, 3, 5, Rng.seeded(1));
    expect(encodeSpikes('poisson', x, 3, 5, Rng.seeded(1))).toEqual(whole);
    expect(encodeSpikes('poisson', x, 3, 5, Rng.seeded(2))).not.toEqual(whole);
    // samples 0 and 1 as one batch, then sample 2, from one stream: the same spikes per sample
    const rng = Rng.seeded(1);
    const a = encodeSpikes('poisson', x.subarray(0, 40), 2, 5, rng);
    const b = encodeSpikes('poisson', x.subarray(40), 1, 5, rng);
    for (let t = 0; t < 5; t++) {
      expect(Array.from(whole.subarray(t * 60, t * 60 + 40))).toEqual(Array.from(a.subarray(t * 40, t * 40 + 40)));
      expect(Array.from(whole.subarray(t * 60 + 40, t * 60 + 60))).toEqual(Array.from(b.subarray(t * 20, t * 20 + 20)));
    }
  });

  it('with one Rng per sample, each sample gets the spikes it would get alone', () => {
    const x = Float32Array.from({ length: 3 * 16 }, (_, i) => ((i * 7) % 10) / 9);
    const both = encodeSpikes('poisson', x, 3, 4, [Rng.seeded(10), Rng.seeded(11), Rng.seeded(12)]);
    for (let n = 0; n < 3; n++) {
      const alone = encodeSpikes('poisson', x.subarray(n * 16, (n + 1) * 16), 1, 4, Rng.seeded(10 + n));
      for (let t = 0; t < 4; t++) expect(Array.from(both.subarray((t * 3 + n) * 16, (t * 3 + n + 1) * 16))).toEqual(Array.from(alone.subarray(t * 16, (t + 1) * 16)));
    }
    expect(() => encodeSpikes('poisson', x, 3, 4, [Rng.seeded(1)])).toThrow(/1 per-sample Rngs for a batch of 3/);
  });

  it('refuses normalised pixels and a missing rng', () => {
    expect(() => encodeSpikes('poisson', [0.5, -0.8], 1, 4, Rng.seeded(0))).toThrow(/value -0.8 at index 1 is not an intensity in \[0, 1\]/);
    expect(() => encodeSpikes('latency', [1.5], 1, 4, null)).toThrow(/not an intensity/);
    expect(() => encodeSpikes('poisson', [0.5], 1, 4, null)).toThrow(/needs a seeded Rng/);
  });
});

describe('latency encoder', () => {
  it('fires once at t = floor((T - 1)(1 - p)); zero intensity never fires', () => {
    // T = 8: p = 1 -> 0, 0.75 -> floor(1.75) = 1, 0.5 -> 3, 0.25 -> floor(5.25) = 5, 1/255 -> 6, 0 -> never
    const ps = [1, 0.75, 0.5, 0.25, 1 / 255, 0];
    const want = [0, 1, 3, 5, 6, -1];
    expect(ps.map((p) => latencyTime(p, 8))).toEqual(want);
    const N = 2;
    const x = [...ps, ...ps.slice().reverse()];
    const out = latencyEncodeInto(x, N, 8, new Float32Array(8 * x.length));
    for (let b = 0; b < N; b++) {
      for (let j = 0; j < ps.length; j++) {
        const times = [];
        for (let t = 0; t < 8; t++) if (out[(t * N + b) * ps.length + j] === 1) times.push(t);
        const w = want[b === 0 ? j : ps.length - 1 - j]!;
        expect(times).toEqual(w < 0 ? [] : [w]);
      }
    }
    expect(out.reduce((a, v) => a + v, 0)).toBe(10); // two zero pixels
  });
});

describe('a network fed by an encoder', () => {
  it('runs every layer at every step (no static encoder) and draws Poisson spikes from the rng it is given', async () => {
    const b = cpuBackend();
    const cfg = networkConfig('c4k3s1-BN-PLIF-MPk2s2-FC20-PLIF-APk10s10', [1, 8, 8], 2, { T: 3, encoder: 'poisson' });
    const net = buildNetwork(b, cfg, Rng.seeded(0));
    expect(net.encoderEnd).toBe(0);
    expect(net.describe().every((l) => !l.encoder)).toBe(true);
    expect(net.inputShape(2)).toEqual([2, 1, 8, 8]); // intensities in, spikes made inside
    const x = Float32Array.from({ length: 128 }, (_, i) => (i % 9) / 8);
    const one = await inferBatch(net, x, 2, Rng.seeded(5));
    expect(await inferBatch(net, x, 2, Rng.seeded(5))).toEqual(one);
    await expect(inferBatch(net, x, 2, null)).rejects.toThrow(/needs a seeded Rng/);
    await expect(inferBatch(net, Float32Array.from(x, (v) => v - 0.5), 2, Rng.seeded(5))).rejects.toThrow(/not an intensity/);
    net.dispose();
    expect(() => networkConfig('c4k3s1-BN-PLIF-FC20-PLIF-APk10s10', [2, 8, 8], 2, { static: false, encoder: 'latency' })).toThrow(/takes static images/);
    expect(() => networkConfig('FC20-PLIF-APk10s10', [1, 8, 8], 2, { encoder: 'rate' as never })).toThrow(/encoder must be one of direct, poisson, latency/);
  });

  it('plif train refuses a spike encoder for event data and an unknown encoder, before anything is read', async () => {
    const out = mkdtempSync(join(tmpdir(), 'plif-enc-bad-'));
    const ev = await capture(() => main(['train', '--preset', 'nmnist', '--encoder', 'poisson', '--out', join(out, 'run')]));
    expect(ev.code).toBe(2);
    expect(ev.err).toContain("the poisson encoder takes static images; preset 'nmnist' is for event frames");
    const bad = await capture(() => main(['train', '--preset', 'fmnist-small', '--encoder', 'rate', '--out', join(out, 'run')]));
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("--encoder must be one of direct, poisson, latency, got 'rate'");
  });
});

describe('the poisson encoder and the CPU backend threads', () => {
  it('training steps of a Poisson-fed network are bitwise identical with 1 and 3 threads', async () => {
    const steps = async (threads: number) => {
      const b = cpuBackend({ threads });
      try {
        const cfg = networkConfig('c24k3s1-BN-PLIF-MPk2s2-DP-FC100-PLIF-APk10s10', [1, 28, 28], 10, { T: 4, encoder: 'poisson' });
        const rng = Rng.seeded(3);
        const net = buildNetwork(b, cfg, rng.split());
        const opt = createAdam(net);
        const x = Float32Array.from({ length: 12 * 784 }, () => rng.uniform());
        const labels = Int32Array.from({ length: 12 }, (_, i) => i % 10);
        const stepRng = rng.split();
        const losses: number[] = [];
        for (let i = 0; i < 3; i++) losses.push((await trainStep(net, opt, { x, labels }, stepRng)).loss);
        return { losses, params: net.params().map((p) => Array.from(new Uint32Array(Float32Array.from(b.download(p.value)).buffer))) };
      } finally {
        b.destroy();
      }
    };
    const one = await steps(1);
    const three = await steps(3);
    expect(three.losses).toEqual(one.losses);
    expect(three.params).toEqual(one.params);
  });
});
