// Loading gpu.js (dynamically: the library must install and run where gpu.js or its native `gl` is
// absent), choosing a mode without silent fallbacks, and naming the renderer.

export type GpujsMode = 'headlessgl' | 'webgl2' | 'webgl' | 'webgpu' | 'webasm' | 'cpu';
export type GpujsModeRequest = GpujsMode | 'auto';
export const GPUJS_MODES: readonly GpujsMode[] = ['headlessgl', 'webgl2', 'webgl', 'webgpu', 'webasm', 'cpu'];

/** The part of gpu.js's API this backend uses (typed here so typechecking does not need gpu.js). */
export interface GpujsTexture {
  toArray(): unknown;
  delete(): void;
}
export interface GpujsKernel {
  (...args: unknown[]): unknown;
  setOutput(output: number[]): void;
  destroy?(removeCanvasReferences?: boolean): void;
  context?: unknown;
  kernel?: { fallbackReason?: unknown; constructor: { name: string } };
}
export interface GpujsInstance {
  mode?: string;
  Kernel: { name: string; mode?: string };
  context?: unknown;
  addFunction(fn: (...args: never[]) => number, settings?: Record<string, unknown>): GpujsInstance;
  createKernel(fn: (...args: never[]) => number, settings: Record<string, unknown>): GpujsKernel;
  destroy(): unknown;
}
export interface GpujsModule {
  GPU: {
    new (settings?: Record<string, unknown>): GpujsInstance;
    readonly isHeadlessGLSupported: boolean;
    readonly isWebGL2Supported: boolean;
    readonly isWebGLSupported: boolean;
    readonly isWebGPUSupported: boolean;
    readonly isWebAssemblySupported: boolean;
  };
}

export const INSTALL_GPUJS =
  'install the optional peer dependency gpu.js (npm install gpu.js@2.24.1); its native `gl` module needs, on Debian/Ubuntu, ' +
  'apt-get install libx11-dev libxi-dev libxext-dev libgl1-mesa-dev pkg-config (to build) and xvfb libgl1-mesa-dri (to run, under `xvfb-run -a`)';

export const INSTALL_GL =
  'headless-gl has no GL context: build `gl` (apt-get install libx11-dev libxi-dev libxext-dev libgl1-mesa-dev pkg-config; npm rebuild gl) ' +
  'and run with an X display (apt-get install xvfb libgl1-mesa-dri; xvfb-run -a <command>)';

/** gpu.js's kernel class for each mode (gpu.js reports 'gpu' as the mode of all GL kernels). */
const KERNEL_CLASS: Record<GpujsMode, string> = {
  headlessgl: 'HeadlessGLKernel',
  webgl2: 'WebGL2Kernel',
  webgl: 'WebGLKernel',
  webgpu: 'WebGPUKernel',
  webasm: 'WebAssemblyKernel',
  cpu: 'CPUKernel',
};

let cached: Promise<GpujsModule> | null = null;

/** gpu.js, imported on demand; a clear error saying what to install when it cannot load. */
export function loadGpujs(): Promise<GpujsModule> {
  if (!cached) {
    const spec = 'gpu.js'; // a variable: typechecking must not need the optional package
    cached = (import(spec) as Promise<{ GPU?: unknown; default?: { GPU?: unknown } }>).then(
      (m) => {
        const GPU = m.GPU ?? m.default?.GPU;
        if (typeof GPU !== 'function') throw new Error(`gpu.js loaded but exports no GPU class; ${INSTALL_GPUJS}`);
        return { GPU } as GpujsModule;
      },
      (e: unknown) => {
        cached = null;
        throw new Error(`the gpu.js backend cannot load gpu.js (${(e as Error).message}); ${INSTALL_GPUJS}`);
      },
    );
  }
  return cached;
}

/** Why a mode cannot run here, or null when it can. */
export function unavailableReason(mod: GpujsModule, mode: GpujsMode): string | null {
  const { GPU } = mod;
  switch (mode) {
    case 'headlessgl':
      return GPU.isHeadlessGLSupported ? null : INSTALL_GL;
    case 'webgl2':
      return GPU.isWebGL2Supported ? null : 'WebGL2 is not available (it exists in browsers only)';
    case 'webgl':
      return GPU.isWebGLSupported ? null : 'WebGL is not available (it exists in browsers only)';
    case 'webasm':
      return GPU.isWebAssemblySupported ? null : 'WebAssembly is not available in this runtime';
    case 'cpu':
      return null;
    case 'webgpu':
      // whether an adapter answers is asked by webgpuAdapter() (asynchronous), before the backend is made
      return GPU.isWebGPUSupported ? null : 'navigator.gpu does not exist here (in Node it comes from the optional `webgpu` package: see webgpuAdapter)';
  }
}

/** The WebGPU adapter the webgpu mode will run on, described for GpujsInfo. */
export interface WebgpuAdapterInfo {
  renderer: string;
  software: boolean;
}

interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}
interface NavigatorGpu {
  gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> };
}

/**
 * In Node, navigator.gpu from the npm `webgpu` package (Dawn), when it loads: the way from Node to a real GPU
 * (with Vulkan drivers). Returns why not, naming the cause (a native module that does not load, e.g. for
 * its glibc/libstdc++ version), or null when navigator.gpu is there.
 */
