// Parser for the network structure strings of Table S1, e.g.
//   {c128k3s1-BN-PLIF-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10
//   {{c256k3s1-BN-PLIF}*3-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10
// Grammar:  seq := item ('-' item)* ;  item := '{' seq '}' ('*' count)? | token
// Tokens (case-insensitive): c<out>k<k>s<s>[p<p>] (padding defaults to floor(k/2): the paper's k3 s1 p1),
// BN, PLIF | LIF | IF, MPk<k>s<s> | APk<k>s<s> (an AP on features is the voting layer), DP[<p>] (p
// defaults to the paper's 0.5), FC<out>. Errors point at the offending token with its position and a caret.

import { PAPER_DEFAULTS } from '../defaults.js';

export type NeuronKindToken = 'plif' | 'lif' | 'if';

export type LayerSpec =
  | { kind: 'conv'; channels: number; kernel: number; stride: number; padding: number }
  | { kind: 'bn' }
  | { kind: 'neuron'; neuron: NeuronKindToken }
  | { kind: 'maxpool' | 'avgpool'; kernel: number; stride: number }
  | { kind: 'dropout'; p: number }
  | { kind: 'fc'; features: number };

export class StructureSyntaxError extends SyntaxError {
  constructor(
    readonly source: string,
    readonly position: number,
    readonly reason: string,
  ) {
    super(`${reason} at position ${position}\n  ${source}\n  ${' '.repeat(position)}^`);
    this.name = 'StructureSyntaxError';
  }
}

/** Bounds of a structure: a repeat count, the nesting of braces, the expanded layers, a size in a token. */
export const MAX_REPEAT = 1000;
export const MAX_DEPTH = 16;
export const MAX_LAYERS = 1000;
export const MAX_SIZE = 1_000_000;

function positiveInt(src: string, pos: number, text: string, what: string, max = MAX_SIZE): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) throw new StructureSyntaxError(src, pos, `${what} must be a positive integer, got '${text}'`);
  if (n > max) throw new StructureSyntaxError(src, pos, `${what} ${text} exceeds ${max}`);
  return n;
}

function nonNegativeInt(src: string, pos: number, text: string, what: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new StructureSyntaxError(src, pos, `${what} must be an integer >= 0, got '${text}'`);
  if (n > MAX_SIZE) throw new StructureSyntaxError(src, pos, `${what} ${text} exceeds ${MAX_SIZE}`);
  return n;
}

function parseToken(src: string, start: number, tok: string): LayerSpec {
  const fail = (why: string): never => {
    throw new StructureSyntaxError(src, start, why);
  };
  if (tok.length === 0) fail('empty layer token');
  let m: RegExpExecArray | null;
  if ((m = /^c(\d+)k(\d+)s(\d+)(?:p(\d+))?$/i.exec(tok))) {
    const kernel = positiveInt(src, start, m[2]!, 'kernel size');
    const padding = m[4] !== undefined ? nonNegativeInt(src, start, m[4], 'padding') : Math.floor(kernel / 2);
    return { kind: 'conv', channels: positiveInt(src, start, m[1]!, 'out channels'), kernel, stride: positiveInt(src, start, m[3]!, 'stride'), padding };
  }
  if (/^bn$/i.test(tok)) return { kind: 'bn' };
  if (/^plif$/i.test(tok)) return { kind: 'neuron', neuron: 'plif' };
  if (/^lif$/i.test(tok)) return { kind: 'neuron', neuron: 'lif' };
  if (/^if$/i.test(tok)) return { kind: 'neuron', neuron: 'if' };
  if ((m = /^(mp|ap)k(\d+)s(\d+)$/i.exec(tok))) {
    return { kind: m[1]!.toLowerCase() === 'mp' ? 'maxpool' : 'avgpool', kernel: positiveInt(src, start, m[2]!, 'kernel size'), stride: positiveInt(src, start, m[3]!, 'stride') };
  }
  if ((m = /^dp(\d*\.?\d*)$/i.exec(tok))) {
    const p = m[1] === '' ? PAPER_DEFAULTS.dropout : Number(m[1]);
    if (!(p >= 0 && p < 1)) fail(`dropout probability must be in [0, 1), got '${m[1]}'`);
    return { kind: 'dropout', p };
  }
  if ((m = /^fc(\d+)$/i.exec(tok))) return { kind: 'fc', features: positiveInt(src, start, m[1]!, 'out features') };
  return fail(`unknown layer token '${tok}' (expected cNkKsS[pP], BN, PLIF, LIF, IF, MPkKsS, APkKsS, DP[p], FCn)`);
}

