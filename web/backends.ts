// Backends of the browser page: the library's CPU backend (its WebAssembly SIMD kernels, fetched, on one
// thread: the same arithmetic as the CLI's, whatever its thread count) and its gpu.js backend in the modes a
// browser offers (webgpu, webgl2, webgl, cpu), with gpu.js's browser bundle (loaded by the library's own loader). No silent fallback: a mode that is not
// available fails with the reason.
import { cpuBackend } from '../backends/cpu/index.js';
import { createGpujsBackend } from '../backends/gpujs/index.js';
import { isSoftwareRenderer, loadGpujs, webgpuAdapter } from '../backends/gpujs/modes.js';
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

export const PAGE_BACKENDS = ['gpujs:webgpu', 'gpujs:webgl2', 'gpujs:webgl', 'gpujs:cpu', 'cpu'] as const;
export type PageBackend = (typeof PAGE_BACKENDS)[number];

/** The page's default backend and why it was chosen (shown to the user). */
export interface DefaultChoice {
  backend: PageBackend;
  why: string;
}

/** The WebGL renderer of this browser (WEBGL_debug_renderer_info), or null without WebGL. */
function webglRenderer(): string | null {
  try {
    const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : document.createElement('canvas');
    const gl = (canvas.getContext('webgl2') ?? canvas.getContext('webgl')) as WebGLRenderingContext | null;
    if (!gl) return null;
    const ext = gl.getExtension('WEBGL_debug_renderer_info');
    const r = String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
    gl.getExtension('WEBGL_lose_context')?.loseContext();
    return r;
  } catch {
    return null;
  }
}

/**
 * The page's default: WebGPU on a hardware adapter; else WebGL2 (or WebGL) on a hardware renderer; else the
 * CPU backend, because a software adapter or renderer (SwiftShader, llvmpipe, a fallback adapter) runs the
 * GPU kernels on the CPU far slower than the CPU backend does (a step of fmnist-small took ~16 s on
 * SwiftShader WebGL2).
 */
export async function defaultBackend(): Promise<DefaultChoice> {
  const found = await webgpuAdapter();
  if ('adapter' in found && !found.adapter.software) return { backend: 'gpujs:webgpu', why: `WebGPU on ${found.adapter.renderer}` };
  const gpuNote = 'adapter' in found ? `the WebGPU adapter is software (${found.adapter.renderer})` : `no WebGPU (${found.reason})`;
  const { GPU } = await loadGpujs();
  const renderer = webglRenderer();
  if (renderer !== null && !isSoftwareRenderer(renderer)) {
    const mode = GPU.isWebGL2Supported ? 'gpujs:webgl2' : 'gpujs:webgl';
    return { backend: mode, why: `${gpuNote}; ${mode.slice(6)} on the GPU renderer ${renderer}` };
  }
  const glNote = renderer === null ? 'no WebGL' : `the WebGL renderer is software (${renderer})`;
  return { backend: 'cpu', why: `${gpuNote}; ${glNote}: the CPU backend is faster than GPU kernels run in software` };
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
  const mode = spec.slice('gpujs:'.length) as 'webgpu' | 'webgl2' | 'webgl' | 'cpu';
  const backend = await createGpujsBackend({ mode });
  const d = backend.describe();
  return { backend, info: { name: 'gpujs', mode: d.mode, renderer: d.renderer, software: d.software }, close: () => backend.destroy() };
}
