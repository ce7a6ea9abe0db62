// The WebGPU path of the gpu.js backend (kernels queued in program order behind synchronous handles, buffers
// freed behind the kernels that read them, read() waiting once, errors surfacing at the next read) run in Node
// on a stand-in for gpu.js's webgpu kernels: gpu.js's cpu mode whose calls return Promises of buffer handles,
// as WebGPUKernel's do. The real WebGPU runs the same suites in Chromium (test/browser/page.test.ts).
import { describe, expect, it } from 'vitest';
import { GpujsBackend } from '../../backends/gpujs/backend.js';
import { loadGpujs, type GpujsInstance, type GpujsKernel, type GpujsModule } from '../../backends/gpujs/modes.js';
import { cpuBackend } from '../../backends/cpu/index.js';
import type { Backend } from '../../core/backend.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { inferBatch, lossAndGradients } from '../../core/network/train.js';
import { Rng } from '../../core/rng.js';
import { conformanceSuite } from '../../proofs/conformance.js';
import { leakSuite } from '../../proofs/leaks.js';

/** A buffer handle like WebGPUBufferResult: toArray() is a Promise, delete() frees it (counted). */
class FakeBuffer {
  deleted = false;
  constructor(
    readonly values: Float32Array,
    private readonly alive: Set<FakeBuffer>,
  ) {
    alive.add(this);
  }
  toArray(): Promise<Float32Array> {
    if (this.deleted) return Promise.reject(new Error('FakeBuffer has been deleted'));
    return Promise.resolve(this.values.slice());
  }
  delete(): void {
    if (this.deleted) throw new Error('deleted twice');
    this.deleted = true;
    this.alive.delete(this);
  }
}

interface Fake {
  mod: GpujsModule;
  alive: Set<FakeBuffer>;
  /** Makes the n-th kernel call from now reject (once). */
  failAt(n: number): void;
}

async function fakeWebgpu(): Promise<Fake> {
  const real = await loadGpujs();
  const alive = new Set<FakeBuffer>();
  let calls = 0;
  let failing = -1;
  class FakeGPU {
    static isHeadlessGLSupported = false;
    static isWebGL2Supported = false;
    static isWebGLSupported = false;
    static isWebGPUSupported = true;
    static isWebAssemblySupported = false;
    readonly Kernel = { name: 'WebGPUKernel' };
    private readonly inner: GpujsInstance = new real.GPU({ mode: 'cpu' });
    addFunction(fn: (...args: never[]) => number): this {
      this.inner.addFunction(fn);
      return this;
    }
    createKernel(fn: (...args: never[]) => number, settings: Record<string, unknown>): GpujsKernel {
      const k = this.inner.createKernel(fn, { ...settings, pipeline: false });
      const run = (async (...args: unknown[]) => {
        await Promise.resolve(); // results are never synchronous
        if (calls++ === failing) throw new Error('injected kernel failure');
        for (const a of args) if (a instanceof FakeBuffer && a.deleted) throw new Error('a kernel read a deleted buffer');
        const r = k(...args.map((a) => (a instanceof FakeBuffer ? a.values : a))) as Float32Array;
        return new FakeBuffer(Float32Array.from(r), alive);
      }) as unknown as GpujsKernel;
      run.setOutput = (o: number[]) => k.setOutput(o);
      run.destroy = () => k.destroy?.();
      return run;
    }
    destroy(): void {
      this.inner.destroy();
    }
  }
  return { mod: { GPU: FakeGPU as unknown as GpujsModule['GPU'] }, alive, failAt: (n) => (failing = calls + n) };
}

const fake = await fakeWebgpu();
const backend = new GpujsBackend(fake.mod, 'webgpu', { renderer: 'stand-in: gpu.js cpu kernels returning Promises', software: true });
conformanceSuite('gpujs webgpu path (stand-in kernels)', () => backend, () => new GpujsBackend(fake.mod, 'webgpu', { renderer: 'stand-in: gpu.js cpu kernels returning Promises', software: true }));
leakSuite('gpujs webgpu path (stand-in kernels)', () => backend);

