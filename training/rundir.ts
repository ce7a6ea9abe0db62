// The run directory: config.json, metrics.jsonl (one line per epoch), checkpoints last/best, and the
// firing-rate maps of the last test pass. Every file is written atomically (temp file + rename).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../data/index.js';

export function runPaths(dir: string) {
  return {
    dir,
    config: join(dir, 'config.json'),
    metrics: join(dir, 'metrics.jsonl'),
    last: join(dir, 'last.safetensors'),
    best: join(dir, 'best.safetensors'),
    firingMaps: join(dir, 'firing-maps.json'),
  };
}

export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(JSON.stringify(value, null, 2) + '\n'));
}

/** Lines of metrics.jsonl; a missing file is an empty run, a bad line an error naming the line. */
export async function readMetrics(path: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text
    .split('\n')
    .map((line, i) => [line, i] as const)
    .filter(([line]) => line.trim() !== '')
    .map(([line, i]) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`${path}:${i + 1}: not a JSON line`);
      }
    });
}

/** Rewrites metrics.jsonl with exactly these lines. */
export async function truncateMetrics(path: string, lines: readonly unknown[]): Promise<void> {
  await writeFileAtomic(path, new TextEncoder().encode(lines.map((l) => JSON.stringify(l) + '\n').join('')));
}

export async function appendMetrics(path: string, line: unknown): Promise<void> {
  const lines = await readMetrics(path);
  await truncateMetrics(path, [...lines, line]);
}
