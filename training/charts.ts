// Line charts as SVG text (no I/O, no Node API: the browser page draws with them too): accuracy per epoch
// (the paper's Fig. 6), loss, tau of every layer (Fig. 7), any series of points. training/plot.ts adds the
// firing-rate maps and PNGs.
import type { EpochMetrics, TrainRecord } from './engine.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
/** One colour per role, whichever series a figure has: adding validation leaves test and train as they were. */
export const ROLE_COLORS = { test: '#1f77b4', validation: '#ff7f0e', train: '#2ca02c' } as const;
/** Dash patterns and markers that tell lines apart where they overlap (e.g. the taus of several layers). */
const DASHES = ['', '7 4', '2 3', '10 3 2 3', '4 4', '1 5'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'down', 'cross'] as const;
export type Marker = (typeof MARKERS)[number] | 'none';
export const FONT = `font-family="DejaVu Sans, Arial, sans-serif"`;

export interface Series {
  name: string;
  points: [number, number][];
  /** Default: the palette by position. */
  color?: string;
  /** SVG stroke-dasharray; default solid. */
  dash?: string;
  /** Marker at every point (default 'circle'); 'none' draws the line only. */
  marker?: Marker;
}

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Round tick values covering [lo, hi], and their step. */
export function tickScale(lo: number, hi: number, count = 5): { ticks: number[]; step: number } {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.05 || 0.5;
    return tickScale(lo - pad, hi + pad, count);
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = Number(([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!).toPrecision(12));
  const ticks: number[] = [];
  const first = Math.floor(lo / step + 1e-9);
  for (let i = first; i * step <= hi + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)));
  if (ticks[ticks.length - 1]! < hi) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return { ticks, step };
}

/**
 * An axis fitted to data in [lo, hi]: its ends (`domain`) and round ticks inside them. `fit: 'data'` ends the
 * axis at the data (the ticks fall inside: 64 steps end at 64, ticked 0, 20, 40, 60); `fit: 'ticks'` ends it at
 * the tightest round ticks covering the data (the step for `count` - 1 to `count` + 2 ticks that spans least,
 * `count` on a tie).
 * A single value gets a span of 5% of it (1 for 0) around it. The domain stays within [min, max] (e.g. an
 * accuracy in [0, 100]).
 */
export function axisScale(lo: number, hi: number, o: { count?: number; fit?: 'data' | 'ticks'; min?: number; max?: number } = {}): { domain: [number, number]; ticks: number[]; step: number } {
  const count = o.count ?? 5;
  const [min, max] = [o.min ?? -Infinity, o.max ?? Infinity];
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.05 || 1;
    [lo, hi] = [lo - pad, hi + pad];
  }
  [lo, hi] = [Math.max(lo, min), Math.min(hi, max)];
  if (!(hi > lo)) [lo, hi] = [min, max]; // a value at a bound: the span on its inside
  const round = (v: number) => Number(v.toPrecision(12));
  const niceStep = (n: number) => {
    const raw = (hi - lo) / n;
    const mag = 10 ** Math.floor(Math.log10(raw));
    return round([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9))!);
  };
  const ticksIn = (a: number, b: number, step: number) => {
    const t: number[] = [];
    for (let i = Math.ceil(a / step - 1e-9); i * step <= b + step * 1e-9; i++) t.push(round(i * step));
    return t;
  };
  if (o.fit === 'data') {
    const step = niceStep(count);
    return { domain: [lo, hi], ticks: ticksIn(lo, hi, step), step };
  }
  let best: { domain: [number, number]; ticks: number[]; step: number } | null = null;
  for (const n of [count, count - 1, count + 1, count + 2].filter((c) => c >= 2)) {
    const step = niceStep(n);
    const a = Math.max(min, round(Math.floor(lo / step + 1e-9) * step));
    const b = Math.min(max, round(Math.ceil(hi / step - 1e-9) * step));
    if (!best || b - a < best.domain[1] - best.domain[0] - 1e-12 * (hi - lo)) best = { domain: [a, b], ticks: ticksIn(a, b, step), step };
  }
  return best!;
}

/** Round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  return tickScale(lo, hi, count).ticks;
}

/** A tick label with as many decimals as the tick step has (0.25 -> 2, 0.2 -> 1, 5 -> 0). */
export function formatTick(v: number, step: number): string {
  let d = 0;
  while (d < 12 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-6 * 10 ** d * Math.abs(step)) d++;
  const s = v.toFixed(d);
  return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
}

