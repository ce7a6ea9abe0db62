// Builds the browser page (web/) into dist/web: the page, its training worker and the conformance page. The
// library's modules are bundled as they are; the two Node-only parts of the CPU backend (its worker_threads
// pool and its kernels.wasm file reader) are replaced by their one-thread, fetched twins in web/shims, and
// `vitest` by a small harness so that proofs/conformance.ts runs unchanged inside the conformance page. Any
// other import of a Node built-in fails the build: everything the page imports must run in a browser.
import { readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { defineConfig, type Plugin } from 'vite';

const web = dirname(fileURLToPath(import.meta.url));
const root = resolve(web, '..');
const NODE = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/**
 * The gpu.js kernels, which gpu.js compiles from their source text. A bundler reprints code (it drops braces:
 * `for (...) if (...) { const h = ... }`, which gpu.js 2.24.1 then translates wrongly), so this module is
 * emitted by TypeScript exactly as for Node and imported from a data: URL, untouched (it imports nothing).
 * Not core/scalar.ts, whose functions gpu.js compiles too: the CPU backend runs them, and Chromium runs code of
 * a data: URL module several times slower (the neuron ops of a step: 450 ms instead of 20 ms); its reprinted
 * form passes the conformance suite inside the page on webgl2 and webgl (test/browser/page.test.ts).
 */
const VERBATIM = ['backends/gpujs/kernels.ts'].map((f) => resolve(root, f));

function verbatimModule(file: string): string {
  const js = ts.transpileModule(readFileSync(file, 'utf8'), { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext }, fileName: file }).outputText;
  if (/^\s*import\s/m.test(js)) throw new Error(`${file} must import nothing to be served verbatim`);
  return `export * from ${JSON.stringify(`data:text/javascript;base64,${Buffer.from(js).toString('base64')}`)};\n`;
}

function browserOnly(): Plugin {
  return {
    name: 'plif-browser-only',
    enforce: 'pre',
    load(id) {
      return VERBATIM.includes(resolve(id)) ? verbatimModule(id) : null;
    },
    resolveId(source, importer) {
      if (source.startsWith('data:')) return { id: source, external: true };
      const from = importer ? resolve(importer).replace(/\\/g, '/') : '';
      if (from.endsWith('/backends/cpu/index.ts') && source === './pool.js') return resolve(web, 'shims/cpu-pool.ts');
      if (from.endsWith('/backends/cpu/index.ts') && source === './wasm/index.js') return resolve(web, 'shims/cpu-wasm.ts');
      if (source === 'vitest') return resolve(web, 'shims/vitest.ts');
      if (NODE.has(source)) this.error(`${importer ?? '?'} imports the Node module '${source}': the page must not need Node APIs (split the pure part out)`);
      return null;
    },
  };
}

export default defineConfig({
  root: web,
  base: './',
  plugins: [browserOnly()],
  // One output file per module: in a single bundle, scope hoisting would rename core/scalar.ts's `charge` to
  // `charge$1` (backends/gpujs/kernels.ts calls the GPU function `charge` by that name), and gpu.js compiles
  // the functions from their source text, names included.
  worker: { format: 'es', plugins: () => [browserOnly()], rollupOptions: { output: { preserveModules: true, preserveModulesRoot: root } } },
  build: {
    outDir: resolve(root, 'dist/web'),
    emptyOutDir: true,
    target: 'es2022',
    // gpu.js compiles kernels from the functions' source text and checks its kernel classes by name
    minify: false,
    rollupOptions: { input: { main: resolve(web, 'index.html'), conformance: resolve(web, 'conformance.html'), bench: resolve(web, 'bench.html') }, output: { preserveModules: true, preserveModulesRoot: root } },
  },
});