export async function provideNodeWebgpu(): Promise<string | null> {
  const g = globalThis as { navigator?: NavigatorGpu; process?: { versions?: { node?: string } } };
  if (g.navigator?.gpu) return null;
  if (!g.process?.versions?.node) return 'this browser has no WebGPU (navigator.gpu is missing; Chrome and Edge ship it, others behind a flag)';
  const spec = 'webgpu'; // a variable: typechecking and bundling must not need the optional package
  let m: { create?: (flags: string[]) => unknown; globals?: Record<string, unknown>; default?: { create?: (flags: string[]) => unknown; globals?: Record<string, unknown> } };
  try {
    m = (await import(spec)) as typeof m;
  } catch (e) {
    const msg = (e as Error).message;
    const hint = /GLIBC|libstdc\+\+|dlopen|\.node/i.test(msg)
      ? ' (its native Dawn module does not load on this system: it needs a newer glibc/libstdc++ than this one has; Debian 12 has glibc 2.36, the `webgpu` 0.2.x binaries need 2.38)'
      : ' (npm install webgpu)';
    return `WebGPU in Node needs the npm package \`webgpu\`, which did not load: ${msg.split('\n')[0]}${hint}`;
  }
  const create = m.create ?? m.default?.create;
  const globals = m.globals ?? m.default?.globals;
  if (typeof create !== 'function') return 'the npm package `webgpu` loaded but has no create() function';
  if (globals) for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const gpu = create([]);
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else g.navigator = { gpu } as NavigatorGpu;
  return null;
}

/**
 * The adapter WebGPU gives here, or why there is none: navigator.gpu missing (Node without the `webgpu`
 * package, a browser without WebGPU), or no adapter (no GPU, or no driver Dawn accepts).
 */
export async function webgpuAdapter(): Promise<{ adapter: WebgpuAdapterInfo } | { reason: string }> {
  const missing = await provideNodeWebgpu();
  if (missing) return { reason: missing };
  const gpu = (globalThis as { navigator?: NavigatorGpu }).navigator!.gpu!;
  let adapter: GpuAdapterLike | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { reason: `navigator.gpu.requestAdapter() failed: ${(e as Error).message}` };
  }
  if (!adapter) {
    return { reason: 'WebGPU found no adapter: there is no GPU here, or no driver it accepts (Dawn needs Vulkan drivers on Linux; a headless browser needs --enable-unsafe-webgpu and, without a GPU, --use-webgpu-adapter=swiftshader)' };
  }
  const i = adapter.info ?? {};
  const fallback = Boolean(i.isFallbackAdapter ?? adapter.isFallbackAdapter);
  const renderer = `WebGPU: ${[i.vendor, i.architecture, i.device, i.description].filter((x) => x).join(' ') || 'adapter without info'}${fallback ? ' (fallback adapter)' : ''}`;
  return { adapter: { renderer, software: fallback || isSoftwareRenderer(renderer) } };
}

/** The mode 'auto' picks: the best one available (GL first, then webasm, then gpu.js's cpu). */
export function autoMode(mod: GpujsModule): GpujsMode {
  for (const m of ['headlessgl', 'webgl2', 'webgl', 'webasm'] as const) if (unavailableReason(mod, m) === null) return m;
  return 'cpu';
}

/** A GPU instance in exactly `mode`; throws when gpu.js picked anything else. */
export function createGpu(mod: GpujsModule, mode: GpujsMode): GpujsInstance {
  const why = unavailableReason(mod, mode);
  if (why !== null) throw new Error(`gpu.js mode '${mode}' is not available: ${why}`);
  const gpu = new mod.GPU({ mode });
  const got = gpu.Kernel?.name;
  if (got !== KERNEL_CLASS[mode]) {
    gpu.destroy();
    throw new Error(`gpu.js mode '${mode}' was requested but gpu.js chose ${got ?? 'nothing'} (no silent fallback)`);
  }
  return gpu;
}

/** Software renderers: numbers measured on them say nothing about a GPU. */
export function isSoftwareRenderer(renderer: string): boolean {
  return /llvmpipe|softpipe|swiftshader|swrast|software|lavapipe|basic render driver/i.test(renderer);
}

interface GlLike {
  RENDERER: number;
  getParameter(p: number): unknown;
  getExtension(name: string): { UNMASKED_RENDERER_WEBGL: number } | null;
  _getParameterDirect?(p: number): unknown;
}

/**
 * The GL renderer string: WEBGL_debug_renderer_info where offered (browsers); headless-gl masks
 * gl.RENDERER as 'ANGLE' and offers no such extension, so ask its native context directly.
 */
export function glRenderer(context: unknown): string {
  const gl = context as GlLike | null | undefined;
  if (!gl || typeof gl.getParameter !== 'function') return 'unknown (no GL context)';
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  if (ext) return String(gl.getParameter(ext.UNMASKED_RENDERER_WEBGL));
  if (typeof gl._getParameterDirect === 'function') return String(gl._getParameterDirect(gl.RENDERER));
  return String(gl.getParameter(gl.RENDERER));
}
