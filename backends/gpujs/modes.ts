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
      // Even with navigator.gpu, gpu.js's webgpu kernels return Promises (no synchronous readback), and the
      // Backend interface of core/backend.ts is synchronous: every op would have to become async.
      return (
        'the webgpu mode cannot serve the synchronous Backend interface: gpu.js 2.24.1 webgpu kernels return Promises ' +
        '(WebGPU has no synchronous readback), so core/backend.ts would need async ops' +
        (GPU.isWebGPUSupported ? '' : `; also ${webgpuNodeReason()}`)
      );
  }
}

function webgpuNodeReason(): string {
  return 'navigator.gpu does not exist here (in Node it comes from the `webgpu` package, whose native Dawn module needs a newer libstdc++ (GLIBCXX_3.4.32) than Debian 12 ships)';
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
