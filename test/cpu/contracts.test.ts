// Contracts of the CPU backend's parts beyond the shared conformance suite: every refusal and its message,
// the TypeScript and SIMD kernels on shapes the suite does not draw (stride 2 with padding, a linear
// input gradient over more than one block of 256 features and 4-row groups, neurons over several blocks),
// batch norm's running statistics and evaluation mode, pooling ties, the loss forms, Adam, the profile
// sections, the arena, the tensor store outside the arena, the kernel pool, and the WebAssembly loader.
// The float64 reference backend is the oracle wherever a value is computed.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mseLossValue } from '../../core/loss.js';
import { describe, expect, it } from 'vitest';
import { Arena } from '../../backends/cpu/arena.js';
import { cpuBackend, threadCount } from '../../backends/cpu/index.js';
import { kernels, NEURON_BLOCK, neuronMeta } from '../../backends/cpu/kernels.js';
import { chunkBounds, claimChunk, controlLayout, JOB_SLOT_BYTES, jobSlot, KernelPool, readJob, runClaimedChunks, slotOp, workerPath, writeJob } from '../../backends/cpu/pool.js';
import { failKernels, kernels as testKernels } from './fail-kernels.mjs';
import { CpuStore } from '../../backends/cpu/store.js';
import { compileKernelModule, instantiateKernels, kernelSupportProblem, kernelWasmPath, loadKernelModule, readKernelModule } from '../../backends/cpu/wasm/index.js';
import { builtFilePath } from '../../backends/cpu/built-file.js';
import type { Backend, Tensor } from '../../core/backend.js';
import { neuronConfig } from '../../core/neuron.js';
import { Rng } from '../../core/rng.js';
import { surrogates } from '../../core/surrogates.js';
import { referenceBackend } from '../../reference/ops-backend.js';

const MODES = [
  ['TypeScript kernels', false],
  ['SIMD kernels', true],
] as const;

function draw(rng: Rng, n: number, zeros = 0.3): number[] {
  return Array.from({ length: n }, () => (rng.uniform() < zeros ? 0 : rng.uniform() < 0.3 ? 1 : rng.range(-1, 1)));
}

/** Values equal within float32 accumulation (relative to the largest magnitude of the expectation). */
function expectNear(got: ArrayLike<number>, want: ArrayLike<number>, rel = 2e-5): void {
  expect(got.length).toBe(want.length);
  let scale = 1e-6;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  for (let i = 0; i < want.length; i++) if (!(Math.abs(got[i]! - want[i]!) <= rel * scale)) expect.fail(`index ${i}: got ${got[i]}, want ${want[i]} (scale ${scale})`);
}

/** Neurons per block in the neuron tests: many blocks at a small size (the float64 reference is slow). */
const BLOCK = 64;

/** The same op on the CPU backend and the float64 reference, from the same values. */
function both(simd: boolean, neuronBlock?: number) {
  const cpu = cpuBackend({ simd, neuronBlock });
  const ref = referenceBackend();
  const up = (data: number[], shape: number[]) => [cpu.upload(data, shape), ref.upload(data, shape)] as const;
  return { cpu, ref, up };
}

describe('cpu backend: construction and refusals', () => {
  it('refuses a thread count that is not an integer in 1..256', () => {
    for (const t of [0, -1, 1.5, 257, NaN]) expect(() => cpuBackend({ threads: t })).toThrow(`threads must be an integer in 1..256, got ${t}`);
    // the default is the machine's cores, as the CLI's
    expect([threadCount(), threadCount(1), threadCount(256)]).toEqual([Math.min(256, availableParallelism()), 1, 256]);
  });

  it('names itself, reports its thread count and whether the SIMD kernels are in use', () => {
    const plain = cpuBackend({ simd: false, threads: 1 });
    expect([plain.name, plain.threads, plain.simd, plain.precision]).toEqual(['cpu', 1, false, 'float32']);
    const fast = cpuBackend();
    expect([fast.threads, fast.simd]).toEqual([Math.min(256, availableParallelism()), true]);
    fast.destroy();
  });

  it('refuses an upload of the wrong length, a conv input that does not fit its weight, a linear of the wrong width', () => {
    const b = cpuBackend({ simd: false });
    expect(() => b.upload([1, 2, 3], [2, 2])).toThrow('upload: 3 values for shape [2, 2]');
    const x = b.zeros([1, 2, 4, 4]);
    expect(() => b.conv2d(x, b.zeros([3, 1, 3, 3]), { stride: 1, padding: 0 })).toThrow('conv2d: input [1, 2, 4, 4] does not fit weight [3, 1, 3, 3]');
    expect(() => b.conv2d(x, b.zeros([3, 2, 3, 2]), { stride: 1, padding: 0 })).toThrow('conv2d: input [1, 2, 4, 4] does not fit weight [3, 2, 3, 2]');
    expect(() => b.linear(b.zeros([2, 5]), b.zeros([3, 4]))).toThrow('linear: input features 5, weight expects 4');
    expect(() => b.linear(b.zeros([2, 3, 5]), b.zeros([3, 4]))).toThrow('linear: input features 5, weight expects 4');
    expect(() => b.vote(b.zeros([2, 7]), 2)).toThrow('vote: 7 features are not a multiple of M = 2');
    expect(() => b.mseLossGrad(b.zeros([2, 3, 4]), new Int32Array(2), 'rate')).toThrow('mseLossGrad: 2 labels for a batch of 3');
    expect(() => b.mseLossGrad(b.zeros([2, 3]), new Int32Array(3), 'rate')).toThrow('mseLossGrad: out must be [T, N, C], got [2, 3]');
    expect(() => b.batchNorm(b.zeros([2, 3]), b.zeros([2]), b.zeros([3]), b.zeros([3]), b.zeros([3]), { training: true, momentum: 0.1, eps: 1e-5, spatialDims: 0 })).toThrow(/batchNorm gamma/);
    expect(() => b.maxPool2d(b.zeros([1, 1, 4, 4]), { kernel: 2, stride: 2 }, b.zeros([1, 1, 2, 3]))).toThrow(/maxPool2d tieDraws/);
    expect(() => b.dropout(b.zeros([2, 3, 4]), b.zeros([3, 5]))).toThrow(/dropout mask/);
  });

  it('counts live tensors, reshapes onto the same values and reports the memory it handed out', () => {
    const b = cpuBackend();
    const before = b.memoryBytes();
    const t = b.upload([1, 2, 3, 4, 5, 6], [2, 3]);
    expect(b.liveTensors()).toBe(1);
    const r = b.reshape(t, [3, 2]);
    expect(r.shape).toEqual([3, 2]);
    expect([...b.download(r)]).toEqual([1, 2, 3, 4, 5, 6]);
    expect(b.liveTensors()).toBe(2);
    b.dispose(r);
    b.dispose(t);
    expect(b.liveTensors()).toBe(0);
    expect(() => b.download(t)).toThrow();
    const big = b.zeros([1 << 16]);
    expect(b.memoryBytes()).toBeGreaterThanOrEqual(before + 4 * (1 << 16));
    expect([...b.download(big)].every((v) => v === 0)).toBe(true);
  });

  it('zeros() is zero on a reused array', () => {
    const b = cpuBackend();
    const t = b.upload(Array.from({ length: 40 }, (_, i) => i + 1), [40]);
    b.dispose(t);
    const z = b.zeros([40]);
    expect([...b.download(z)].every((v) => v === 0)).toBe(true);
  });
});

