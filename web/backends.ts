// Backends of the browser page: the library's CPU backend (its WebAssembly SIMD kernels, fetched, on one
// thread: the same arithmetic as the CLI's, whatever its thread count) and its gpu.js backend in the modes a
// browser offers (webgl2, webgl, cpu), with gpu.js's browser bundle (loaded by the library's own loader). No silent fallback: a mode that is not
// available fails with the reason.
import { cpuBackend } from '../backends/cpu/index.js';
import { createGpujsBackend } from '../backends/gpujs/index.js';
import { loadGpujs } from '../backends/gpujs/modes.js';
import type { Backend } from '../core/backend.js';
import kernelsUrl from '../dist/backends/cpu/wasm/kernels.wasm?url';
import { provideKernelBytes } from './shims/cpu-wasm.js';

/** What the page shows in #backend. */
export interface BackendInfo {
  name: 'cpu' | 'gpujs';
  mode: string;
  renderer: string;
  /** True when no GPU does the work: samples/s then say nothing about a GPU. */
  software: boolean;
}

export const PAGE_BACKENDS = ['gpujs:webgl2', 'gpujs:webgl', 'gpujs:cpu', 'cpu'] as const;
export type PageBackend = (typeof PAGE_BACKENDS)[number];

/** The page's default: WebGL2 where the browser has it, else WebGL, else the CPU backend. */
export async function defaultBackend(): Promise<PageBackend> {
  const { GPU } = await loadGpujs();
  if (GPU.isWebGL2Supported) return 'gpujs:webgl2';
  if (GPU.isWebGLSupported) return 'gpujs:webgl';
  return 'cpu';
}

export interface OpenedBackend {
  backend: Backend;
  info: BackendInfo;
  close(): void;
}

export async function openPageBackend(spec: string): Promise<OpenedBackend> {
  if (!(PAGE_BACKENDS as readonly string[]).includes(spec)) throw new RangeError(`unknown backend '${spec}' (one of ${PAGE_BACKENDS.join(', ')})`);
  if (spec === 'cpu') {
    const r = await fetch(kernelsUrl);
    if (r.ok) provideKernelBytes(new Uint8Array(await r.arrayBuffer()), kernelsUrl);
    const backend = cpuBackend({ threads: 1 });
    const kernels = backend.simd ? 'wasm-simd' : 'typescript';
    const renderer = backend.simd ? 'CPU: WebAssembly SIMD kernels, 1 thread' : 'CPU: TypeScript kernels, 1 thread (WebAssembly SIMD unavailable)';
    return { backend, info: { name: 'cpu', mode: kernels, renderer, software: true }, close: () => backend.destroy() };
  }
  const mode = spec.slice('gpujs:'.length) as 'webgl2' | 'webgl' | 'cpu';
  const backend = await createGpujsBackend({ mode });
  const d = backend.describe();
  return { backend, info: { name: 'gpujs', mode: d.mode, renderer: d.renderer, software: d.software }, close: () => backend.destroy() };
}