function markerSvg(kind: Marker, x: number, y: number, color: string): string {
  const r = 4;
  const f = (n: number) => n.toFixed(1);
  switch (kind) {
    case 'none':
      return '';
    case 'circle':
      return `<circle cx="${f(x)}" cy="${f(y)}" r="${r - 0.5}" fill="${color}"/>`;
    case 'square':
      return `<rect x="${f(x - r + 0.5)}" y="${f(y - r + 0.5)}" width="${2 * r - 1}" height="${2 * r - 1}" fill="${color}"/>`;
    case 'triangle':
      return `<polygon points="${f(x)},${f(y - r - 1)} ${f(x + r + 0.5)},${f(y + r - 0.5)} ${f(x - r - 0.5)},${f(y + r - 0.5)}" fill="${color}"/>`;
    case 'down':
      return `<polygon points="${f(x)},${f(y + r + 1)} ${f(x + r + 0.5)},${f(y - r + 0.5)} ${f(x - r - 0.5)},${f(y - r + 0.5)}" fill="${color}"/>`;
    case 'diamond':
      return `<polygon points="${f(x)},${f(y - r - 1)} ${f(x + r + 1)},${f(y)} ${f(x)},${f(y + r + 1)} ${f(x - r - 1)},${f(y)}" fill="${color}"/>`;
    case 'cross':
      return `<path d="M${f(x - r)},${f(y - r)}L${f(x + r)},${f(y + r)}M${f(x - r)},${f(y + r)}L${f(x + r)},${f(y - r)}" stroke="${color}" stroke-width="2.2"/>`;
  }
}

/** Size and bounds of a line chart. */
export interface ChartOptions {
  /** The SVG's width and height in its own units (default 720 x 440). */
  width?: number;
  height?: number;
  /** Font size of the tick labels (default 12); the legend's is 1 more, the axis labels' 2, the title's 5. */
  fontSize?: number;
  /** Bounds of the y axis (e.g. 0 and 100 for an accuracy in %): it never extends past them. */
  yMin?: number;
  yMax?: number;
}

/**
 * A line chart with axes fitted to the data (axisScale: the x axis from 0, or the data's least x, to its
 * greatest; the y axis to the tightest round ticks covering the data), ticks labelled to their step, a
 * legend, and per series a colour, a dash pattern and a marker at every point. `unit` follows every y tick
 * label (e.g. '%').
 */
