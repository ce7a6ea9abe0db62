// The gpu.js backend. gpu.js is imported on demand, so the rest of the library installs and runs
// without it (or without its native `gl`); creating this backend then fails with what to install.
//
//   const b = await createGpujsBackend({ mode: 'auto' });   // or 'headlessgl' | 'webgl2' | 'webgl' | 'webasm' | 'cpu'
//   b.describe();  // { mode, renderer, software }
//   ... train on b ...; b.destroy();
import { GpujsBackend, type GpujsInfo } from './backend.js';
import { GPUJS_MODES, autoMode, loadGpujs, unavailableReason, webgpuAdapter, type GpujsMode, type GpujsModeRequest, type GpujsModule } from './modes.js';

export { GpujsBackend, type GpuCost, type GpujsInfo } from './backend.js';
export { GPUJS_MODES, INSTALL_GL, INSTALL_GPUJS, isSoftwareRenderer, loadGpujs, webgpuAdapter, type GpujsMode, type GpujsModeRequest, type WebgpuAdapterInfo } from './modes.js';

export interface GpujsBackendOptions {
  /** 'auto' (default) picks the best available mode; an explicit mode fails clearly when unavailable. */
  mode?: GpujsModeRequest;
}

function resolveMode(mod: GpujsModule, req: GpujsModeRequest): GpujsMode {
  if (req === 'auto') return autoMode(mod);
  if (!GPUJS_MODES.includes(req)) throw new RangeError(`unknown gpu.js mode '${String(req)}'; one of auto, ${GPUJS_MODES.join(', ')}`);
  return req;
}

/** A gpu.js backend in the requested mode. Call destroy() when done (it releases the GL context). */
export async function createGpujsBackend(opts: GpujsBackendOptions = {}): Promise<GpujsBackend> {
  const mod = await loadGpujs();
  const mode = resolveMode(mod, opts.mode ?? 'auto');
  if (mode !== 'webgpu') return new GpujsBackend(mod, mode);
  const found = await webgpuAdapter();
  if ('reason' in found) throw new Error(`gpu.js mode 'webgpu' is not available: ${found.reason}`);
  return new GpujsBackend(mod, mode, found.adapter);
}

/** Parses a CLI backend spec 'gpujs' or 'gpujs:MODE' into options. */
export function parseGpujsSpec(spec: string): GpujsBackendOptions {
  const [name, mode] = spec.split(':', 2);
  if (name !== 'gpujs') throw new RangeError(`not a gpu.js backend spec: '${spec}'`);
  return { mode: (mode ?? 'auto') as GpujsModeRequest };
}

/** Which modes can run here, and why not for the others (no backend is created). */
export async function gpujsAvailability(): Promise<Record<GpujsMode, string | null>> {
  const mod = await loadGpujs();
  const r = {} as Record<GpujsMode, string | null>;
  for (const m of GPUJS_MODES) r[m] = unavailableReason(mod, m);
  if (r.webgpu === null || !mod.GPU.isWebGPUSupported) {
    const found = await webgpuAdapter();
    r.webgpu = 'reason' in found ? found.reason : null;
  }
  return r;
}

/** The info object the CLI records: {mode, renderer, software}. */
export function describe(backend: GpujsBackend): GpujsInfo {
  return backend.describe();
}
