// scripts/wasm-equations.mjs, the compiler of core/scalar.ts's functions to AssemblyScript f64x2 lanes: the
// file the build compiles is what core/scalar.ts gives now; codes stay i32 and values become lanes; each
// construct it accepts gives the JavaScript function's bits in both lanes (a small source compiled with asc
// and run beside the same source as JavaScript); what it cannot compile stops it with the function and line.
import { readFileSync } from 'node:fs';
import asc from 'assemblyscript/asc';
import fc from 'fast-check';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileEquations as compile, DEFAULT_OUT, SCALAR_SOURCE, WASM_EQUATIONS } from '../../scripts/wasm-equations.mjs';

describe('the equations the kernels use', () => {
  const generated = compile(readFileSync(SCALAR_SOURCE, 'utf8'));

  it('are the ones in the build: the generated file is what core/scalar.ts gives now (npm run build regenerates it)', () => {
    expect(readFileSync(DEFAULT_OUT, 'utf8')).toBe(generated);
  });

  it('keep the variant codes as i32 and every value as a lane', () => {
    const signature = (name: string) => generated.match(new RegExp(`export function ${name}\\(([^)]*)\\)`))?.[1];
    expect(signature('neuronStep')).toBe('quantity: i32, kind: i32, decayInput: i32, hard: i32, vPrev: v128, x: v128, k: v128, vr: v128, vth: v128');
    expect(signature('neuronGradStep')).toBe('gHNext: v128, gS: v128, gVLoss: v128, h: v128, s: v128, dHdV: v128, hard: i32, detach: i32, vr: v128, vth: v128, sgCode: i32, alpha: v128');
    expect(signature('heaviside')).toBe('x: v128'); // compared with a literal, but given a lane by neuronFire
    expect(signature('adamParam')).toBe('p: v128, m: v128, v: v128, lrOverBc1: v128, sqrtBc2: v128, eps: v128');
    for (const root of WASM_EQUATIONS) expect(signature(root), root).toBeDefined();
    expect(generated).not.toMatch(/export function (mseGrad|bnInvStd|runningStat)\b/); // not reached from the roots
  });
});

// Every construct the compiler accepts, once: code branches (if/else, literal and passed-on codes), lane
// selects (chained), a let assigned under a code, unary minus, Math.PI and Math.sqrt of constants, Math.abs
// and Math.sqrt of lanes, parentheses that change the order, a call with literal codes.
const TOY = `
export function pick(code: number, x: number, y: number): number {
  if (code === 0) {
    return x - y;
  } else {
    return y - x;
  }
}
export function step(x: number): number {
  if (x >= 0) {
    return 1;
  }
  return 0;
}
export function band(x: number, lo: number, hi: number): number {
  const ax = Math.abs(x);
  if (ax < lo) {
    return -x;
  }
  if (ax > hi / 2) {
    return 0;
  }
  return x * (hi - ax);
}
export function mix(flag: number, code: number, a: number, b: number): number {
  let w = a;
  if (flag > 0) {
    w = (Math.PI / 2) * -b;
  }
  return pick(code, w, Math.sqrt(Math.abs(a)) / Math.sqrt(Math.PI)) + band(a - b, 0.25, b) + step(a) * pick(1, a, b);
}
`;
const TOY_ROOTS = ['pick', 'step', 'band', 'mix'];

/** JavaScript of the toy source (types dropped), as its functions. */
function toyInJs(): Record<string, (...args: number[]) => number> {
  const js = ts.transpileModule(TOY.replace(/export /g, ''), { compilerOptions: { target: ts.ScriptTarget.ES2022 } }).outputText;
  return new Function(`${js}; return { ${TOY_ROOTS.join(', ')} };`)();
}

// each toy function through two lanes: lane 0 and lane 1 get different values, both are returned
const WRAPPERS = `
import { pick, step, band, mix } from './toy';
const out = memory.data(16);
function lanes(a: f64, b: f64): v128 { return f64x2.replace_lane(f64x2.splat(a), 1, b); }
function put(v: v128): void { v128.store(out, v); }
export function result(): usize { return out; }
export function pick2(code: i32, x0: f64, x1: f64, y0: f64, y1: f64): void { put(pick(code, lanes(x0, x1), lanes(y0, y1))); }
export function step2(x0: f64, x1: f64): void { put(step(lanes(x0, x1))); }
export function band2(x0: f64, x1: f64, lo0: f64, lo1: f64, hi0: f64, hi1: f64): void { put(band(lanes(x0, x1), lanes(lo0, lo1), lanes(hi0, hi1))); }
export function mix2(flag: i32, code: i32, a0: f64, a1: f64, b0: f64, b1: f64): void { put(mix(flag, code, lanes(a0, a1), lanes(b0, b1))); }
`;