describe.each(MODES)('cpu backend (%s) against the float64 reference', (_name, simd) => {
  it('conv2d forward and both gradients with stride 2 and padding 1, odd sizes, zero and non-binary inputs', () => {
    const rng = Rng.seeded(11);
    const { cpu, ref, up } = both(simd);
    for (const [B, C, H, W, O, K, stride, padding] of [
      [2, 3, 7, 6, 5, 3, 2, 1],
      [3, 2, 5, 5, 7, 3, 1, 1],
      [1, 1, 6, 6, 3, 2, 2, 0],
      [2, 2, 4, 5, 1, 1, 1, 0],
      [2, 2, 5, 5, 11, 3, 1, 1], // input gradient: output channels in groups of 4 (twice), 2 and 1
      [2, 2, 7, 7, 3, 3, 2, 0], // stride 2 without padding: taps that fall before the input's first row
      [3, 8, 5, 5, 12, 3, 1, 1], // input gradient by Winograd F(2×2, 3×3) with SIMD (channels in fours): odd edge tiles
      [5, 4, 6, 7, 4, 3, 1, 1], // Winograd, more images than chunks per thread
      [2, 32, 5, 5, 4, 3, 1, 1], // Winograd with C > 4 O: its scratch holds more than the image
      // channels in fours where Winograd does not apply: K 1 and 2, stride 2, no padding
      [2, 4, 5, 5, 4, 1, 1, 0],
      [2, 4, 5, 5, 8, 2, 1, 1],
      [2, 4, 7, 7, 4, 3, 2, 1],
      [2, 4, 6, 6, 4, 3, 1, 0],
    ] as const) {
      const p = { stride, padding };
      const [xc, xr] = up(draw(rng, B * C * H * W), [B, C, H, W]);
      const [wc, wr] = up(draw(rng, O * C * K * K, 0), [O, C, K, K]);
      const yc = cpu.conv2d(xc, wc, p);
      const yr = ref.conv2d(xr, wr, p);
      expect(yc.shape).toEqual(yr.shape);
      expectNear(cpu.download(yc), ref.download(yr));
      const gyv = draw(rng, yr.size, 0);
      const [gyc, gyr] = up(gyv, [...yr.shape]);
      const gc = cpu.conv2dBackward(xc, wc, gyc, p, true);
      const gr = ref.conv2dBackward(xr, wr, gyr, p, true);
      expectNear(cpu.download(gc.gw), ref.download(gr.gw));
      expectNear(cpu.download(gc.gx!), ref.download(gr.gx!));
      expect(cpu.conv2dBackward(xc, wc, gyc, p, false).gx).toBeNull();
    }
  });

  it('linear forward and gradients over more than one block of 256 features and rows in groups of 4 and 1, with a dropout mask', () => {
    const rng = Rng.seeded(12);
    const { cpu, ref, up } = both(simd);
    for (const [B, I, O, M] of [
      [7, 300, 5, 3],
      [5, 9, 4, 5],
      [2, 3, 2, 1],
    ] as const) {
      const [xc, xr] = up(draw(rng, B * I), [B, I]);
      const [wc, wr] = up(draw(rng, O * I, 0), [O, I]);
      expectNear(cpu.download(cpu.linear(xc, wc)), ref.download(ref.linear(xr, wr)));
      const [gyc, gyr] = up(draw(rng, B * O, 0), [B, O]);
      const gr = ref.linearBackward(xr, wr, gyr, true);
      const gc = cpu.linearBackward(xc, wc, gyc, true);
      expectNear(cpu.download(gc.gw), ref.download(gr.gw));
      expectNear(cpu.download(gc.gx!), ref.download(gr.gx!));
      expect(cpu.linearBackward(xc, wc, gyc, false).gx).toBeNull();
      // masked: the masked entries are 0, the others the unmasked gradient
      const maskv = Array.from({ length: M * I }, () => (rng.uniform() < 0.5 ? 0 : 2));
      const masked = cpu.download(cpu.linearBackward(xc, wc, gyc, true, cpu.upload(maskv, [M, I])).gx!);
      const full = ref.download(gr.gx!);
      const want = Array.from(full, (v, j) => (maskv[(Math.floor(j / I) % M) * I + (j % I)] === 0 ? 0 : v));
      expectNear(masked, want);
    }
  });
});

describe.each(MODES)('cpu backend (%s): a backward first, on a fresh backend', (_name, simd) => {
  // the backward sizes its own scratch buffers (the forward has not grown them before)
  it('conv2d and linear gradients as the reference', () => {
    const rng = Rng.seeded(21);
    const p = { stride: 1, padding: 1 };
    // [B, C, O] on 5×5; C = 4, O = 8: channels in fours, so with SIMD the input gradient runs by Winograd,
    // its scratch sized on first use
    for (const [B, C, O] of [
      [2, 3, 6],
      [3, 4, 8],
    ] as const) {
      const { cpu, ref, up } = both(simd);
      const [xc, xr] = up(draw(rng, B * C * 5 * 5), [B, C, 5, 5]);
      const [wc, wr] = up(draw(rng, O * C * 3 * 3, 0), [O, C, 3, 3]);
      const [gyc, gyr] = up(draw(rng, B * O * 5 * 5, 0), [B, O, 5, 5]);
      const gc = cpu.conv2dBackward(xc, wc, gyc, p, true);
      const gr = ref.conv2dBackward(xr, wr, gyr, p, true);
      expectNear(cpu.download(gc.gw), ref.download(gr.gw));
      expectNear(cpu.download(gc.gx!), ref.download(gr.gx!));
    }
    {
      const { cpu, ref, up } = both(simd);
      const [xc, xr] = up(draw(rng, 4 * 40), [4, 40]);
      const [wc, wr] = up(draw(rng, 30 * 40, 0), [30, 40]);
      const [gyc, gyr] = up(draw(rng, 4 * 30, 0), [4, 30]);
      const gc = cpu.linearBackward(xc, wc, gyc, true);
      const gr = ref.linearBackward(xr, wr, gyr, true);
      expectNear(cpu.download(gc.gw), ref.download(gr.gw));
      expectNear(cpu.download(gc.gx!), ref.download(gr.gx!));
    }
  });

  it('a PLIF backward over more than 8 blocks of neurons as the reference; dL/da is a [1] tensor', () => {
    const { cpu, ref, up } = both(simd, BLOCK);
    const rng = Rng.seeded(22);
    const n = 9 * BLOCK + 5;
    const cfg = neuronConfig({ kind: 'plif', tau: 2, surrogate: surrogates.atan(2) });
    const xv = Array.from({ length: n }, () => rng.range(-1, 3));
    const gsv = Array.from({ length: n }, () => rng.range(-1, 1));
    const fresh = cpuBackend({ simd, neuronBlock: BLOCK });
    const xf = fresh.upload(xv, [1, n]);
    const af = fresh.upload([0.2], [1]);
    const [xc, xr] = up(xv, [1, n]);
    const [ac, ar] = up([0.2], [1]);
    const trace = cpu.neuron(cfg, xc, ac); // the trace, from another backend: `fresh` runs the backward only
    const tf = { s: fresh.upload(cpu.download(trace.s), [1, n]), h: fresh.upload(cpu.download(trace.h), [1, n]), v: fresh.upload(cpu.download(trace.v), [1, n]) };
    const gf = fresh.neuronBackward(cfg, xf, tf, fresh.upload(gsv, [1, n]), af);
    const gr = ref.neuronBackward(cfg, xr, ref.neuron(cfg, xr, ar), up(gsv, [1, n])[1], ar);
    expectNear(fresh.download(gf.gx), ref.download(gr.gx), 1e-4);
    expect(gf.ga!.shape).toEqual([1]);
    expect(Math.abs(fresh.download(gf.ga!)[0]! - ref.download(gr.ga!)[0]!)).toBeLessThan(1e-4 * Math.abs(ref.download(gr.ga!)[0]!));
  });

  it('a training step allocates nothing more when it is repeated (its outputs disposed)', () => {
    const b = cpuBackend({ simd });
    const rng = Rng.seeded(23);
    const x = b.upload(draw(rng, 2 * 2 * 6 * 6), [2, 2, 6, 6]);
    const w = b.upload(draw(rng, 3 * 2 * 3 * 3, 0), [3, 2, 3, 3]);
    const lw = b.upload(draw(rng, 4 * 27, 0), [4, 27]);
    const a = b.upload([0.1], [1]);
    const [g, be, rm, rv] = [[1, 1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 1]].map((v) => b.upload(v, [3]));
    const cfg = neuronConfig({ kind: 'plif', tau: 2 });
    const step = () => {
      const made: Tensor[] = [];
      const keep = <T extends Tensor>(t: T) => (made.push(t), t);
      const c = keep(b.conv2d(x, w, { stride: 1, padding: 1 }));
      const bn = b.batchNorm(c, g!, be!, rm!, rv!, { training: true, momentum: 0.1, eps: 1e-5, spatialDims: 2 });
      made.push(bn.y, bn.saved.mean, bn.saved.invStd);
      const tr = b.neuron(cfg, keep(b.reshape(bn.y, [2, 3 * 36])), a);
      made.push(tr.s, tr.h, tr.v);
      const mp = b.maxPool2d(keep(b.reshape(tr.s, [2, 3, 6, 6])), { kernel: 2, stride: 2 });
      made.push(mp.y, mp.argmax);
      const y = keep(b.linear(keep(b.reshape(mp.y, [2, 27])), lw));
      const gl = b.linearBackward(keep(b.reshape(mp.y, [2, 27])), lw, keep(b.upload(draw(rng, 8, 0), [2, 4])), true);
      made.push(gl.gw, gl.gx!);
      const gp = keep(b.maxPool2dBackward(keep(b.reshape(gl.gx!, [2, 3, 3, 3])), mp.argmax, [2, 3, 6, 6], { kernel: 2, stride: 2 }));
      const gn = b.neuronBackward(cfg, keep(b.reshape(bn.y, [2, 108])), tr, keep(b.reshape(gp, [2, 108])), a);
      made.push(gn.gx, gn.ga!);
      const gb = b.batchNormBackward(c, g!, bn.saved, keep(b.reshape(gn.gx, [2, 3, 6, 6])), { training: true, momentum: 0.1, eps: 1e-5, spatialDims: 2 });
      made.push(gb.gx, gb.gGamma, gb.gBeta);
      const gc = b.conv2dBackward(x, w, gb.gx, { stride: 1, padding: 1 }, true);
      made.push(gc.gw, gc.gx!);
      for (const t of made) b.dispose(t);
    };
    const live = b.liveTensors();
    step();
    const bytes = b.memoryBytes();
    step();
    step();
    expect(b.memoryBytes()).toBe(bytes);
    expect(b.liveTensors()).toBe(live);
  });
});

