// Mode selection (no silent fallback), the info object, loading core's scalar functions from both
// compilers' output, and large tensors (textures past 16384 texels, exact index arithmetic near 2^24).
import { readFileSync } from 'node:fs';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { GpujsBackend, MAX_LOOP } from '../../backends/gpujs/backend.js';
import { createGpujsBackend, describe as describeBackend, gpujsAvailability, parseGpujsSpec } from '../../backends/gpujs/index.js';
import { isSoftwareRenderer, loadGpujs, type GpujsModule } from '../../backends/gpujs/modes.js';
import * as scalar from '../../core/scalar.js';
import { modeEnv, mustRun } from './env.js';

let mod: GpujsModule | null = null;
let loadError = '';
try {
  mod = await loadGpujs();
} catch (e) {
  loadError = (e as Error).message;
}
const gl = await modeEnv('headlessgl');
/** Why WebGPU cannot run in Node here: the package did not load (naming the cause), or no adapter. */
const WEBGPU_REFUSAL = /WebGPU in Node needs the npm package `webgpu`, which did not load: .+|WebGPU found no adapter: there is no GPU here, or no driver it accepts/;
const withGpujs = mod ? describe : describe.skip;
if (!mod) console.warn(`skipping gpu.js mode tests: ${loadError}`);

