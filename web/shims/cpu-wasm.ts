// The CPU backend's WebAssembly kernel loader in the browser page: the page fetches kernels.wasm (built by
// `npm run build`, bundled by vite) and hands its bytes over before it creates the backend; Node reads the
// file instead (backends/cpu/wasm/index.ts). Compiling and instantiating are shared (wasm/module.ts).
import { compileKernelModule, type KernelModuleResult } from '../../backends/cpu/wasm/module.js';

export * from '../../backends/cpu/wasm/module.js';

/** Bytes and where they came from, set by provideKernelBytes; null until then. */
let provided: { bytes: Uint8Array; where: string } | null = null;
let compiled: KernelModuleResult | null = null;

/** Gives the loader the bytes of kernels.wasm (fetched by the page from `where`). */
export function provideKernelBytes(bytes: Uint8Array, where: string): void {
  provided = { bytes, where };
  compiled = null;
}

/** The compiled kernels, or null with the reason (no bytes provided, no SIMD or shared memory here). */
export function loadKernelModule(): KernelModuleResult {
  if (!provided) return { module: null, reason: 'kernels.wasm was not fetched' };
  compiled ??= compileKernelModule(provided.bytes, provided.where);
  return compiled;
}
