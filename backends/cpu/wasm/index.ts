// Loader of the CPU backend's WebAssembly SIMD kernels in Node (source: ./assembly/kernels.ts, compiled by
// `npm run build` to dist/backends/cpu/wasm/kernels.wasm). The module imports its memory (env.memory,
// shared, maximum 65536 pages); all arguments are byte offsets (16-byte aligned) of float32 arrays in
// that memory and integer dimensions. Every kernel writes only the output range it is given, with the
// same per-element arithmetic for any split, so threads running disjoint ranges give bitwise-identical
// results for any thread count.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtFilePath } from '../built-file.js';
import { compileKernelModule, kernelSupportProblem, type KernelModuleResult } from './module.js';

export {
  compileKernelModule,
  instantiateKernels,
  KERNEL_MAX_PAGES,
  KERNEL_RESERVED_BYTES,
  kernelSupportProblem,
  type KernelModuleResult,
  type WasmKernels,
} from './module.js';

/** Where kernels.wasm should be: beside this file in dist, or dist/... under the package root from the sources. */
export function kernelWasmPath(): string {
  return builtFilePath(dirname(fileURLToPath(import.meta.url)), 'kernels.wasm', join('backends', 'cpu', 'wasm', 'kernels.wasm'));
}

let cached: KernelModuleResult | null = null;

/** Reads and compiles kernels.wasm once (synchronously); null module with the reason when unavailable. */
export function loadKernelModule(): KernelModuleResult {
  if (cached) return cached;
  cached = readKernelModule(kernelWasmPath());
  return cached;
}

/** Reads and compiles the kernels at `path`; null module with the reason when this runtime cannot run them or the file is missing. */
export function readKernelModule(path: string): KernelModuleResult {
  const problem = kernelSupportProblem();
  if (problem !== null) return { module: null, reason: problem };
  if (!existsSync(path)) return { module: null, reason: `WebAssembly kernels not found at ${path} (run npm run build)` };
  return compileKernelModule(readFileSync(path), path);
}
