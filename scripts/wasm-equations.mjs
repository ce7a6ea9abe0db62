// Compiles functions of core/scalar.ts (the per-element math written once for every backend) into
// AssemblyScript that runs them on f64x2 vectors: two elements per call, each lane with the same float64
// operations in the same order as the JavaScript function, so results are bitwise equal to it.
//
// Parameters that only select a variant (compared with literals in `if` conditions, or passed on to such a
// parameter) stay scalar `i32` codes and their branches stay branches; every other number is a lane vector.
// An `if` on lane values must return in its body; it becomes a lane select of the two results. A construct
// outside this subset stops the build with the function and line.
//
//   node scripts/wasm-equations.mjs [out]   (default backends/cpu/wasm/assembly/equations.generated.ts)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCALAR_SOURCE = join(ROOT, 'core/scalar.ts');
export const DEFAULT_OUT = join(ROOT, 'backends/cpu/wasm/assembly/equations.generated.ts');

/** The functions the WebAssembly kernels call (with what they call in turn). */
export const WASM_EQUATIONS = ['neuronStep', 'neuronFire', 'neuronGradStep', 'chargeGradK', 'restPotential', 'adamFirstMoment', 'adamSecondMoment', 'adamParam', 'bnAffine', 'bnInputGrad'];

const ARITH = { [ts.SyntaxKind.PlusToken]: ['+', 'add'], [ts.SyntaxKind.MinusToken]: ['-', 'sub'], [ts.SyntaxKind.AsteriskToken]: ['*', 'mul'], [ts.SyntaxKind.SlashToken]: ['/', 'div'] };
const COMPARE = {
  [ts.SyntaxKind.GreaterThanToken]: ['>', 'gt'],
  [ts.SyntaxKind.GreaterThanEqualsToken]: ['>=', 'ge'],
  [ts.SyntaxKind.LessThanToken]: ['<', 'lt'],
  [ts.SyntaxKind.LessThanEqualsToken]: ['<=', 'le'],
  [ts.SyntaxKind.EqualsEqualsEqualsToken]: ['==', 'eq'],
  [ts.SyntaxKind.ExclamationEqualsEqualsToken]: ['!=', 'ne'],
};
const MATH_LANES = { sqrt: 'f64x2.sqrt', abs: 'f64x2.abs', exp: 'expLanes' };

/**
 * AssemblyScript source of `roots` of the TypeScript `source` and every function they call, each as an
 * inlined `v128` function. Throws an Error naming the function and line of anything it cannot compile.
 */