/**
 * Parses a structure string into the flat (expanded) list of layers. At most MAX_DEPTH nested braces and
 * MAX_LAYERS layers once expanded (checked before expanding, so `{{BN}*1000}*1000` fails at once).
 */
export function parseStructure(src: string): LayerSpec[] {
  if (typeof src !== 'string') throw new TypeError(`a structure must be a string, got ${src === null ? 'null' : typeof src}`);
  let pos = 0;
  const tooMany = (at: number, n: number): never => {
    throw new StructureSyntaxError(src, at, `the structure expands to ${n} layers, more than ${MAX_LAYERS}`);
  };
  const ws = () => {
    while (pos < src.length && /\s/.test(src[pos]!)) pos++;
  };
  const parseSeq = (depth: number): LayerSpec[] => {
    const out: LayerSpec[] = [];
    for (;;) {
      ws();
      const at = pos;
      const item = parseItem(depth);
      if (out.length + item.length > MAX_LAYERS) tooMany(at, out.length + item.length);
      for (const l of item) out.push(l);
      ws();
      if (pos < src.length && src[pos] === '-') {
        pos++;
        continue;
      }
      return out;
    }
  };
  const parseItem = (depth: number): LayerSpec[] => {
    if (pos >= src.length) throw new StructureSyntaxError(src, pos, 'expected a layer token, found the end of the string');
    if (src[pos] === '{') {
      const open = pos;
      if (depth >= MAX_DEPTH) throw new StructureSyntaxError(src, open, `braces nested more than ${MAX_DEPTH} deep`);
      pos++;
      const body = parseSeq(depth + 1);
      ws();
      if (src[pos] !== '}') throw new StructureSyntaxError(src, pos >= src.length ? open : pos, pos >= src.length ? "unclosed '{'" : `expected '-' or '}', found '${src[pos]}'`);
      pos++;
      ws();
      let count = 1;
      if (src[pos] === '*') {
        pos++;
        ws();
        const at = pos;
        while (pos < src.length && /[0-9]/.test(src[pos]!)) pos++;
        if (at === pos) throw new StructureSyntaxError(src, at, "expected a repeat count after '*'");
        count = positiveInt(src, at, src.slice(at, pos), 'repeat count', MAX_REPEAT);
      }
      if (count * body.length > MAX_LAYERS) tooMany(open, count * body.length);
      const out: LayerSpec[] = [];
      for (let i = 0; i < count; i++) for (const l of body) out.push({ ...l });
      return out;
    }
    const start = pos;
    while (pos < src.length && /[A-Za-z0-9.]/.test(src[pos]!)) pos++;
    if (start === pos) throw new StructureSyntaxError(src, start, `unexpected character '${src[start]}'`);
    return [parseToken(src, start, src.slice(start, pos))];
  };
  const layers = parseSeq(0);
  ws();
  if (pos < src.length) throw new StructureSyntaxError(src, pos, src[pos] === '}' ? "unmatched '}'" : `expected '-' between layers, found '${src[pos]}'`);
  return layers;
}

/** Writes layers back in the notation (expanded, no braces). parseStructure(formatStructure(l)) equals l. */
export function formatStructure(layers: readonly LayerSpec[]): string {
  return layers
    .map((l) => {
      switch (l.kind) {
        case 'conv':
          return `c${l.channels}k${l.kernel}s${l.stride}${l.padding === Math.floor(l.kernel / 2) ? '' : `p${l.padding}`}`;
        case 'bn':
          return 'BN';
        case 'neuron':
          return l.neuron.toUpperCase();
        case 'maxpool':
          return `MPk${l.kernel}s${l.stride}`;
        case 'avgpool':
          return `APk${l.kernel}s${l.stride}`;
        case 'dropout':
          return l.p === PAPER_DEFAULTS.dropout ? 'DP' : `DP${l.p}`;
        case 'fc':
          return `FC${l.features}`;
      }
    })
    .join('-');
}