export function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[], unit = '', o: ChartOptions = {}): string {
  const W = o.width ?? 720;
  const H = o.height ?? 440;
  const fs = o.fontSize ?? 12;
  const legendWidth = Math.max(150, 40 + 0.625 * (fs + 1) * Math.max(0, ...series.map((s) => s.name.length)));
  const m = { l: 66 + fs, r: legendWidth + 20, t: 32 + fs, b: 44 + fs };
  const pts = series.flatMap((s) => s.points);
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const xScale = axisScale(Math.min(0, ...xs), Math.max(1, ...xs), { count: 6, fit: 'data' });
  const yScale = axisScale(Math.min(...ys), Math.max(...ys), { count: 5, fit: 'ticks', ...(o.yMin !== undefined ? { min: o.yMin } : {}), ...(o.yMax !== undefined ? { max: o.yMax } : {}) });
  const [xt, yt] = [xScale.ticks, yScale.ticks];
  const [x0, x1] = xScale.domain;
  const [y0, y1] = yScale.domain;
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const out: string[] = [
    // the axes' ends as data, for scripts and tests
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" data-x-domain="${x0} ${x1}" data-y-domain="${y0} ${y1}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${(m.l + W - m.r) / 2}" y="${fs + 14}" text-anchor="middle" font-size="${fs + 5}" ${FONT}>${esc(title)}</text>`,
  ];
  for (const v of yt) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(v)}" y2="${py(v)}" stroke="#e5e5e5"/>`);
    out.push(`<text class="y-tick" x="${m.l - 8}" y="${py(v) + fs / 3}" text-anchor="end" font-size="${fs}" ${FONT}>${esc(formatTick(v, yScale.step) + unit)}</text>`);
  }
  for (const v of xt) {
    out.push(`<line x1="${px(v)}" x2="${px(v)}" y1="${H - m.b}" y2="${H - m.b + 5}" stroke="#333"/>`);
    out.push(`<text class="x-tick" x="${px(v)}" y="${H - m.b + 8 + fs}" text-anchor="middle" font-size="${fs}" ${FONT}>${formatTick(v, xScale.step)}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle" font-size="${fs + 2}" ${FONT}>${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(20 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="${fs + 2}" ${FONT}>${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const c = s.color ?? COLORS[i % COLORS.length]!;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    const marker = s.marker ?? 'circle';
    if (s.points.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2"${dash} points="${s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of s.points) out.push(markerSvg(marker === 'none' && s.points.length === 1 ? 'circle' : marker, px(x), py(y), c));
    const ly = m.t + 10 + i * (fs + 10);
    const lx = W - m.r + 14;
    out.push(`<line x1="${lx}" x2="${lx + 30}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="2.5"${dash}/>`);
    out.push(markerSvg(marker, lx + 15, ly, c));
    out.push(`<text x="${lx + 36}" y="${ly + 4}" font-size="${fs + 1}" ${FONT}>${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Where a metrics line stands on the x axis of every figure: epochs trained (epoch e ends at e + 1). */
const epochsTrained = (m: EpochMetrics) => m.epoch + 1;
/** Where a point of the training curve stands: epochs trained, fractions within an epoch. */
const curveX = (r: TrainRecord) => r.epoch + r.batch / r.batches;

/**
 * The training curve as the mean of each interval between its points (the records hold running means
 * since the epoch began, which lag behind: the mean of batches a+1..b is (b·m_b - a·m_a) / (b - a) in
 * samples), at the end of each interval.
 */
export function intervalMeans(curve: readonly TrainRecord[], field: 'train_loss' | 'train_acc'): [number, number][] {
  return curve.map((r, i) => {
    const prev = i > 0 && curve[i - 1]!.epoch === r.epoch && curve[i - 1]!.samples < r.samples ? curve[i - 1]! : null;
    const mean = prev ? (r[field] * r.samples - prev[field] * prev.samples) / (r.samples - prev.samples) : r[field];
    return [curveX(r), mean];
  });
}

/**
 * Test (and validation) accuracy after every epoch, and the training accuracy: the mean of each interval of
 * the training curve (a few per epoch) when the run recorded one, else of each epoch.
 */
export function accuracyChart(metrics: readonly EpochMetrics[], curve: readonly TrainRecord[] = []): string {
  const series: Series[] = [
    { name: 'test', color: ROLE_COLORS.test, marker: 'circle', points: metrics.map((m) => [epochsTrained(m), 100 * m.test_acc]) },
    ...(metrics.some((m) => m.val_acc !== undefined)
      ? [{ name: 'validation', color: ROLE_COLORS.validation, marker: 'square' as const, dash: '7 4', points: metrics.filter((m) => m.val_acc !== undefined).map((m) => [epochsTrained(m), 100 * m.val_acc!] as [number, number]) }]
      : []),
    curve.length > 0
      ? { name: 'train (interval mean)', color: ROLE_COLORS.train, marker: 'none', points: intervalMeans(curve, 'train_acc').map(([x, y]) => [x, 100 * y]) }
      : { name: 'train', color: ROLE_COLORS.train, marker: 'triangle', points: metrics.map((m) => [epochsTrained(m), 100 * m.train_acc]) },
  ];
  return lineChart('Accuracy', 'epochs trained', 'accuracy', series, '%', { yMin: 0, yMax: 100 });
}

/** The training loss (MSE of the firing rates): the mean of each interval of the training curve, else of each epoch. */
export function lossChart(metrics: readonly EpochMetrics[], curve: readonly TrainRecord[] = []): string {
  const series: Series[] = [
    curve.length > 0
      ? { name: 'train (interval mean)', color: ROLE_COLORS.train, marker: 'none', points: intervalMeans(curve, 'train_loss') }
      : { name: 'train', color: ROLE_COLORS.train, marker: 'triangle', points: metrics.map((m) => [epochsTrained(m), m.train_loss]) },
  ];
  return lineChart('Training loss', 'epochs trained', 'loss', series, '', { yMin: 0 });
}

/**
 * tau of each layer against epochs trained: tau0 at 0, then the training curve's values (a few per epoch)
 * or the value after each epoch. Each layer has its own colour, dash and marker, so equal taus stay apart.
 */
export function tauChart(metrics: readonly EpochMetrics[], tau0?: number, curve: readonly TrainRecord[] = []): string {
  const layers = [...new Set(metrics.flatMap((m) => m.tau.map((t) => t.layer)))];
  const series = layers.map((layer, i): Series => {
    const fromCurve = curve.flatMap((r) => r.tau.filter((t) => t.layer === layer).map((t) => [curveX(r), t.tau] as [number, number]));
    const fromEpochs = metrics.flatMap((m) => m.tau.filter((t) => t.layer === layer).map((t) => [epochsTrained(m), t.tau] as [number, number]));
    return {
      name: `tau(${i + 1}) layer ${layer}`,
      color: COLORS[i % COLORS.length]!,
      dash: DASHES[i % DASHES.length]!,
      marker: MARKERS[i % MARKERS.length]!,
      points: [...(tau0 !== undefined ? [[0, tau0] as [number, number]] : []), ...(fromCurve.length > 0 ? fromCurve : fromEpochs)],
    };
  });
  return lineChart('Membrane time constant during training', 'epochs trained', 'tau', series, '', { yMin: 1 });
}