export function compileEquations(source, roots = WASM_EQUATIONS, fileName = 'core/scalar.ts') {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.ES2022, true);
  const fns = new Map();
  for (const st of file.statements) if (ts.isFunctionDeclaration(st) && st.name && st.body) fns.set(st.name.text, st);
  const where = (node, fn) => `${fileName}:${file.getLineAndCharacterOfPosition(node.getStart()).line + 1} (${fn})`;
  const fail = (node, fn, what) => {
    throw new Error(`${where(node, fn)}: ${what}`);
  };

  // the functions reached from the roots, callees first
  const order = [];
  const seen = new Set();
  const visit = (name, from) => {
    if (seen.has(name)) return;
    const fn = fns.get(name);
    if (!fn) throw new Error(`${fileName}: no function ${name}${from ? ` (called by ${from})` : ''}`);
    seen.add(name);
    const walk = (node) => {
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression)) visit(node.expression.text, name);
      ts.forEachChild(node, walk);
    };
    walk(fn.body);
    order.push(name);
  };
  for (const r of roots) visit(r);

  const params = new Map(order.map((n) => [n, fns.get(n).parameters.map((p) => p.name.getText())]));
  // lane[fn][i]: parameter i of fn is a lane vector (else an i32 code); grown to a fixed point
  const lane = new Map(order.map((n) => [n, params.get(n).map(() => false)]));
  const isLaneParam = (fn, name) => lane.get(fn)[params.get(fn).indexOf(name)] === true;
  const markLane = (fn, name) => {
    const i = params.get(fn).indexOf(name);
    if (i >= 0 && !lane.get(fn)[i]) {
      lane.get(fn)[i] = true;
      changed = true;
    }
  };

  // an expression's kind: 'code' (an i32 code or a test of one), 'scalar' (a float64 constant), 'lane'
  // (a v128 of two float64), 'mask' (a lane comparison)
  const kindOf = (e, fn, locals) => {
    if (ts.isParenthesizedExpression(e)) return kindOf(e.expression, fn, locals);
    if (ts.isNumericLiteral(e)) return 'scalar';
    if (ts.isIdentifier(e)) {
      if (locals.has(e.text)) return 'lane';
      if (params.get(fn).includes(e.text)) return isLaneParam(fn, e.text) ? 'lane' : 'code';
      fail(e, fn, `unknown name ${e.text} (a kernel sees only its parameters and locals)`);
    }
    if (ts.isPropertyAccessExpression(e)) {
      if (e.getText() === 'Math.PI') return 'scalar';
      fail(e, fn, `unsupported property ${e.getText()}`);
    }
    if (ts.isPrefixUnaryExpression(e) && e.operator === ts.SyntaxKind.MinusToken) return kindOf(e.operand, fn, locals) === 'lane' ? 'lane' : 'scalar';
    if (ts.isBinaryExpression(e)) {
      const op = e.operatorToken.kind;
      const a = kindOf(e.left, fn, locals);
      const b = kindOf(e.right, fn, locals);
      if (ARITH[op]) return a === 'lane' || b === 'lane' || a === 'code' || b === 'code' ? 'lane' : 'scalar';
      if (COMPARE[op]) return a === 'lane' || b === 'lane' ? 'mask' : 'code';
      fail(e, fn, `unsupported operator ${e.operatorToken.getText()}`);
    }
    if (ts.isCallExpression(e)) {
      const callee = e.expression.getText();
      if (callee.startsWith('Math.')) {
        const args = e.arguments.map((x) => kindOf(x, fn, locals));
        return args.includes('lane') ? 'lane' : 'scalar';
      }
      return 'lane';
    }
    fail(e, fn, `unsupported expression ${ts.SyntaxKind[e.kind]}`);
  };

  // classification: a parameter used in arithmetic, returned, stored in a local, given to Math or to a
  // lane parameter, or compared with a lane value is a lane
  let changed = true;
  const classify = (node, fn, locals) => {
    const laneUse = (e) => {
      const inner = ts.isParenthesizedExpression(e) ? e.expression : e;
      if (ts.isIdentifier(inner)) markLane(fn, inner.text);
    };
    if (ts.isVariableDeclaration(node)) {
      laneUse(node.initializer);
      locals.add(node.name.getText());
    } else if (ts.isReturnStatement(node)) laneUse(node.expression);
    else if (ts.isBinaryExpression(node)) {
      const op = node.operatorToken.kind;
      if (ARITH[op] || op === ts.SyntaxKind.EqualsToken) {
        laneUse(node.left);
        laneUse(node.right);
      } else if (COMPARE[op] && (kindOf(node.left, fn, locals) === 'lane' || kindOf(node.right, fn, locals) === 'lane')) {
        laneUse(node.left);
        laneUse(node.right);
      }
    } else if (ts.isPrefixUnaryExpression(node)) laneUse(node.operand);
    else if (ts.isCallExpression(node)) {
      const callee = node.expression.getText();
      if (callee.startsWith('Math.')) node.arguments.forEach(laneUse);
      else {
        node.arguments.forEach((arg, i) => {
          const k = kindOf(arg, fn, locals);
          if (lane.get(callee)[i]) laneUse(arg);
          else if (k === 'lane') {
            lane.get(callee)[i] = true;
            changed = true;
          }
        });
      }
    }
    ts.forEachChild(node, (c) => classify(c, fn, locals));
  };
  while (changed) {
    changed = false;
    for (const n of order) classify(fns.get(n).body, n, new Set());
  }

  // emission
  const lift = (e, fn, locals) => {
    const k = kindOf(e, fn, locals);
    const text = expr(e, fn, locals);
    if (k === 'lane') return text;
    if (k === 'scalar') return `f64x2.splat(${text})`;
    fail(e, fn, `${k === 'mask' ? 'a lane comparison' : 'a code'} where a value is needed`);
  };
  const expr = (e, fn, locals) => {
    if (ts.isParenthesizedExpression(e)) return expr(e.expression, fn, locals); // binary and unary forms bring their own
    if (ts.isNumericLiteral(e)) return kindOf(e, fn, locals) === 'scalar' && !/[.e]/i.test(e.text) ? `${e.text}.0` : e.text;
    if (ts.isIdentifier(e)) return e.text;
    if (ts.isPropertyAccessExpression(e)) return 'Math.PI';
    if (ts.isPrefixUnaryExpression(e)) return kindOf(e, fn, locals) === 'lane' ? `f64x2.neg(${expr(e.operand, fn, locals)})` : `(-${expr(e.operand, fn, locals)})`;
    if (ts.isBinaryExpression(e)) {
      const op = e.operatorToken.kind;
      const k = kindOf(e, fn, locals);
      const [sym, name] = ARITH[op] ?? COMPARE[op];
      if (k === 'lane' || k === 'mask') return `f64x2.${name}(${lift(e.left, fn, locals)}, ${lift(e.right, fn, locals)})`;
      if (k === 'code' && (kindOf(e.left, fn, locals) !== 'code' || !ts.isNumericLiteral(e.right))) fail(e, fn, 'a code must be compared with a literal');
      if (k === 'code') return `${e.left.getText()} ${sym} ${e.right.text}`;
      return `(${expr(e.left, fn, locals)} ${sym} ${expr(e.right, fn, locals)})`;
    }
    if (ts.isCallExpression(e)) {
      const callee = e.expression.getText();
      if (callee.startsWith('Math.')) {
        const m = callee.slice(5);
        if (kindOf(e, fn, locals) === 'scalar') return `${callee}(${e.arguments.map((a) => expr(a, fn, locals)).join(', ')})`;
        if (!MATH_LANES[m] || e.arguments.length !== 1) fail(e, fn, `no lane form of ${callee}`);
        return `${MATH_LANES[m]}(${lift(e.arguments[0], fn, locals)})`;
      }
      if (e.arguments.length !== params.get(callee).length) fail(e, fn, `${callee} takes ${params.get(callee).length} arguments`);
      const args = e.arguments.map((a, i) => {
        if (lane.get(callee)[i]) return lift(a, fn, locals);
        if (!ts.isIdentifier(a) && !ts.isNumericLiteral(a)) fail(a, fn, `argument ${i + 1} of ${callee} is a code: give it a code parameter or a literal`);
        if (ts.isIdentifier(a) && kindOf(a, fn, locals) !== 'code') fail(a, fn, `argument ${i + 1} of ${callee} is a code: give it a code parameter or a literal`);
        return a.text;
      });
      return `${callee}(${args.join(', ')})`;
    }
    fail(e, fn, `unsupported expression ${ts.SyntaxKind[e.kind]}`);
  };
  const bodyOf = (st) => (ts.isBlock(st) ? [...st.statements] : [st]);
  // statements that end in a return, as one lane expression (for the arms of a lane `if`)
  const asValue = (list, fn, locals, at) => {
    const [first, ...rest] = list;
    if (first && ts.isReturnStatement(first) && rest.length === 0) return lift(first.expression, fn, locals);
    if (first && ts.isIfStatement(first) && kindOf(first.expression, fn, locals) === 'mask' && !first.elseStatement) {
      return `v128.bitselect(${asValue(bodyOf(first.thenStatement), fn, locals, first)}, ${asValue(rest, fn, locals, first)}, ${expr(first.expression, fn, locals)})`;
    }
    fail(first ?? at, fn, 'a lane `if` must be followed by returns only (an `if` whose body returns, then a return)');
  };
  const statements = (list, fn, locals, indent) => {
    const out = [];
    for (let i = 0; i < list.length; i++) {
      const st = list[i];
      if (ts.isVariableStatement(st)) {
        for (const d of st.declarationList.declarations) {
          if (!ts.isIdentifier(d.name) || !d.initializer) fail(d, fn, 'a local needs a name and a value');
          const value = lift(d.initializer, fn, locals);
          locals.add(d.name.text);
          out.push(`${indent}${st.declarationList.flags & ts.NodeFlags.Const ? 'const' : 'let'} ${d.name.text}: v128 = ${value};`);
        }
      } else if (ts.isReturnStatement(st)) out.push(`${indent}return ${lift(st.expression, fn, locals)};`);
      else if (ts.isExpressionStatement(st) && ts.isBinaryExpression(st.expression) && st.expression.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
        const { left, right } = st.expression;
        if (!ts.isIdentifier(left) || !locals.has(left.text)) fail(st, fn, 'only locals can be assigned');
        out.push(`${indent}${left.text} = ${lift(right, fn, locals)};`);
      } else if (ts.isIfStatement(st)) {
        const k = kindOf(st.expression, fn, locals);
        if (k === 'mask') {
          out.push(`${indent}return ${asValue(list.slice(i), fn, locals, st)};`);
          return out;
        }
        if (k !== 'code') fail(st.expression, fn, 'an `if` tests a code or a lane comparison');
        out.push(`${indent}if (${expr(st.expression, fn, locals)}) {`, ...statements(bodyOf(st.thenStatement), fn, new Set(locals), indent + '  '));
        if (st.elseStatement) out.push(`${indent}} else {`, ...statements(bodyOf(st.elseStatement), fn, new Set(locals), indent + '  '));
        out.push(`${indent}}`);
      } else fail(st, fn, `unsupported statement ${ts.SyntaxKind[st.kind]}`);
    }
    return out;
  };

  const lines = [
    `// Generated by scripts/wasm-equations.mjs from ${fileName}: do not edit, edit ${fileName} (npm run build`,
    '// regenerates it). Each function is its namesake there on two float64 lanes (f64x2); i32 arguments are codes.',
    '',
    '/**',
    ' * Math.exp has no lane form here: AssemblyScript\'s exp is not the JavaScript engine\'s bit for bit (and its',
    ' * tables would be a data segment that each instance writes). A kernel reaching it traps; hosts never send',
    ' * the surrogate codes that use it.',
    ' */',
    '// @ts-ignore: decorator',
    '@inline function expLanes(x: v128): v128 {',
    '  unreachable();',
    '  return x;',
    '}',
  ];
  for (const n of order) {
    const fn = fns.get(n);
    const sig = params.get(n).map((p, i) => `${p}: ${lane.get(n)[i] ? 'v128' : 'i32'}`).join(', ');
    lines.push('', `/** ${fileName} ${n}. */`, '// @ts-ignore: decorator', `@inline export function ${n}(${sig}): v128 {`, ...statements([...fn.body.statements], n, new Set(), '  '), '}');
  }
  return lines.join('\n') + '\n';
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = process.argv[2] ?? DEFAULT_OUT;
  writeFileSync(out, compileEquations(readFileSync(SCALAR_SOURCE, 'utf8')));
  console.log(`wrote ${relative(process.cwd(), out)} from ${relative(process.cwd(), SCALAR_SOURCE)}`);
}
