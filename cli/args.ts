// Flag parsing shared by every command: node:util parseArgs (strict; an unknown flag gets a "did you
// mean"), then typed values with errors that name the flag and the value; usage errors exit with code 2.
import { parseArgs } from 'node:util';
import { capMessage } from '../core/quote.js';
import { DataFormatError, DatasetNotFoundError } from '../data/errors.js';
import { FileIoError, kernelFileSystemProblem } from '../data/file-io.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;
export interface ParsedFlags<T extends FlagSpec> {
  values: { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string };
  positionals: string[];
}

export function parseFlags<T extends FlagSpec>(argv: string[], options: T, positionals = false): ParsedFlags<T> {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: positionals }) as unknown as ParsedFlags<T>;
  } catch (err) {
    const message = (err as Error).message.replace(/^TypeError \[[A-Z_]+\]: /, '');
    const unknown = /^Unknown option '--([^'=]+)'/.exec(message)?.[1];
    const near = unknown === undefined ? [] : nearestFlags(unknown, Object.keys(options));
    if (near.length) throw new UsageError(`Unknown option '--${unknown}': did you mean ${near.map((n) => `--${n}`).join(' or ')}?`);
    throw new UsageError(message);
  }
}

/** Edit distance (insertions, deletions, substitutions, adjacent transpositions), ignoring case. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known flags an unknown one was probably meant to be: the nearest by edit distance, when at most 2
 * edits and fewer than half its letters away (so '--x' suggests nothing), else the one it is a prefix of.
 */
export function nearestFlags(unknown: string, known: readonly string[]): string[] {
  const scored = known.map((k) => ({ k, d: editDistance(unknown, k) })).filter(({ d }) => d <= 2 && d < unknown.length / 2);
  if (scored.length) {
    const best = Math.min(...scored.map(({ d }) => d));
    return scored.filter(({ d }) => d === best).map(({ k }) => k);
  }
  const extended = known.filter((k) => unknown.length >= 2 && k.toLowerCase().startsWith(unknown.toLowerCase()));
  return extended.length === 1 ? extended : [];
}

export function intFlag(name: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^[+-]?\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

export function numFlag(name: string, v: string | undefined, check: (n: number) => boolean, what: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || !check(n)) throw new UsageError(`--${name} must be ${what}, got '${v}'`);
  return n;
}

export function choiceFlag<C extends string>(name: string, v: string | undefined, choices: readonly C[]): C | undefined {
  if (v === undefined) return undefined;
  if (!(choices as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${v}'`);
  return v as C;
}

/** Runs a command body, turning usage errors into exit code 2 with the message and a hint. */
export async function withUsage(command: string, help: string, argv: string[], body: () => Promise<number>): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(help);
    return 0;
  }
  try {
    return await body();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`plif ${command}: ${capMessage(err.message)}\n(plif ${command} --help lists the options)\n`);
      return 2;
    }
    throw err;
  }
}

/** A failure of what a command was given to read: a bad data file, a missing dataset or file. */
export function isInputError(err: unknown): boolean {
  if (err instanceof DataFormatError || err instanceof DatasetNotFoundError || err instanceof RangeError) return true;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR';
}

/** Runs a command body, turning input errors (isInputError) into exit code 1 with the message alone. */
export async function withInputErrors(command: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    if (!isInputError(err)) throw err;
    process.stderr.write(`plif ${command}: ${capMessage((err as Error).message)}\n`);
    return 1;
  }
}

/**
 * Refuses, before any work, an output path the command could never write: one under /proc or /sys (where
 * Node's recursive mkdir spins). A FileIoError naming the flag and the path (exit 1, as a failed write).
 */
export async function checkOutputPaths(paths: Record<string, string | undefined>): Promise<void> {
  for (const [flag, path] of Object.entries(paths)) {
    if (path === undefined) continue;
    const problem = await kernelFileSystemProblem(path);
    if (problem) throw new FileIoError(path, `write ${flag}`, null, problem);
  }
}
