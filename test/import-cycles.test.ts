// No import circle among the library's modules, type-only imports included: each module can be read (and
// changed) after the ones it imports. The relative imports and re-exports of every .ts file are followed.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const DIRS = ['core', 'reference', 'backends', 'data', 'training', 'cli', 'bench', 'interop', 'web', 'proofs'];

function modules(): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d)) {
      const p = join(d, e);
      if (e === 'node_modules' || e === 'dist' || e === 'assembly') continue;
      if (statSync(p).isDirectory()) walk(p);
      else if (/\.tsx?$/.test(e) && !e.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const d of DIRS) if (existsSync(join(ROOT, d))) walk(join(ROOT, d));
  return out;
}

/** The modules of the project that `file` imports or re-exports from (static imports, `import type` too). */
function importsOf(file: string, known: Set<string>): string[] {
  const src = readFileSync(file, 'utf8');
  const deps: string[] = [];
  for (const m of src.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"`;]*?\sfrom\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
    const target = resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'));
    const tsx = target.replace(/\.ts$/, '.tsx');
    if (known.has(target)) deps.push(target);
    else if (known.has(tsx)) deps.push(tsx);
  }
  return deps;
}

export function importCycles(files: string[]): string[][] {
  const known = new Set(files);
  const graph = new Map(files.map((f) => [f, importsOf(f, known)]));
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (f: string) => {
    state.set(f, 1);
    stack.push(f);
    for (const d of graph.get(f)!) {
      if (state.get(d) === 1) cycles.push([...stack.slice(stack.indexOf(d)), d].map((p) => relative(ROOT, p)));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, 2);
  };
  for (const f of files) if (!state.has(f)) visit(f);
  return cycles;
}

describe('module graph', () => {
  it('no import circle in the library, its proofs and the page', () => {
    const files = modules();
    expect(files.length).toBeGreaterThan(100);
    expect(files.some((f) => f.endsWith(join('training', 'loop.ts')))).toBe(true);
    expect(importCycles(files).map((c) => c.join(' -> '))).toEqual([]);
  });
});