withGpujs('gpu.js modes', () => {
  it('an explicit mode that cannot run fails clearly, never falls back', async () => {
    await expect(createGpujsBackend({ mode: 'webgl2' })).rejects.toThrow(/WebGL2 is not available/);
    await expect(createGpujsBackend({ mode: 'bogus' as 'cpu' })).rejects.toThrow(/unknown gpu.js mode/);
    if (!gl.backend) await expect(createGpujsBackend({ mode: 'headlessgl' })).rejects.toThrow(/xvfb-run/);
    const avail = await gpujsAvailability();
    expect(avail.cpu).toBeNull();
    expect(avail.webgpu).toMatch(WEBGPU_REFUSAL);
  });

  it("'webgpu' in Node says why it cannot run here: the `webgpu` package's native module does not load, or no adapter", async () => {
    const err = await createGpujsBackend({ mode: 'webgpu' }).then(
      (b) => {
        b.destroy();
        return null;
      },
      (e: Error) => e.message,
    );
    if (err === null) return; // a machine with a GPU and Vulkan drivers: webgpu runs (bench/gpu-check.sh measures it)
    expect(err).toMatch(/^gpu\.js mode 'webgpu' is not available: /);
    expect(err).toMatch(WEBGPU_REFUSAL);
    // Debian 12 (this project's CI): the Dawn binary of webgpu 0.2.x needs a newer libstdc++ than the system's
    if (/GLIBCXX/.test(err)) expect(err).toMatch(/needs a newer glibc\/libstdc\+\+ than this one has/);
  });

  it("'auto' picks headlessgl where a GL context exists, else webasm; the info says what ran", async () => {
    const b = await createGpujsBackend({ mode: 'auto' });
    try {
      expect(b.mode).toBe(gl.backend ? 'headlessgl' : 'webasm');
      const info = describeBackend(b);
      expect(info.mode).toBe(b.mode);
      expect(info.software).toBe(true); // no GPU here: llvmpipe or the CPU
      if (b.mode === 'headlessgl') expect(info.renderer).not.toBe('ANGLE'); // the unmasked string
    } finally {
      b.destroy();
    }
    expect(() => b.zeros([1])).toThrow(/destroy/);
    expect(parseGpujsSpec('gpujs:webasm')).toEqual({ mode: 'webasm' });
    expect(parseGpujsSpec('gpujs')).toEqual({ mode: 'auto' });
  });

  it('names software renderers', () => {
    expect(isSoftwareRenderer('ANGLE (Mesa/X.org llvmpipe (LLVM 15.0.6, 256 bits) OpenGL 4.5 core)')).toBe(true);
    expect(isSoftwareRenderer('Google SwiftShader')).toBe(true);
    expect(isSoftwareRenderer('ANGLE (NVIDIA, NVIDIA GeForce RTX 3080 Direct3D11 vs_5_0 ps_5_0)')).toBe(false);
  });

  it("core's scalar functions compile in gpu.js from tsc's output as well as from vitest's", async () => {
    // tsc's emit of core/scalar.ts (what dist/ ships), loaded as a module
    const src = readFileSync(new URL('../../core/scalar.ts', import.meta.url), 'utf8');
    const js = ts.transpileModule(src, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
    const emitted = (await import(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`)) as typeof scalar;
    for (const [name, fns] of [['tsc', emitted.KERNEL_FUNCTIONS], ['vitest', scalar.KERNEL_FUNCTIONS]] as const) {
      const gpu = new mod!.GPU({ mode: 'cpu' });
      for (const f of fns) gpu.addFunction(f as (...args: never[]) => number);
      const k = gpu.createKernel(
        function (this: { thread: { x: number } }, code: number) {
          const x = this.thread.x * 0.25 - 1;
          // @ts-expect-error registered with addFunction, not imported
          return surrogateGrad(code, x, 2) + resetGradH(1, 0, x, heaviside(x), 0, 1, 0.5) + charge(2, 1, 0.3, x, sigmoid(0.4), 0) + chargeGradK(2, 0, x, 0.1, 0) + chargeGradV(2, 0.3) + chargeGradX(2, 1, 0.3) + reset(0, x, 1, 0, 1);
        } as unknown as (...args: never[]) => number,
        { output: [9], precision: 'single' },
      );
      for (let code = 0; code < 6; code++) {
        const got = Array.from(k(code) as Float32Array);
        const want = got.map((_, i) => {
          const x = i * 0.25 - 1;
          return scalar.surrogateGrad(code, x, 2) + scalar.resetGradH(1, 0, x, scalar.heaviside(x), 0, 1, 0.5) + scalar.charge(2, 1, 0.3, x, scalar.sigmoid(0.4), 0) + scalar.chargeGradK(2, 0, x, 0.1, 0) + scalar.chargeGradV(2, 0.3) + scalar.chargeGradX(2, 1, 0.3) + scalar.reset(0, x, 1, 0, 1);
        });
        for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `${name} code ${code} [${i}]`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i]!)));
      }
      gpu.destroy();
    }
  });
});

describe('gpujs:headlessgl large tensors', () => {
  if (!gl.backend) {
    if (mustRun('headlessgl')) it('has a GL context (PLIF_REQUIRE_GL=1)', () => expect.fail(gl.why!));
    else it.skip(`needs headless GL: ${gl.why}`, () => {});
    return;
  }
  const b = gl.backend as GpujsBackend;
  it('a 2048 x 6272 weight (FC 6272->2048: 12.8M values, past 16384 texels per row) round-trips and indexes exactly', () => {
    const O = 2048;
    const I = 6272;
    const n = O * I;
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = (i % 4099) - 2049; // integers: any index slip changes a value
    const w = b.upload(data, [O, I]);
    expect(Array.from(b.download(w).subarray(n - 5))).toEqual(Array.from(data.subarray(n - 5)));
    const half = b.reshape(w, [2, n / 2]);
    const s = b.sumT(half); // s[j] = w[j] + w[j + n/2]: every index near the top of the range
    const got = b.download(s);
    for (let j = 0; j < n / 2; j += 997) expect(got[j], `sumT[${j}]`).toBe(data[j]! + data[j + n / 2]!);
    expect(got[n / 2 - 1]).toBe(data[n / 2 - 1]! + data[n - 1]!);
    for (const t of [w, half, s]) b.dispose(t);
  });

  it('refuses a loop longer than the GL loop limit instead of cutting it short', () => {
    const I = MAX_LOOP + 1;
    const x = b.zeros([1, I]);
    const w = b.zeros([1, I]);
    expect(() => b.linear(x, w)).toThrow(/65535/);
    b.dispose(x);
    b.dispose(w);
  });
});