describe('compiled to lanes, each function gives the JavaScript bits in both lanes', () => {
  let wasm: Record<string, (...args: number[]) => number> & { memory: WebAssembly.Memory };
  const js = toyInJs();
  const bits = (x: number) => (Number.isNaN(x) ? 'NaN' : Object.is(x, -0) ? '-0' : new BigUint64Array(new Float64Array([x]).buffer)[0]!.toString(16));

  beforeAll(async () => {
    const toy = compile(TOY, TOY_ROOTS, 'toy.ts');
    const { error, binary, stderr } = await asc.compileString({ 'toy.ts': toy, 'main.ts': WRAPPERS }, { optimizeLevel: 3, runtime: 'stub', enable: ['simd'], noAssert: true });
    if (error || !binary) throw new Error(`asc: ${error?.message}\n${stderr.toString()}\n${toy}`);
    wasm = new WebAssembly.Instance(new WebAssembly.Module(binary as Uint8Array<ArrayBuffer>)).exports as typeof wasm;
  }, 60_000);

  const lanesOut = () => Array.from(new Float64Array(wasm.memory.buffer, wasm.result!(), 2), bits);
  const value = fc.oneof(fc.double(), fc.constantFrom(0, -0, 0.25, -0.25, 0.5, 1, -1, Infinity, -Infinity, NaN));
  const code = fc.integer({ min: 0, max: 2 });

  it('pick: a branch on a code, with an else', () => {
    fc.assert(fc.property(code, value, value, value, value, (c, x0, x1, y0, y1) => {
      wasm.pick2!(c, x0, x1, y0, y1);
      expect(lanesOut()).toEqual([bits(js.pick!(c, x0, y0)), bits(js.pick!(c, x1, y1))]);
    }));
  });

  it('step: an if on lane values (NaN and -0 included) becomes a select', () => {
    fc.assert(fc.property(value, value, (x0, x1) => {
      wasm.step2!(x0, x1);
      expect(lanesOut()).toEqual([bits(js.step!(x0)), bits(js.step!(x1))]);
    }));
  });

  it('band: two chained lane ifs, each lane taking its own arm', () => {
    fc.assert(fc.property(value, value, value, value, value, value, (x0, x1, lo0, lo1, hi0, hi1) => {
      wasm.band2!(x0, x1, lo0, lo1, hi0, hi1);
      expect(lanesOut()).toEqual([bits(js.band!(x0, lo0, hi0)), bits(js.band!(x1, lo1, hi1))]);
    }));
  });

  it('mix: a let under a code, unary minus, Math constants, literal and passed-on codes', () => {
    fc.assert(fc.property(code, code, value, value, value, value, (flag, c, a0, a1, b0, b1) => {
      wasm.mix2!(flag, c, a0, a1, b0, b1);
      expect(lanesOut()).toEqual([bits(js.mix!(flag, c, a0, b0)), bits(js.mix!(flag, c, a1, b1))]);
    }));
  });
});

describe('what it cannot compile stops it, with the function and line', () => {
  const refuse = (body: string, message: RegExp, roots = ['f']) => expect(() => compile(`// line 1\nexport function f(x: number, code: number): number {\n${body}\n}\n`, roots, 'bad.ts')).toThrow(message);

  it.each([
    ['a loop', 'for (let i = 0; i < 2; i++) { x = x + 1; }\nreturn x;', /bad\.ts:3 \(f\): unsupported statement ForStatement/],
    ['an if on lane values that does not return', 'let y = x;\nif (x > 0) { y = 1; }\nreturn y;', /bad\.ts:4 \(f\): a lane `if` must be followed by returns only/],
    ['a name from outside the function', 'return x * SCALE;', /bad\.ts:3 \(f\): unknown name SCALE/],
    ['a Math function with no lane form', 'return Math.sin(x);', /bad\.ts:3 \(f\): no lane form of Math\.sin/],
    ['a ternary', 'return code === 0 ? x : -x;', /bad\.ts:3 \(f\): unsupported expression ConditionalExpression/],
    ['a call to a function it does not have', 'return g(x);', /bad\.ts: no function g \(called by f\)/],
  ])('%s', (_what, body, message) => refuse(body, message));

  it('a constant expression given where a code is expected', () => {
    const src = 'export function g(c: number, x: number): number {\n  if (c === 1) {\n    return x;\n  }\n  return -x;\n}\nexport function f(x: number, code: number): number {\n  return g(2 - 1, x);\n}\n';
    expect(() => compile(src, ['f'], 'bad.ts')).toThrow(/bad\.ts:8 \(f\): argument 1 of g is a code/);
  });
});
