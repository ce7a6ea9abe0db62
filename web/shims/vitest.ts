// The part of vitest's API that the proofs the conformance page runs use (describe, it, afterAll, expect and its
// matchers), so that they run unchanged inside the conformance page. Tests are collected by describe/it and run by
// runCollected(); a failed expectation throws, naming what was expected.

type Body = () => unknown;
interface Collected {
  suite: string;
  name: string;
  body: Body;
}

const collected: Collected[] = [];
let suite = '';

export function describe(name: string, body: () => void): void {
  const outer = suite;
  suite = outer ? `${outer} > ${name}` : name;
  try {
    body();
  } finally {
    suite = outer;
  }
}
describe.skip = (_name: string, _body: () => void): void => {};

export function it(name: string, body: Body): void {
  collected.push({ suite, name, body });
}
export const test = it;

const afterAllHooks: Body[] = [];
/** Runs after every collected test (the proofs print their largest disagreement there). */
export function afterAll(body: Body): void {
  afterAllHooks.push(body);
}

export interface TestResult {
  suite: string;
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

/** Runs the collected tests in order (the collection is emptied); each result is also passed to onResult. */
export async function runCollected(onResult?: (r: TestResult) => void): Promise<TestResult[]> {
  const todo = collected.splice(0);
  const out: TestResult[] = [];
  for (const t of todo) {
    const t0 = performance.now();
    let r: TestResult;
    try {
      await t.body();
      r = { suite: t.suite, name: t.name, ok: true, ms: performance.now() - t0 };
    } catch (e) {
      r = { suite: t.suite, name: t.name, ok: false, ms: performance.now() - t0, error: e instanceof Error ? `${e.message}` : String(e) };
    }
    out.push(r);
    onResult?.(r);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  for (const hook of afterAllHooks.splice(0)) await hook();
  return out;
}

function show(v: unknown): string {
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}[${Array.from(v as unknown as ArrayLike<number>).slice(0, 20).join(', ')}]`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  const isList = (x: object) => Array.isArray(x) || ArrayBuffer.isView(x);
  if (isList(a) || isList(b)) {
    if (!isList(a) || !isList(b) || Array.isArray(a) !== Array.isArray(b)) return false;
    const x = a as ArrayLike<unknown>;
    const y = b as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!equal(x[i], y[i])) return false;
    return true;
  }
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function matchers(actual: unknown, message: string | undefined, negate: boolean) {
  const check = (pass: boolean, what: string) => {
    if (pass === negate) throw new Error(`${message ? `${message}: ` : ''}expected ${show(actual)} ${negate ? 'not ' : ''}${what}`);
  };
  return {
    toBe: (want: unknown) => check(Object.is(actual, want), `to be ${show(want)}`),
    toEqual: (want: unknown) => check(equal(actual, want), `to equal ${show(want)}`),
    toBeNull: () => check(actual === null, 'to be null'),
    toBeLessThan: (n: number) => check((actual as number) < n, `to be < ${n}`),
    toBeLessThanOrEqual: (n: number) => check((actual as number) <= n, `to be <= ${n}`),
    toBeGreaterThan: (n: number) => check((actual as number) > n, `to be > ${n}`),
    toBeGreaterThanOrEqual: (n: number) => check((actual as number) >= n, `to be >= ${n}`),
    toThrow: (pattern?: RegExp | string) => {
      let thrown: unknown = undefined;
      let threw = false;
      try {
        (actual as () => unknown)();
      } catch (e) {
        threw = true;
        thrown = e;
      }
      const text = thrown instanceof Error ? thrown.message : String(thrown);
      const matches = threw && (pattern === undefined || (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)));
      if (matches === negate) throw new Error(`${message ? `${message}: ` : ''}expected the function ${negate ? 'not ' : ''}to throw${pattern ? ` ${String(pattern)}` : ''}${threw ? `, it threw '${text}'` : ''}`);
    },
  };
}

/** expect(promise).rejects.toThrow(pattern): the promise rejects with an error matching pattern. */
function rejects(actual: unknown, message: string | undefined) {
  return {
    toThrow: async (pattern?: RegExp | string) => {
      let text: string | null = null;
      try {
        await actual;
      } catch (e) {
        text = e instanceof Error ? e.message : String(e);
      }
      const matches = text !== null && (pattern === undefined || (typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text)));
      if (!matches) throw new Error(`${message ? `${message}: ` : ''}expected the promise to reject${pattern ? ` with ${String(pattern)}` : ''}${text !== null ? `, it rejected with '${text}'` : ', it resolved'}`);
    },
  };
}

export function expect(actual: unknown, message?: string) {
  return { ...matchers(actual, message, false), not: matchers(actual, message, true), rejects: rejects(actual, message) };
}
