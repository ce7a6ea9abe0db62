// The package as a user gets it: `npm pack`, a default `npm install` of the tarball into a fresh project,
// then every README and docs snippet that imports the package (found in the Markdown, so new snippets are
// covered) type-checked under tsc --strict and run in Node ESM, and the `plif` command as installed.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, ROOT } from '../reliability/helpers.js';

interface Pkg {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  exports: Record<string, unknown>;
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Pkg;
const optionalPeers = Object.keys(pkg.peerDependencies ?? {}).filter((p) => pkg.peerDependenciesMeta?.[p]?.optional);
const FASHION_MNIST = '/usr/share/datasets/fashion-mnist';
const hasFashionMnist = existsSync(join(FASHION_MNIST, 'train-images-idx3-ubyte.gz'));

/** A fenced block of a Markdown file: its language, its first line number and its text. */
export interface Snippet {
  file: string;
  line: number;
  lang: string;
  code: string;
}

/** The ts/js blocks of Markdown text that import the package ('plif-snn' or 'plif-snn/...'). */
export function packageSnippets(file: string, markdown: string): Snippet[] {
  const out: Snippet[] = [];
  const fence = /^([ \t]*)(```+)[ \t]*([A-Za-z]*)[^\n]*\n([\s\S]*?)^\1\2[ \t]*$/gm;
  for (const m of markdown.matchAll(fence)) {
    const lang = m[3]!.toLowerCase();
    if (!['ts', 'typescript', 'js', 'javascript', 'mjs'].includes(lang)) continue;
    const code = m[4]!;
    if (!/from\s+['"]plif-snn(\/[^'"]*)?['"]/.test(code)) continue;
    out.push({ file, line: markdown.slice(0, m.index).split('\n').length, lang, code });
  }
  return out;
}

const run = (cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, PLIF_THREADS: '1', npm_config_fund: 'false', npm_config_audit: 'false', npm_config_update_notifier: 'false', ...env }, timeout: 170_000 });
const show = (r: SpawnSyncReturns<string>) => `exit ${r.status}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`;

let work: string;
let project: string;
let tarball: string;
let packed: { size: number; unpackedSize: number; files: { path: string }[] };
let installSeconds: number;
const plifBin = () => join(project, 'node_modules', '.bin', 'plif');
const installed = () => join(project, 'node_modules', 'plif-snn');

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'plif-pack-'));
  // --ignore-scripts: dist/ is built (prepare would rebuild it); the tarball holds what `files` selects
  const p = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT);
  if (p.status !== 0) throw new Error(`npm pack failed: ${show(p)}`);
  packed = (JSON.parse(p.stdout) as (typeof packed & { filename: string })[])[0]!;
  tarball = join(work, (packed as unknown as { filename: string }).filename);
  project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-plif-snn', private: true, type: 'module' }, null, 2));
  const t0 = performance.now();
  const i = run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], project);
  installSeconds = (performance.now() - t0) / 1000;
  if (i.status !== 0) throw new Error(`npm install of the tarball failed: ${show(i)}`);
  process.stdout.write(`[package] tarball ${(packed.size / 1024).toFixed(0)} KiB (${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${packed.files.length} files); default install in ${installSeconds.toFixed(1)} s\n`);
}, 180_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the published package', () => {
  it('holds dist/, the docs, README and LICENSE, and not the tests, sources, source maps or CI script', () => {
    const files = packed.files.map((f) => f.path);
    for (const want of ['LICENSE', 'README.md', 'package.json', 'dist/cli/plif.js', 'dist/core/index.d.ts', 'dist/backends/cpu/wasm/kernels.wasm', 'bench/peers/torch_step.py']) expect(files).toContain(want);
    for (const doc of readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md'))) expect(files).toContain(`docs/${doc}`);
    for (const f of files) {
      expect(f).not.toMatch(/^(test|proofs|core|backends|data|training|cli|reference|\.ci)\//);
      expect(f).not.toMatch(/\.map$|\.test\.|^tsconfig|^vitest/);
    }
    // everything the exports map points at is in it
    for (const [entry, target] of Object.entries(pkg.exports)) {
      const paths = typeof target === 'string' ? [target] : Object.values(target as Record<string, string>);
      for (const path of paths) expect(files, `${entry} -> ${path}`).toContain(path.replace(/^\.\//, ''));
    }
  });

  it('installs by default without compiling anything and without the optional peers', () => {
    const lock = JSON.parse(readFileSync(join(project, 'node_modules', '.package-lock.json'), 'utf8')) as { packages: Record<string, { hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages).filter(([, p]) => p.hasInstallScript).map(([name]) => name);
    expect(withScripts).toEqual([]); // nothing runs node-gyp or any other install script
    for (const absent of [...optionalPeers, 'gl', 'webgpu']) expect(existsSync(join(project, 'node_modules', absent)), absent).toBe(false);
    expect(optionalPeers).toEqual(expect.arrayContaining(['gpu.js', '@tensorflow/tfjs']));
  });

  it('never reaches a development dependency from its entry points or the CLI', () => {
    // Every module reachable (static imports and literal dynamic imports) from the exports and bin may only
    // import Node built-ins, dependencies and optional peers (which the code guards).
    const allowed = new Set([...Object.keys(pkg.dependencies ?? {}), ...optionalPeers]);
    const root = installed();
    const queue = [...Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : [(t as { default: string }).default])), './dist/cli/plif.js']
      .filter((p) => p.endsWith('.js'))
      .map((p) => join(root, p));
    const seen = new Set<string>();
    const bare = new Map<string, string>();
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const src = readFileSync(file, 'utf8');
      for (const m of src.matchAll(/(?:^|[;\s])(?:import|export)\s+(?:[^'";]*?\sfrom\s+)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
        const spec = (m[1] ?? m[2])!;
        if (spec.startsWith('.')) queue.push(join(dirname(file), spec));
        else bare.set(spec, relative(root, file));
      }
    }
    expect(seen.size).toBeGreaterThan(50);
    expect([...seen].some((f) => f.endsWith('cli/commands/bench.js'))).toBe(true);
    for (const [spec, from] of bare) {
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      const builtin = spec.startsWith('node:') || builtinModules.includes(name);
      expect(builtin || allowed.has(name), `${from} imports '${spec}', neither a dependency nor an optional peer`).toBe(true);
    }
  });

  it('every README and docs snippet that imports the package type-checks under tsc --strict and runs in Node ESM', () => {
    const docs = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
    const snippets = docs.flatMap((f) => packageSnippets(f, readFileSync(join(ROOT, f), 'utf8')));
    expect(snippets.length).toBeGreaterThanOrEqual(6);
    expect(snippets.map((s) => s.file)).toEqual(expect.arrayContaining(['README.md', 'docs/networks.md', 'docs/gpujs.md', 'docs/datasets.md', 'docs/performance.md']));
    const dir = join(project, 'snippets');
    mkdirSync(dir, { recursive: true });
    const named = snippets.map((s) => ({ ...s, name: `${s.file.replace(/[/.]/g, '_')}_${s.line}`, ts: s.lang === 'ts' || s.lang === 'typescript' }));
    for (const s of named) writeFileSync(join(dir, `${s.name}.${s.ts ? 'ts' : 'mjs'}`), `// ${s.file}:${s.line}\n${s.code}\nexport {};\n`);
    // and every entry of the exports map, with the public types of training runs
    const entries = Object.keys(pkg.exports).filter((e) => e !== './package.json').map((e) => e.replace(/^\./, 'plif-snn'));
    writeFileSync(
      join(dir, 'entries.ts'),
      [
        ...entries.map((e, i) => `import * as entry${i} from '${e}';`),
        "import type { EpochMetrics, TrainRecord, TrainConfig } from 'plif-snn/training';",
        "const m: Pick<EpochMetrics, 'epoch' | 'test_acc'> & Partial<TrainRecord> & Partial<TrainConfig> = { epoch: 0, test_acc: 1 };",
        `const counts = [${entries.map((_, i) => `Object.keys(entry${i}).length`).join(', ')}];`,
        "if (counts.some((n) => n === 0)) throw new Error(`an entry exports nothing: ${counts.join(', ')}`);",
        'console.log(m.epoch, counts.join(" "));',
      ].join('\n'),
    );
    named.push({ file: 'package.json exports', line: 0, lang: 'ts', code: '', name: 'entries', ts: true });
    const compilerOptions = {
      target: 'ES2022', lib: ['ES2022'], strict: true, skipLibCheck: false, noEmitOnError: true,
      types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')],
    };
    // NodeNext (Node's own resolution) compiles the snippets for running; bundler resolution is checked too
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'NodeNext', moduleResolution: 'NodeNext', outDir: 'out', rootDir: 'snippets' }, include: ['snippets/*.ts'] }));
    writeFileSync(join(project, 'tsconfig.bundler.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'ESNext', moduleResolution: 'bundler', noEmit: true }, include: ['snippets/*.ts'] }));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    for (const config of ['tsconfig.json', 'tsconfig.bundler.json']) {
      const r = run(process.execPath, [tsc, '-p', config], project);
      expect(r.status, `tsc -p ${config}:\n${r.stdout}${r.stderr}`).toBe(0);
    }
    let coreExample = '';
    let trainingExample: SpawnSyncReturns<string> | null = null;
    for (const s of named) {
      const file = s.ts ? join(project, 'out', `${s.name}.js`) : join(dir, `${s.name}.mjs`);
      const r = run(process.execPath, [file], project);
      const where = `${s.file}:${s.line}`;
      if (s.file === 'README.md' && s.code.includes('neuronBackward')) coreExample = r.stdout;
      if (s.file === 'README.md' && s.code.includes('runTraining(')) trainingExample = r;
      if (r.status === 0) continue;
      // Allowed failures: a snippet of an optional peer's feature, run without that peer, must say what to
      // install; a dataset snippet, where the dataset is not on this machine, must say what it searched.
      const missingPeer = optionalPeers.find((peer) => !existsSync(join(project, 'node_modules', peer)) && r.stderr.includes(`npm install ${peer}`));
      const missingData = !hasFashionMnist && /dataset '[\w-]+' not found/.test(r.stderr);
      expect(missingPeer !== undefined || missingData, `${where} failed:\n${show(r)}`).toBe(true);
    }
    // README "Using the core": its neurons spike, and dL/da is not zero
    expect(coreExample).toMatch(/'[01]*1[01]*'/);
    const gradA = Number(coreExample.trim().split('\n').at(-1)!.split(' ')[1]);
    expect(Number.isFinite(gradA) && gradA !== 0, coreExample).toBe(true);
    // README "Training from code" (load data, train, save, load, evaluate, dispose), where the dataset is
    // here: the loaded network scores what the run's own test pass of the trained one scored, on the same
    // 500 images; the metadata print as objects; nothing stays allocated
    expect(trainingExample, 'the README holds the runTraining example').not.toBeNull();
    if (hasFashionMnist) {
      const r = trainingExample!;
      expect(r.status, show(r)).toBe(0);
      const m = /^test accuracy (\S+) on (\d+) images; the run's own test pass: (\S+)$/m.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      const [accuracy, total, trained] = [Number(m![1]), Number(m![2]), Number(m![3])];
      expect(accuracy >= 0 && accuracy <= 1, r.stdout).toBe(true);
      expect(total).toBe(500);
      expect(Math.round(accuracy * total)).toBeCloseTo(accuracy * total, 9);
      expect(accuracy).toBe(trained);
      expect(r.stdout).toMatch(/^\{c16k3s1-BN-PLIF-MPk2s2\}\*2-\S+ \[\n  \{ layer: 2, tau: [\d.]+ \},/m); // tau: objects, not a JSON string
      expect(r.stdout).toMatch(/ Adam step 64 epochs done 1$/m);
      expect(r.stdout).toMatch(/^live tensors: 0$/m);
    }
  });

  it('the gpu.js backend and --backend gpujs, without gpu.js, say what to install', () => {
    const r = run(process.execPath, ['--input-type=module', '-e', "import { createGpujsBackend } from 'plif-snn/backends/gpujs'; await createGpujsBackend();"], project);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/the gpu\.js backend cannot load gpu\.js .*npm install gpu\.js/);
    const cli = run(plifBin(), ['bench', '--backend', 'gpujs', '--steps', '1', '--no-tfjs'], project);
    expect(cli.status, show(cli)).toBe(2);
    expect(cli.stderr).toMatch(/^plif bench: --backend gpujs: the gpu\.js backend cannot load gpu\.js .*; install the optional peer dependency gpu\.js \(npm install gpu\.js@/m);
  });

  it('plif --version and -V print the version', () => {
    for (const flag of ['--version', '-V']) {
      const r = run(plifBin(), [flag], project);
      expect(r.status, show(r)).toBe(0);
      expect(r.stdout).toBe(`${pkg.version}\n`);
    }
  });

  it('plif bench runs without TensorFlow.js and says it skipped it', () => {
    const r = run(plifBin(), ['bench', '--channels', '4', '--T', '2', '--batch', '4', '--steps', '1', '--warmup', '0'], project);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toMatch(/^cpu +: [\d.]+ samples\/s/m);
    expect(r.stdout).toContain('tfjs (cpu)      : skipped: @tensorflow/tfjs is not installed (npm install @tensorflow/tfjs to compare; --no-tfjs hides this line)');
    const json = run(plifBin(), ['bench', '--channels', '4', '--T', '2', '--batch', '4', '--steps', '1', '--warmup', '0', '--json'], project);
    expect(JSON.parse(json.stdout).tfjs).toEqual({ skipped: 'not installed' });
  });

  it.skipIf(!hasFashionMnist)('plif train and plif plot run; without resvg\'s platform binary plot writes the SVGs and says PNGs need it', () => {
    const out = join(project, 'run');
    const t = run(plifBin(), ['train', '--preset', 'fmnist-small', '--channels', '4', '--T', '2', '--limit-train', '64', '--limit-test', '32', '--val', '0.15', '--out', out], project);
    expect(t.status, show(t)).toBe(0);
    expect(t.stdout).toContain(`test samples from ${FASHION_MNIST};`);
    const withPng = run(plifBin(), ['plot', out], project);
    expect(withPng.status, show(withPng)).toBe(0);
    for (const name of ['accuracy', 'loss', 'tau', 'firing-maps', 'confusion']) expect(statSync(join(out, 'plots', `${name}.png`)).size).toBeGreaterThan(1000);

    // What an install with --omit=optional leaves: @resvg/resvg-js without its platform package
    const resvgScope = join(project, 'node_modules', '@resvg');
    const binaries = readdirSync(resvgScope).filter((d) => d.startsWith('resvg-js-'));
    expect(binaries.length).toBeGreaterThan(0);
    for (const b of binaries) rmSync(join(resvgScope, b), { recursive: true });
    const svgOnly = run(plifBin(), ['plot', out, '--out', join(out, 'svg-only')], project);
    expect(svgOnly.status, show(svgOnly)).toBe(0);
    expect(svgOnly.stderr).toMatch(/^plif plot: SVG only: PNGs need @resvg\/resvg-js with its platform binary, which cannot load here \(.*resvg-js-.*\); install it without --omit=optional/m);
    expect(svgOnly.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    const written = readdirSync(join(out, 'svg-only')).sort();
    expect(written).toEqual(['accuracy.svg', 'confusion.svg', 'firing-maps.svg', 'loss.svg', 'tau.svg']);
  });
});

describe('packageSnippets', () => {
  it('finds ts and js blocks importing the package, also indented ones, and nothing else', () => {
    const md = [
      '```ts', "import { a } from 'plif-snn';", '```',
      '```sh', "echo \"from 'plif-snn'\"", '```',
      '- item', '  ```js', "  import { b } from 'plif-snn/data';", '  ```',
      '```ts', "import { c } from './local.js';", '```',
      '```typescript title="x"', 'import { d } from "plif-snn/backends/cpu";', '```',
    ].join('\n');
    const s = packageSnippets('x.md', md);
    expect(s.map((x) => [x.lang, x.line])).toEqual([['ts', 1], ['js', 8], ['typescript', 14]]);
    expect(s[0]!.code).toBe("import { a } from 'plif-snn';\n");
  });
});
