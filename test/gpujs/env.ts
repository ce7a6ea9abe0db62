// Which gpu.js modes the tests can run here. Outside CI a missing gpu.js or GL context skips the GL tests
// with what to install; with PLIF_REQUIRE_GL=1 (CI runs `xvfb-run -a npm test`) it is a failure instead.
import { GpujsBackend } from '../../backends/gpujs/backend.js';
import { INSTALL_GL, loadGpujs, unavailableReason, type GpujsMode } from '../../backends/gpujs/modes.js';

export const REQUIRE_GL = process.env['PLIF_REQUIRE_GL'] === '1';

export interface ModeEnv {
  mode: GpujsMode;
  /** null when the mode cannot run here. */
  backend: GpujsBackend | null;
  /** Why not, with what to install. */
  why: string | null;
}

const backends = new Map<GpujsMode, Promise<ModeEnv>>();

/** One shared backend per mode for the whole test file (kernels compile once per shape). */
export function modeEnv(mode: GpujsMode): Promise<ModeEnv> {
  let p = backends.get(mode);
  if (!p) {
    p = (async (): Promise<ModeEnv> => {
      let mod;
      try {
        mod = await loadGpujs();
      } catch (e) {
        return { mode, backend: null, why: (e as Error).message };
      }
      const why = unavailableReason(mod, mode);
      if (why !== null) return { mode, backend: null, why: mode === 'headlessgl' ? INSTALL_GL : why };
      return { mode, backend: new GpujsBackend(mod, mode), why: null };
    })();
    backends.set(mode, p);
  }
  return p;
}

/** Whether a missing mode fails the run (GL under PLIF_REQUIRE_GL=1) rather than skipping. */
export function mustRun(mode: GpujsMode): boolean {
  return REQUIRE_GL && (mode === 'headlessgl' || mode === 'cpu' || mode === 'webasm');
}