describe('the webgpu path: queue, disposal, errors', () => {
  it('a spike encoder draws its spikes from the host input: a Poisson-fed network trains and infers as on the CPU', async () => {
    const b = new GpujsBackend(fake.mod, 'webgpu', { renderer: 'stand-in', software: true });
    const cfg = networkConfig('FC20-PLIF-APk10s10', [1, 2, 2], 2, { T: 3, encoder: 'poisson' });
    const x = Float32Array.of(0.9, 0.1, 0.5, 1, 0, 0.3, 0.7, 0.2);
    const labels = Int32Array.of(0, 1);
    const run = async (be: Backend) => {
      const net = new Network(be, cfg, Rng.seeded(1));
      const r = await lossAndGradients(net, { x, labels }, Rng.seeded(2));
      const out = await inferBatch(net, x, 2, Rng.seeded(3));
      net.dispose();
      return { loss: r.loss, out: Array.from(out) };
    };
    const want = await run(cpuBackend());
    const got = await run(b);
    expect(got.out).toEqual(want.out); // voted spikes: multiples of 1/10, the same draws
    expect(Math.abs(got.loss - want.loss)).toBeLessThanOrEqual(1e-6);
    b.destroy();
  });

  it('ops return at once; values exist only after read(); download names read()', async () => {
    const b = new GpujsBackend(fake.mod, 'webgpu', { renderer: 'stand-in', software: true });
    const x = b.upload([1, 2, 3, 4], [2, 2]);
    const y = b.vote(x, 2);
    expect(y.shape).toEqual([2, 1]);
    expect(() => b.download(y)).toThrow(/reads back asynchronously .* use await backend\.read\(\[tensor\]\)/);
    expect((await b.read([y, x])).map((v) => Array.from(v))).toEqual([[1.5, 3.5], [1, 2, 3, 4]]);
    expect(b.cost()).toMatchObject({ upload_bytes: 16, download_bytes: 24, host_syncs: 1 });
    b.dispose(x);
    b.dispose(y);
    await b.flush();
    b.destroy();
  });

  it('an in-place update and a dispose wait for the kernels recorded before them', async () => {
    const b = new GpujsBackend(fake.mod, 'webgpu', { renderer: 'stand-in', software: true });
    const p = b.upload([1, -1], [2]);
    const twice = b.repeatT(p, 2); // reads p's buffer before the update below replaces it
    b.adam(p, b.upload([0.5, 0.5], [2]), b.zeros([2]), b.zeros([2]), { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 });
    const [before, after] = await b.read([twice, p]);
    expect(Array.from(before!)).toEqual([1, -1, 1, -1]);
    expect(after![0]).toBeCloseTo(0.9, 6);
    const base = fake.alive.size;
    b.dispose(twice);
    expect(fake.alive.size).toBe(base); // not yet: the release is queued
    await b.flush();
    expect(fake.alive.size).toBe(base - 1);
    b.destroy();
  });

  it('a kernel that fails rejects the next read and every later one; buffers are still freed', async () => {
    const b = new GpujsBackend(fake.mod, 'webgpu', { renderer: 'stand-in', software: true });
    const x = b.upload([1, 2], [2]);
    await b.read([x]); // x's buffer exists
    const before = fake.alive.size;
    fake.failAt(0); // the next kernel to run: repeatT
    const r = b.repeatT(x, 2);
    const s = b.sumT(r); // its input was never computed
    await expect(b.read([s])).rejects.toThrow('injected kernel failure');
    await expect(b.read([x])).rejects.toThrow('injected kernel failure'); // the backend stays failed
    expect(fake.alive.size).toBe(before);
    for (const t of [x, r, s]) b.dispose(t);
    await expect(b.flush()).rejects.toThrow('injected kernel failure');
    expect(fake.alive.size).toBe(before - 1); // cleanup still runs: x's buffer is freed
    b.destroy();
  });
});