describe('cpu backend: batch norm, pooling, dropout, neuron, vote, loss, Adam, steps', () => {
  const bn = (training: boolean, spatialDims: number) => ({ training, momentum: 0.25, eps: 1e-3, spatialDims });

  it('batch norm in training updates the running statistics (unbiased variance) and saves the batch mean and 1/std', () => {
    const { cpu, ref, up } = both(false);
    const rng = Rng.seeded(3);
    const [B, C, H, W] = [3, 2, 2, 3];
    const xv = Array.from({ length: B * C * H * W }, () => rng.range(-2, 2));
    const [xc, xr] = up(xv, [B, C, H, W]);
    const [gc, gr] = up([1.5, -0.5], [C]);
    const [bc, br] = up([0.25, -1], [C]);
    const [mc, mr] = up([0.5, -0.5], [C]);
    const [vc, vr] = up([2, 0.5], [C]);
    const oc = cpu.batchNorm(xc, gc, bc, mc, vc, bn(true, 2));
    const or = ref.batchNorm(xr, gr, br, mr, vr, bn(true, 2));
    expectNear(cpu.download(oc.y), ref.download(or.y));
    expectNear(cpu.download(mc), ref.download(mr));
    expectNear(cpu.download(vc), ref.download(vr));
    expectNear(cpu.download(oc.saved.mean), ref.download(or.saved.mean));
    expectNear(cpu.download(oc.saved.invStd), ref.download(or.saved.invStd));
    // by hand for channel 0: mean, biased variance for y, unbiased for the running variance
    const n = B * H * W;
    const ch0 = Array.from({ length: n }, (_, j) => xv[Math.floor(j / (H * W)) * C * H * W + (j % (H * W))]!);
    const m0 = ch0.reduce((s, v) => s + v, 0) / n;
    const v0 = ch0.reduce((s, v) => s + (v - m0) ** 2, 0) / n;
    expect(cpu.download(mc)[0]).toBeCloseTo(0.75 * 0.5 + 0.25 * m0, 5);
    expect(cpu.download(vc)[0]).toBeCloseTo(0.75 * 2 + (0.25 * v0 * n) / (n - 1), 5);
    expect(cpu.download(oc.saved.invStd)[0]).toBeCloseTo(1 / Math.sqrt(v0 + 1e-3), 5);
    const gyv = Array.from({ length: xv.length }, () => rng.range(-1, 1));
    const [gyc, gyr] = up(gyv, [B, C, H, W]);
    const bc2 = cpu.batchNormBackward(xc, gc, oc.saved, gyc, bn(true, 2));
    const br2 = ref.batchNormBackward(xr, gr, or.saved, gyr, bn(true, 2));
    expectNear(cpu.download(bc2.gx), ref.download(br2.gx));
    expectNear(cpu.download(bc2.gGamma), ref.download(br2.gGamma));
    expectNear(cpu.download(bc2.gBeta), ref.download(br2.gBeta));
  });

  it('batch norm of a single value per channel updates the running variance by the batch variance (no n/(n-1))', () => {
    const b = cpuBackend({ simd: false });
    const rv = b.upload([2, 4], [2]);
    const rm = b.upload([0, 0], [2]);
    const { y } = b.batchNorm(b.upload([3, -1], [1, 2]), b.upload([1, 1], [2]), b.upload([0.5, 0.5], [2]), rm, rv, bn(true, 0));
    expectNear(b.download(rv), [0.75 * 2, 0.75 * 4]);
    expectNear(b.download(rm), [0.75, -0.25]);
    expectNear(b.download(y), [0.5, 0.5]);
  });

  it('batch norm in evaluation normalises by the running statistics and leaves them unchanged', () => {
    const b = cpuBackend({ simd: false });
    const rm = b.upload([1, -2], [2]);
    const rv = b.upload([4, 0.25], [2]);
    const out = b.batchNorm(b.upload([3, 0, 5, -2], [2, 2]), b.upload([2, 1], [2]), b.upload([0.5, -1], [2]), rm, rv, { training: false, momentum: 0.1, eps: 0, spatialDims: 0 });
    expectNear(b.download(out.y), [2 * (2 / 2) + 0.5, (2 / 0.5) * 1 - 1, 2 * (4 / 2) + 0.5, 0 - 1]);
    expect([...b.download(rm)]).toEqual([1, -2]);
    expect([...b.download(rv)]).toEqual([4, 0.25]);
    expectNear(b.download(out.saved.mean), [1, -2]);
    expectNear(b.download(out.saved.invStd), [0.5, 2]);
    // with eps: 1 / sqrt(running variance + eps)
    const e = b.batchNorm(b.upload([3, 0], [1, 2]), b.upload([1, 1], [2]), b.upload([0, 0], [2]), rm, rv, { training: false, momentum: 0.1, eps: 0.75, spatialDims: 0 });
    expectNear(b.download(e.saved.invStd), [1 / Math.sqrt(4.75), 1]);
    expectNear(b.download(e.y), [2 / Math.sqrt(4.75), 2]);
  });

  it('max pooling: negative windows, the first of tied maxima, the drawn one with tie draws, gradients summed over overlapping windows', () => {
    const b = cpuBackend({ simd: false });
    // one 3x3 plane, kernel 2 stride 1: four overlapping windows
    const x = b.upload([-5, -3, -4, -3, -9, -3, -7, -3, -8], [1, 1, 3, 3]);
    const p = { kernel: 2, stride: 1 };
    const { y, argmax } = b.maxPool2d(x, p);
    expect([...b.download(y)]).toEqual([-3, -3, -3, -3]);
    expect([...b.download(argmax)]).toEqual([1, 0, 0, 1]);
    const gx = b.maxPool2dBackward(b.upload([1, 2, 4, 8], [1, 1, 2, 2]), argmax, x.shape, p);
    expect([...b.download(gx)]).toEqual([0, 1 + 2, 0, 4, 0, 8, 0, 0, 0]);
    // tie draws: window 0 has maxima at offsets 1, 2 (values -3 at (0,1), (1,0)); d mod 2 picks
    const ties = b.maxPool2d(x, p, b.upload([1, 5, 2, 7], [1, 1, 2, 2]));
    expect([...b.download(ties.y)]).toEqual([-3, -3, -3, -3]);
    // window 0: maxima (0,1),(1,0) -> offsets 1, 2; d=1 -> 2. window 1: (0,1),(1,2) -> 0, 3; d=5 -> 3.
    // window 2: (1,0),(2,1) -> 0, 3; d=2 -> 0. window 3: (1,2),(2,1) -> 1, 2; d=7 -> 2.
    expect([...b.download(ties.argmax)]).toEqual([2, 3, 0, 2]);
    // a single maximum ignores its draw
    const one = b.maxPool2d(b.upload([0, 1, 0, 0], [1, 1, 2, 2]), { kernel: 2, stride: 2 }, b.upload([3], [1, 1, 1, 1]));
    expect([...b.download(one.argmax)]).toEqual([1]);
    // stride 2 over several planes
    const multi = b.maxPool2d(b.upload([1, 2, 3, 4, 5, 6, 7, 8, 4, 3, 2, 1, 0, 0, 0, 0], [2, 1, 2, 4]), { kernel: 2, stride: 2 });
    expect([...b.download(multi.y)]).toEqual([6, 8, 4, 2]);
    expect([...b.download(multi.argmax)]).toEqual([3, 3, 0, 0]);
  });

  it('average pooling and its gradient over overlapping windows and several planes', () => {
    const b = cpuBackend({ simd: false });
    const x = b.upload([1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1], [2, 1, 3, 3]);
    const p = { kernel: 2, stride: 1 };
    expectNear(b.download(b.avgPool2d(x, p)), [3, 4, 6, 7, 7, 6, 4, 3]);
    const gx = b.avgPool2dBackward(b.upload([4, 8, 12, 16, 0, 0, 0, 4], [2, 1, 2, 2]), x.shape, p);
    expectNear(b.download(gx), [1, 3, 2, 4, 10, 6, 3, 7, 4, 0, 0, 0, 0, 1, 1, 0, 1, 1]);
  });

  it('dropout multiplies every step by the same mask', () => {
    const b = cpuBackend({ simd: false });
    const y = b.dropout(b.upload([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 2, 3]), b.upload([0, 2, 2, 2, 0, 2], [2, 3]));
    expect([...b.download(y)]).toEqual([0, 4, 6, 8, 0, 12, 0, 16, 18, 20, 0, 24]);
  });

  it('PLIF neurons over several blocks: spikes, traces, dL/dx and dL/da as the reference', () => {
    const { cpu, ref, up } = both(false, BLOCK);
    const rng = Rng.seeded(5);
    const T = 2;
    const n = 3 * BLOCK + 11;
    const cfg = neuronConfig({ kind: 'plif', tau: 2, vReset: null, decayInput: true, detachReset: false, surrogate: surrogates.sigmoid(4) });
    const [xc, xr] = up(Array.from({ length: T * n }, () => rng.range(-1, 3)), [T, n]);
    const [ac, ar] = up([0.3], [1]);
    const tc = cpu.neuron(cfg, xc, ac);
    const tr = ref.neuron(cfg, xr, ar);
    for (const k of ['s', 'h', 'v'] as const) expectNear(cpu.download(tc[k]), ref.download(tr[k]));
    const [gsc, gsr] = up(Array.from({ length: T * n }, () => rng.range(-1, 1)), [T, n]);
    const gc = cpu.neuronBackward(cfg, xc, tc, gsc, ac);
    const gr = ref.neuronBackward(cfg, xr, tr, gsr, ar);
    expectNear(cpu.download(gc.gx), ref.download(gr.gx), 1e-4);
    expect(cpu.download(gc.ga!)[0]).toBeCloseTo(ref.download(gr.ga!)[0]!, 2);
    expect(Math.abs(cpu.download(gc.ga!)[0]! - ref.download(gr.ga!)[0]!)).toBeLessThan(1e-4 * Math.abs(ref.download(gr.ga!)[0]!));
    // an LIF neuron has no a: no dL/da
    const lif = neuronConfig({ kind: 'lif', tau: 2 });
    const tl = cpu.neuron(lif, xc, null);
    expect(cpu.neuronBackward(lif, xc, tl, gsc, null).ga).toBeNull();
    expect(cpu.neuronBackward(lif, xc, tl, gsc, ac).ga).toBeNull(); // "null unless PLIF", even when given an a
    expectNear(cpu.download(tl.s), ref.download(ref.neuron(lif, xr, null).s));
  });

  it('the neuron block: a positive integer, NEURON_BLOCK (4096) by default; it orders the sum of dL/da only', () => {
    for (const bad of [0, -1, 1.5, NaN]) expect(() => cpuBackend({ neuronBlock: bad })).toThrow(`neuronBlock must be a positive integer, got ${bad}`);
    expect(NEURON_BLOCK).toBe(4096);
    const rng = Rng.seeded(6);
    const T = 2;
    const n = 3 * NEURON_BLOCK + 5;
    const xv = Array.from({ length: T * n }, () => rng.range(-1, 3));
    const gsv = Array.from({ length: T * n }, () => rng.range(-1, 1));
    const cfg = neuronConfig({ kind: 'plif', tau: 2 });
    const run = (neuronBlock?: number) => {
      const b = cpuBackend({ simd: false, neuronBlock });
      const x = b.upload(xv, [T, n]);
      const a = b.upload([0.3], [1]);
      const tr = b.neuron(cfg, x, a);
      const g = b.neuronBackward(cfg, x, tr, b.upload(gsv, [T, n]), a);
      return { s: b.download(tr.s), h: b.download(tr.h), v: b.download(tr.v), gx: b.download(g.gx), ga: b.download(g.ga!)[0]! };
    };
    const byDefault = run();
    const explicit = run(NEURON_BLOCK);
    const small = run(BLOCK);
    for (const k of ['s', 'h', 'v', 'gx'] as const)
      for (const other of [explicit, small]) for (let i = 0; i < T * n; i++) if (!Object.is(other[k][i], byDefault[k][i])) expect.fail(`${k}[${i}]: ${other[k][i]}, by default ${byDefault[k][i]}`);
    expect(Object.is(explicit.ga, byDefault.ga)).toBe(true);
    expect(Math.abs(small.ga - byDefault.ga)).toBeLessThan(1e-5 * Math.abs(byDefault.ga));
  });

  it('linear over inputs with several leading dimensions', () => {
    const b = cpuBackend({ simd: false });
    const y = b.linear(b.upload([1, 0, 2, 0, 1, 1, 3, 0, 0, 1, 1, 1], [2, 2, 3]), b.upload([1, 2, 3, 0, 1, 0], [2, 3]));
    expect(y.shape).toEqual([2, 2, 2]);
    expect([...b.download(y)]).toEqual([7, 0, 5, 1, 3, 0, 6, 1]);
  });

  it('vote averages groups of M neurons; its backward spreads g/M', () => {
    const b = cpuBackend({ simd: false });
    expect([...b.download(b.vote(b.upload([1, 2, 3, 5, 0, 4, 8, 8], [2, 4]), 2))]).toEqual([1.5, 4, 2, 8]);
    expect([...b.download(b.voteBackward(b.upload([2, 4, 6], [1, 3]), 2))]).toEqual([1, 1, 2, 2, 3, 3]);
  });

  it('MSE loss of the rate and of every step, with their gradients', () => {
    const b = cpuBackend({ simd: false });
    const [T, N, C] = [2, 2, 3];
    const o = [1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0];
    const out = b.upload(o, [T, N, C]);
    const labels = Int32Array.from([0, 2]);
    const at = (t: number, n: number, c: number) => o[(t * N + n) * C + c]!;
    let rate = 0;
    let step = 0;
    const gRate: number[] = new Array(T * N * C);
    const gStep: number[] = new Array(T * N * C);
    for (let n = 0; n < N; n++)
      for (let c = 0; c < C; c++) {
        const y = labels[n] === c ? 1 : 0;
        const r = (at(0, n, c) + at(1, n, c)) / T;
        rate += (r - y) ** 2 / (N * C);
        for (let t = 0; t < T; t++) {
          step += (at(t, n, c) - y) ** 2 / (T * N * C);
          gRate[(t * N + n) * C + c] = (2 * (r - y)) / (N * C * T);
          gStep[(t * N + n) * C + c] = (2 * (at(t, n, c) - y)) / (T * N * C);
        }
      }
    const od = b.download(out);
    expect(mseLossValue(od, T, N, C, labels, 'rate')).toBeCloseTo(rate, 12);
    expectNear(b.download(b.mseLossGrad(out, labels, 'rate')), gRate);
    expect(mseLossValue(od, T, N, C, labels, 'per-step')).toBeCloseTo(step, 12);
    expectNear(b.download(b.mseLossGrad(out, labels, 'per-step')), gStep);
    expect(rate).not.toBeCloseTo(step, 3);
  });

  it('Adam with bias corrections, as written in the formula', () => {
    const b = cpuBackend({ simd: false });
    const p0 = [0.5, -1, 2];
    const g = [0.1, -0.3, 0];
    const m0 = [0.2, 0.1, -0.1];
    const v0 = [0.01, 0.04, 0.09];
    const [param, grad, m, v] = [p0, g, m0, v0].map((a) => b.upload(a, [3])) as [Tensor, Tensor, Tensor, Tensor];
    const s = { lr: 0.01, beta1: 0.8, beta2: 0.9, eps: 1e-3, step: 3 };
    b.adam(param, grad, m, v, s);
    const want = p0.map((p, i) => {
      const mi = 0.8 * m0[i]! + 0.2 * g[i]!;
      const vi = 0.9 * v0[i]! + 0.1 * g[i]! * g[i]!;
      return p - ((s.lr / (1 - 0.8 ** 3)) * mi) / (Math.sqrt(vi) / Math.sqrt(1 - 0.9 ** 3) + s.eps);
    });
    expectNear(b.download(param), want, 1e-6);
    expectNear(b.download(m), m0.map((mi, i) => 0.8 * mi + 0.2 * g[i]!), 1e-6);
    expectNear(b.download(v), v0.map((vi, i) => 0.9 * vi + 0.1 * g[i]! * g[i]!), 1e-6);
  });

  it('repeatT copies the input to every step; sumT adds the steps', () => {
    const b = cpuBackend({ simd: false });
    const r = b.repeatT(b.upload([1, 2, 3], [3]), 3);
    expect(r.shape).toEqual([3, 3]);
    expect([...b.download(r)]).toEqual([1, 2, 3, 1, 2, 3, 1, 2, 3]);
    const s = b.sumT(b.upload([1, 2, 3, 10, 20, 30], [2, 3]));
    expect(s.shape).toEqual([3]);
    expect([...b.download(s)]).toEqual([11, 22, 33]);
  });

  it('records the sections of a conv and a linear backward for profiles, input gradient only when asked', () => {
    const seen: string[] = [];
    let longest = 0;
    const b: Backend = cpuBackend({ simd: false, onSection: (name, ms) => (expect(ms).toBeGreaterThanOrEqual(0), (longest = Math.max(longest, ms)), seen.push(name)) });
    const t0 = performance.now();
    const x = b.upload([1, 0, 2, 1], [1, 1, 2, 2]);
    const w = b.upload([1, 2, 3, 4], [1, 1, 2, 2]);
    const gy = b.upload([1], [1, 1, 1, 1]);
    const r = b.conv2dBackward(x, w, gy, { stride: 1, padding: 0 }, true);
    expect([...b.download(r.gx!)]).toEqual([1, 2, 3, 4]);
    expect([...b.download(r.gw)]).toEqual([1, 0, 2, 1]);
    expect(seen).toEqual(['transpose', 'weight grad', 'input grad']);
    seen.length = 0;
    b.conv2dBackward(x, w, gy, { stride: 1, padding: 0 }, false);
    b.linearBackward(b.upload([1, 2], [1, 2]), b.upload([1, 1], [1, 2]), b.upload([1], [1, 1]), true);
    expect(seen).toEqual(['transpose', 'weight grad', 'weight grad', 'input grad']);
    expect(longest).toBeLessThanOrEqual(performance.now() - t0); // a section's time, not a clock reading
  });

  it('destroy() stops the worker threads; the backend refuses every op and upload afterwards', () => {
    const b = cpuBackend({ threads: 2, simd: false });
    const x = b.upload([1, 2, 3, 4], [2, 2]);
    expect([...b.download(b.sumT(x))]).toEqual([4, 6]);
    b.destroy();
    expect(() => b.sumT(x)).toThrow('cpu backend used after destroy()');
    expect(() => b.upload([1], [1])).toThrow('cpu backend used after destroy()');
    expect(() => b.zeros([2])).toThrow('cpu backend used after destroy()');
  });
});

