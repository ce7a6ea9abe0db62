// What plif plot reads from a run directory (metrics.jsonl, train-curve.jsonl, config.json, firing-maps.json),
// checked field by field before any figure is drawn: an error names the file (and the line of a JSONL file)
// and the field, and quotes at most 200 characters of the value (a string test_acc, a broken or deeply
// nested firing-maps.json, a hand-edited config). Pure: the caller reads the files.
import { quoteJson } from '../core/quote.js';
import type { EpochMetrics, TrainRecord } from './engine.js';
import type { FiringMaps } from './evaluate.js';

/** A plot input that does not hold what plif train writes. */
export class PlotDataError extends Error {
  override readonly name = 'PlotDataError';
}

type Obj = Record<string, unknown>;
const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Field checks of one record, failing with `where` (a file, a file:line) and the field's name. */
function fields(where: string, o: unknown) {
  const fail = (field: string, what: string, v: unknown): never => {
    throw new PlotDataError(`${where}: field '${field}' must be ${what}, got ${quoteJson(v)}`);
  };
  if (!isObject(o)) fail('(the record)', 'a JSON object', o);
  const r = o as Obj;
  const num = (k: string, ok: (n: number) => boolean, what: string): number => {
    const v = r[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(k, what, v);
    return v as number;
  };
  return {
    r,
    fail,
    num,
    int: (k: string, min = 0) => num(k, (n) => Number.isInteger(n) && n >= min, `an integer >= ${min}`),
    fraction: (k: string) => num(k, (n) => n >= 0 && n <= 1, 'a number in [0, 1]'),
    /** tau of each layer: [{ layer, tau }], tau a number (or null: infinite, as JSON writes it). */
    taus: (k: string) => {
      const v = r[k];
      const ok = Array.isArray(v) && v.every((t) => isObject(t) && Number.isInteger(t.layer) && (t.layer as number) >= 0 && (t.tau === null || (typeof t.tau === 'number' && Number.isFinite(t.tau))));
      if (!ok) fail(k, 'a list of { layer, tau }', v);
      return v as { layer: number; tau: number }[];
    },
  };
}

/** The lines of metrics.jsonl (read from `path`), each checked for the fields the figures draw. */
export function checkMetrics(path: string, lines: readonly unknown[]): EpochMetrics[] {
  return lines.map((line, i) => {
    const f = fields(`${path}:${i + 1}`, line);
    f.int('epoch');
    f.fraction('test_acc');
    f.fraction('train_acc');
    f.num('train_loss', (n) => n >= 0, 'a finite number >= 0');
    if (f.r.val_acc !== undefined) f.fraction('val_acc');
    f.taus('tau');
    return line as EpochMetrics;
  });
}

/** The lines of train-curve.jsonl, each checked for the fields the figures draw. */
export function checkCurve(path: string, lines: readonly unknown[]): TrainRecord[] {
  return lines.map((line, i) => {
    const f = fields(`${path}:${i + 1}`, line);
    f.int('epoch');
    const batches = f.int('batches', 1);
    f.num('batch', (n) => Number.isInteger(n) && n >= 0 && n <= batches, `an integer in [0, ${batches}] (batches)`);
    f.int('samples');
    f.fraction('train_acc');
    f.num('train_loss', (n) => n >= 0, 'a finite number >= 0');
    f.taus('tau');
    return line as TrainRecord;
  });
}

/** What plot reads of config.json: the class names and tau0, each checked where present. */
export function checkRunConfig(path: string, raw: unknown): { dataset?: { classes?: string[] }; network?: { tau0?: number } } {
  const f = fields(path, raw);
  const out: { dataset?: { classes?: string[] }; network?: { tau0?: number } } = {};
  const ds = f.r.dataset;
  if (isObject(ds) && ds.classes !== undefined) {
    if (!Array.isArray(ds.classes) || !ds.classes.every((c) => typeof c === 'string')) f.fail('dataset.classes', 'a list of class names', ds.classes);
    out.dataset = { classes: ds.classes as string[] };
  }
  const net = f.r.network;
  if (isObject(net) && net.tau0 !== undefined && net.tau0 !== null) {
    if (typeof net.tau0 !== 'number' || !Number.isFinite(net.tau0)) f.fail('network.tau0', 'a finite number', net.tau0);
    out.network = { tau0: net.tau0 as number };
  }
  return out;
}

/** The largest map plot draws: a layer's [C, H, W] of at most this many values per sample. */
const MAX_MAP_VALUES = 1 << 24;

/** firing-maps.json, checked: the layer, its [C, H, W] and each sample's rates (C*H*W fractions). */
export function checkFiringMaps(path: string, raw: unknown): FiringMaps {
  const f = fields(path, raw);
  f.int('layer');
  if (typeof f.r.token !== 'string') f.fail('token', 'a layer token (a string)', f.r.token);
  const shape = f.r.shape;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) f.fail('shape', '[C, H, W] of positive integers', shape);
  const size = (shape as number[]).reduce((a, d) => a * d, 1);
  if (size > MAX_MAP_VALUES) f.fail('shape', `at most ${MAX_MAP_VALUES} values`, shape);
  const samples = f.r.samples;
  if (!Array.isArray(samples)) return f.fail('samples', 'a list of { index, label, rates }', samples);
  samples.forEach((s, i) => {
    const g = fields(`${path}: samples[${i}]`, s);
    g.int('index');
    g.int('label');
    const rates = g.r.rates;
    if (!Array.isArray(rates) || rates.length !== size || !rates.every((v) => typeof v === 'number' && v >= 0 && v <= 1)) {
      g.fail('rates', `${size} firing rates in [0, 1] (the shape [${(shape as number[]).join(', ')}])`, Array.isArray(rates) ? `a list of ${rates.length} values` : rates);
    }
  });
  return raw as FiringMaps;
}