describe('cpu backend parts', () => {
  it('arena: at least two pages, 16-byte aligned arrays, freed arrays reused by length, growth on demand', () => {
    const a = new Arena(1);
    expect(a.memory.buffer.byteLength).toBe(2 * 65536);
    expect(a.bytesUsed()).toBe(65536);
    const x = a.alloc(3)!;
    const y = a.alloc(1)!;
    expect(x.length).toBe(3);
    expect(x.byteOffset).toBe(65536);
    expect(y.byteOffset).toBe(65536 + 16);
    expect(a.bytesUsed()).toBe(65536 + 32);
    expect(a.isOwnBuffer(x.buffer)).toBe(true);
    expect(a.isOwnBuffer(new Float32Array(3).buffer)).toBe(false);
    a.release(x);
    const z = a.alloc(3)!;
    expect(z.byteOffset).toBe(x.byteOffset);
    expect(a.alloc(3)!.byteOffset).toBe(65536 + 32);
    expect(a.alloc(2)!.byteOffset).toBe(65536 + 48);
    const big = a.alloc(100_000)!; // beyond the two pages: the memory grows
    expect(big.length).toBe(100_000);
    expect(a.memory.buffer.byteLength).toBeGreaterThanOrEqual(big.byteOffset + 400_000);
    expect(a.isOwnBuffer(big.buffer)).toBe(true);
    const after = a.memory.buffer.byteLength;
    expect(after % 65536).toBe(0);
    // growth by at least a quarter of the memory, not only the pages needed
    const more = a.alloc((after - a.bytesUsed()) / 4 + 1)!;
    expect(a.memory.buffer.byteLength).toBeGreaterThanOrEqual(Math.ceil(after / 65536 / 4) * 65536 + after);
    expect(more.byteOffset % 16).toBe(0);
  });

  it('arena: 64 MiB by default; grows by a quarter of the memory or what is needed; freed arrays of one length all reused', () => {
    expect(new Arena().memory.buffer.byteLength).toBe(64 * 1024 * 1024);
    const PAGE = 65536;
    const a = new Arena(8 * PAGE);
    expect(a.memory.buffer.byteLength).toBe(8 * PAGE);
    const fill = a.alloc((7 * PAGE) / 4)!; // exactly up to the end: no growth
    expect(fill.byteOffset + fill.byteLength).toBe(8 * PAGE);
    expect(a.memory.buffer.byteLength).toBe(8 * PAGE);
    a.alloc(4); // one block more: a quarter of 8 pages
    expect(a.memory.buffer.byteLength).toBe(10 * PAGE);
    a.alloc((5 * PAGE) / 4); // more than a quarter missing: what is needed
    expect(a.memory.buffer.byteLength).toBe(10 * PAGE + Math.ceil((a.bytesUsed() - 10 * PAGE) / PAGE) * PAGE);
    const [x, y] = [a.alloc(5)!, a.alloc(5)!];
    a.release(x);
    a.release(y);
    expect([a.alloc(5)!.byteOffset, a.alloc(5)!.byteOffset].sort()).toEqual([x.byteOffset, y.byteOffset].sort());
  });

  it('arena at its maximum: grows only by what is needed near it, then says it is full (null)', () => {
    const PAGE = 65536;
    const a = new Arena(8 * PAGE, 9);
    expect(a.alloc(7 * (PAGE / 4))).not.toBeNull();
    expect(a.alloc(PAGE / 4)).not.toBeNull(); // a quarter (2 pages) would pass the maximum: 1 page
    expect(a.memory.buffer.byteLength).toBe(9 * PAGE);
    expect(a.alloc(1)).toBeNull();
    // the store then hands out ordinary arrays, and the backend's ops run on them on the calling thread
    const st = new CpuStore({}, a);
    const t = st.make([3], true);
    expect(a.isOwnBuffer(st.get(t).buffer)).toBe(false);
    expect([...st.get(t)]).toEqual([0, 0, 0]);
    const pool = new KernelPool(a, 2, null, null);
    const y = new Float32Array(2);
    pool.run('sumT', [new Float32Array([1, 2, 3, 4]), y], [2, 2], 2);
    expect([...y]).toEqual([4, 6]);
    pool.destroy();
  });

  it('store outside the arena: reuses freed arrays of the same length (zeroed on request), pools at most maxPooled floats', () => {
    const owner = {};
    const st = new CpuStore(owner, null, 8);
    const a = st.make([2, 3], false);
    st.get(a).set([1, 2, 3, 4, 5, 6]);
    const data = st.get(a);
    st.dispose(a);
    const b = st.make([6], false);
    expect(st.get(b)).toBe(data);
    expect([...st.get(b)]).toEqual([1, 2, 3, 4, 5, 6]);
    st.dispose(b);
    const c = st.make([3, 2], true);
    expect(st.get(c)).toBe(data);
    expect([...st.get(c)]).toEqual([0, 0, 0, 0, 0, 0]);
    const d = st.make([6], false);
    const dd = st.get(d);
    expect(dd).not.toBe(data); // the pooled array is in use
    expect(st.liveCount()).toBe(2);
    st.dispose(c);
    st.dispose(d); // 12 floats > 8: only the first goes back to the pool
    const e = st.make([6], false);
    const f = st.make([6], false);
    expect(st.get(e)).toBe(data);
    expect(st.get(f)).not.toBe(dd);
    // exactly maxPooled floats are kept
    const st8 = new CpuStore(owner, null, 8);
    const g = st8.make([8], false);
    const gd = st8.get(g);
    st8.dispose(g);
    expect(st8.get(st8.make([8], false))).toBe(gd);
    // a view shares the array; the array returns to the pool only when the last handle is disposed
    const h = st8.make([4], false);
    const hd = st8.get(h);
    const hv = st8.view(h, [2, 2]);
    st8.dispose(h);
    expect(st8.get(st8.make([4], false))).not.toBe(hd);
    st8.dispose(hv);
    expect(st8.get(st8.make([4], false))).toBe(hd);
  });

  it('store outside the arena: pools large arrays by default, several of one length', () => {
    const st = new CpuStore({}, null);
    const [a, b] = [st.make([100_000], false), st.make([100_000], false)];
    const data = new Set([st.get(a), st.get(b)]);
    st.dispose(a);
    st.dispose(b);
    const again = [st.get(st.make([100_000], false)), st.get(st.make([100_000], false))];
    expect(again.filter((d) => data.has(d))).toHaveLength(2); // the same two arrays (identity, not values)
    expect(again[0]).not.toBe(again[1]);
  });

  it('store in the arena: a disposed array goes back to the arena', () => {
    const arena = new Arena(1);
    const st = new CpuStore({}, arena);
    const a = st.make([5], false);
    const off = st.get(a).byteOffset;
    st.dispose(a);
    expect(arena.alloc(5)!.byteOffset).toBe(off);
    const z = st.make([5], true);
    expect(st.get(z).byteOffset).not.toBe(off);
    // reused without zeroing unless asked (the op overwrites it)
    st.get(z).set([1, 2, 3, 4, 5]);
    st.dispose(z);
    expect([...st.get(st.make([5], false))]).toEqual([1, 2, 3, 4, 5]);
  });

  it('kernel pool: unknown kernels refused, empty ranges skipped, arrays outside the arena never given to the SIMD kernels', () => {
    const arena = new Arena(1);
    const mod = loadKernelModule().module!;
    const wasm = instantiateKernels(mod, arena.memory);
    const pool = new KernelPool(arena, 1, mod, wasm);
    expect(() => pool.run('nope', [], [], 1)).toThrow("unknown kernel 'nope'");
    const y = new Float32Array([7, 7]);
    pool.run('sumT', [new Float32Array([1, 2]), y], [1, 2], 0);
    expect([...y]).toEqual([7, 7]);
    // plain arrays: the TypeScript kernel (the SIMD one would read the arena at the arrays' byte offsets)
    const x = new Float32Array([1, 0, 2, 3]);
    const wT = new Float32Array([1, 2, 3, 4, 5, 6]); // [I=2][O=3]
    const out = new Float32Array(6);
    pool.run('linearForward', [x, wT, out], [2, 3, 2], 3); // num [I, O, B], split by the O columns
    expect([...out]).toEqual([1, 2, 3, 2 * 1 + 3 * 4, 2 * 2 + 3 * 5, 2 * 3 + 3 * 6]);
    // arena arrays: the SIMD kernel, same values
    const [xa, wa, oa] = [arena.alloc(4)!, arena.alloc(6)!, arena.alloc(6)!];
    xa.set(x);
    wa.set(wT);
    pool.run('linearForward', [xa, wa, oa], [2, 3, 2], 3, null, { grain: 0 });
    expect([...oa]).toEqual([...out]);
    pool.destroy();
  });

  it('job slot: what writeJob puts in, readJob gives back (arrays as views of the same memory); what does not fit is refused', () => {
    const arena = new Arena(1);
    const slot = jobSlot(new SharedArrayBuffer(JOB_SLOT_BYTES));
    const x = arena.alloc(5)!;
    const y = arena.alloc(3)!;
    writeJob(slot, 'b', 1, 41, [x, y], [0.5, -2], 9, new TextEncoder().encode(JSON.stringify({ kind: 'plif', tau: 2 })));
    expect(slotOp(slot)).toBe(41);
    const job = readJob(slot, ['a', 'b'], arena.memory.buffer);
    expect(job).toMatchObject({ k: 'b', op: 41, num: [0.5, -2], total: 9, meta: { kind: 'plif', tau: 2 } });
    expect(job.arr.map((a) => [a.byteOffset, a.length, a.buffer === x.buffer])).toEqual([[x.byteOffset, 5, true], [y.byteOffset, 3, true]]);
    writeJob(slot, 'a', 0, 42, [y], [], 1, null);
    expect(readJob(slot, ['a', 'b'], arena.memory.buffer)).toMatchObject({ k: 'a', op: 42, num: [], total: 1, meta: null });
    expect(readJob(slot, ['a', 'b'], arena.memory.buffer).arr.map((a) => a.byteOffset)).toEqual([y.byteOffset]);
    writeJob(slot, 'a', 0, 43, Array(29).fill(y), Array(32).fill(1), 1, new Uint8Array(4096)); // the limits themselves fit
    expect(() => writeJob(slot, 'k', 0, 44, Array(30).fill(y), [], 1, null)).toThrow("kernel 'k': 30 arrays, 0 numbers and 0 bytes of meta exceed a job slot");
    expect(() => writeJob(slot, 'k', 0, 44, [y], Array(33).fill(1), 1, null)).toThrow("kernel 'k': 1 arrays, 33 numbers and 0 bytes of meta exceed a job slot");
    expect(() => writeJob(slot, 'k', 0, 44, [y], [], 1, new Uint8Array(4097))).toThrow("kernel 'k': 1 arrays, 0 numbers and 4097 bytes of meta exceed a job slot");
    expect(slotOp(slot)).toBe(43); // a refused job leaves the slot as it was
  });

  it('chunk claims: each chunk of the current op once, in order, then none; the running count reaches 0 after the last', () => {
    const layout = controlLayout(3);
    const ctrl = new Int32Array(layout.length);
    expect(claimChunk(ctrl, layout.claim)).toBeNull(); // no op posted
    Atomics.store(ctrl, layout.claim, 3 << 16);
    expect([claimChunk(ctrl, layout.claim), claimChunk(ctrl, layout.claim), claimChunk(ctrl, layout.claim), claimChunk(ctrl, layout.claim)]).toEqual([[0, 3], [1, 3], [2, 3], null]);
    // a thread runs every chunk left, as [lo, hi) of the op's total, with its own part; an error is passed on and the rest still run
    Atomics.store(ctrl, layout.claim, (5 << 16) | 1); // chunk 0 already claimed elsewhere
    Atomics.store(ctrl, layout.running, 5);
    const ranges: number[][] = [];
    const errors: unknown[] = [];
    const kernel = (_a: Float32Array[], _n: number[], lo: number, hi: number, part: number) => {
      ranges.push([lo, hi, part]);
      if (lo === 4) throw new Error('chunk 1');
    };
    runClaimedChunks(() => ({ kernel, arr: [], num: [], total: 20, meta: null }), 2, null, ctrl, layout, (e) => errors.push(e));
    expect(ranges).toEqual([[4, 8, 2], [8, 12, 2], [12, 16, 2], [16, 20, 2]]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['chunk 1']);
    expect(Atomics.load(ctrl, layout.running)).toBe(1); // chunk 0 is still someone else's
    expect([0, 1, 2, 3, 4, 5, 6].map((c) => chunkBounds(10, 7, c))).toEqual([[0, 1], [1, 3], [3, 4], [4, 6], [6, 7], [7, 9], [9, 10]]);
  });

  it('kernel pool: one range per thread unless a range would be below the grain; only arena arrays go to threads or SIMD', () => {
    const arena = new Arena(1);
    const pool = new KernelPool(arena, 2, null, null, failKernels);
    const a = arena.alloc(4)!;
    // 'fail' [1, total] throws in a worker's range only (and makes one run it): it shows whether the op was split
    const counter = () => arena.alloc(1)!.fill(0); // a fresh count of the worker's chunks for each op
    pool.run('fail', [counter()], [1, 3], 3, null, { grain: 4 }); // 3 units < grain: one range, this thread
    pool.run('fail', [counter()], [1, 1], 1); // one unit: one range
    expect(() => pool.run('fail', [counter()], [1, 3], 3, null, { grain: 1 })).toThrow(/failed in worker thread 1/);
    expect(() => pool.run('fail', [counter()], [1, 8], 8, null, { grain: 4 })).toThrow(/failed in worker thread 1/);
    pool.run('fail', [counter(), new Float32Array(4)], [1, 8], 8); // one array outside the arena: this thread alone
    // a kernel that throws on this thread: the op fails once the workers are done, and the pool stays usable
    expect(() => pool.run('fail', [a], [3], 8)).toThrow(/^kernel failure requested by a test$/); // this thread's own error
    // ... reported before the worker's when both fail
    expect(() => pool.run('fail', [counter()], [3, 8], 8)).toThrow(/^kernel failure requested by a test$/);
    // a worker's chunk that outlasts the calling thread's spin: the op waits for it, no worker has died
    pool.run('fail', [counter()], [5, 8], 8);
    // meta reaches the workers, op after op
    const filled = arena.alloc(8)!;
    pool.run('fillMeta', [counter(), filled], [8], 8, { v: 3 });
    expect([...filled]).toEqual(Array(8).fill(3));
    pool.run('fillMeta', [counter(), filled], [8], 8, { v: 7 });
    expect([...filled]).toEqual(Array(8).fill(7));
    // two or more failed chunks in the worker: the op reports one, and no message is left to fail the next op
    expect(() => pool.run('fail', [counter()], [4, 8], 8)).toThrow(/failed in worker thread 1/);
    const x = arena.alloc(4)!;
    x.set([1, 2, 3, 4]);
    const y = arena.alloc(2)!;
    pool.run('sumT', [x, y], [2, 2], 2);
    expect([...y]).toEqual([4, 6]);
    pool.destroy();
    // SIMD: a mix of arena and ordinary arrays runs the TypeScript kernel (the SIMD one reads arena offsets)
    const mod = loadKernelModule().module!;
    const simdPool = new KernelPool(arena, 1, mod, instantiateKernels(mod, arena.memory));
    const xa = arena.alloc(4)!;
    xa.set([1, 0, 2, 3]);
    const out = new Float32Array(6);
    simdPool.run('linearForward', [xa, new Float32Array([1, 2, 3, 4, 5, 6]), out], [2, 3, 2], 3);
    expect([...out]).toEqual([1, 2, 3, 2 * 1 + 3 * 4, 2 * 2 + 3 * 5, 2 * 3 + 3 * 6]);
  });

  it('built files: beside the module in dist/, else under dist/ of the nearest package root at any depth', () => {
    const root = mkdtempSync(join(tmpdir(), 'plif-built-'));
    try {
      const deep = join(root, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
      mkdirSync(deep, { recursive: true });
      writeFileSync(join(root, 'package.json'), '{}');
      expect(builtFilePath(deep, 'worker.js', join('backends', 'cpu', 'worker.js'))).toBe(join(root, 'dist', 'backends', 'cpu', 'worker.js'));
      expect(() => workerPath(deep)).toThrow(`the CPU backend's worker script is missing (${join(root, 'dist', 'backends', 'cpu', 'worker.js')}): run \`npm run build\`, or use threads: 1`);
      mkdirSync(join(root, 'dist', 'backends', 'cpu'), { recursive: true });
      writeFileSync(join(root, 'dist', 'backends', 'cpu', 'worker.js'), '');
      expect(workerPath(deep)).toBe(join(root, 'dist', 'backends', 'cpu', 'worker.js'));
      writeFileSync(join(deep, 'worker.js'), '');
      expect(workerPath(deep)).toBe(join(deep, 'worker.js'));
      writeFileSync(join(root, 'a', 'package.json'), '{}'); // the nearest root wins
      expect(builtFilePath(join(root, 'a', 'b'), 'kernels.wasm', 'k.wasm')).toBe(join(root, 'a', 'dist', 'k.wasm'));
      // no package root up to the file system's root: the path beside
      const lone = mkdtempSync(join(tmpdir(), 'plif-lone-'));
      if (!existsSync(join(tmpdir(), 'package.json')) && !existsSync(join(dirname(tmpdir()), 'package.json')))
        expect(builtFilePath(lone, 'x.wasm', 'x.wasm')).toBe(join(lone, 'x.wasm'));
      rmSync(lone, { recursive: true });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it('kernels of the pool work on their range only', () => {
    const y = new Float32Array(6).fill(9);
    kernels['sumT']!([new Float32Array([1, 2, 3, 4, 5, 6, 1, 1, 1, 1, 1, 1]), y], [2, 6], 2, 4, 0, null, null);
    expect([...y]).toEqual([9, 9, 4, 5, 9, 9]);
    const r = new Float32Array(6).fill(9);
    kernels['repeatT']!([new Float32Array([1, 2, 3]), r], [2, 3], 1, 2, 0, null, null);
    expect([...r]).toEqual([9, 2, 9, 9, 2, 9]);
    expect(kernels['fail']).toBeUndefined(); // the test kernels are not in the production table
    const meta = neuronMeta(neuronConfig({ kind: 'lif', tau: 2 }));
    expect(meta).toMatchObject({ kind: 'lif', tau: 2, surrogate: { name: 'atan' } });
  });

  it('kernel pool with a worker: a kernel that throws there fails the op with its error; a worker that exits breaks the pool for arena arrays only', () => {
    // (also in threads.test.ts; here so that the pool's own code runs against every mutant)
    expect(() => testKernels['fail']!([], [1], 0, 1, 1, null, null)).toThrow('kernel failure requested by a test');
    testKernels['fail']!([], [0], 0, 1, 1, null, null); // nothing requested: returns
    testKernels['fail']!([], [1], 0, 1, 0, null, null); // the calling thread's range does not fail
    const arena = new Arena(1);
    expect(() => new KernelPool(arena, 1, null, null, { table: { sumT: testKernels['fail']! }, module: failKernels.module })).toThrow("extra kernel 'sumT' would replace a kernel of the CPU backend");
    const pool = new KernelPool(arena, 2, null, null, failKernels);
    expect(pool.threads).toBe(2);
    const a = arena.alloc(8)!;
    expect(() => pool.run('fail', [arena.alloc(1)!.fill(0)], [1, 2], 2)).toThrow(/^CPU backend: kernel 'fail' failed in worker thread 1: .*kernel failure requested by a test/);
    const x = arena.alloc(10)!;
    x.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const y = arena.alloc(5)!;
    pool.run('sumT', [x, y], [2, 5], 5);
    expect([...y]).toEqual([7, 9, 11, 13, 15]);
    expect(() => pool.run('fail', [arena.alloc(1)!.fill(0)], [2, 2], 2)).toThrow("CPU backend: worker thread 1 exited while running kernel 'fail'; the thread pool is unusable (restart, or use --threads 1)");
    expect(() => pool.run('sumT', [x, y], [2, 5], 5)).toThrow('CPU backend thread pool is unusable: worker thread 1 exited');
    const z = new Float32Array(5);
    pool.run('sumT', [new Float32Array(x), z], [2, 5], 5); // arrays outside the arena: this thread alone
    expect([...z]).toEqual([7, 9, 11, 13, 15]);
    pool.destroy();
    expect(() => pool.run('sumT', [x, y], [2, 5], 5)).toThrow('CPU backend thread pool is unusable: destroyed');
  });

  it('WebAssembly loader: this runtime can run the kernels; the path, the module cached, bad bytes and missing exports reported', () => {
    expect(kernelSupportProblem()).toBeNull();
    expect(kernelWasmPath().replaceAll('\\', '/')).toMatch(/dist\/backends\/cpu\/wasm\/kernels\.wasm$/);
    const first = loadKernelModule();
    expect(first.module).toBeInstanceOf(WebAssembly.Module);
    expect(loadKernelModule()).toBe(first);
    const bad = compileKernelModule(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 99]), '/some/where.wasm');
    expect(bad.module).toBeNull();
    expect('reason' in bad && bad.reason).toMatch(/^WebAssembly kernels at \/some\/where\.wasm do not compile: .+ \(run npm run build\)$/);
    const ok = compileKernelModule(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]), 'x');
    expect(ok.module).toBeInstanceOf(WebAssembly.Module);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    expect(() => instantiateKernels(ok.module!, memory)).toThrow('WebAssembly kernels: export convForwardImage missing (run npm run build)');
    const missing = readKernelModule('/no/such/kernels.wasm');
    expect('reason' in missing && missing.reason).toBe('WebAssembly kernels not found at /no/such/kernels.wasm (run npm run build)');
    expect(readKernelModule(kernelWasmPath()).module).toBeInstanceOf(WebAssembly.Module);
  });

  it('WebAssembly support: a runtime without WebAssembly, without SIMD or without shared memory is named', () => {
    const fake = (validate: boolean, shared: boolean) =>
      ({
        validate: () => validate,
        Memory: function (opts: WebAssembly.MemoryDescriptor) {
          if (!shared || !opts.shared) throw new TypeError('no shared memory');
        },
      }) as unknown as typeof WebAssembly;
    expect(kernelSupportProblem(null)).toBe('this runtime has no WebAssembly');
    expect(kernelSupportProblem(fake(false, true))).toBe('this runtime has no WebAssembly SIMD');
    expect(kernelSupportProblem(fake(true, false))).toBe('this runtime has no shared WebAssembly memory (threads)');
    expect(kernelSupportProblem(fake(true, true))).toBeNull();
    expect(kernelSupportProblem(WebAssembly)).toBeNull();
  });
});
