// Line charts as SVG text (no I/O, no Node API: the browser page draws with them too): accuracy per epoch
// (the paper's Fig. 6), tau of every layer per epoch (Fig. 7), any series of points.
import type { EpochMetrics } from './loop.js';

export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
export const FONT = `font-family="DejaVu Sans, Arial, sans-serif"`;

export interface Series {
  name: string;
  points: [number, number][];
}

export const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) {
    const pad = Math.abs(lo) * 0.05 || 0.5;
    return niceTicks(lo - pad, hi + pad, count);
  }
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  for (let v = Math.floor(lo / step) * step; v <= hi + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  if (ticks[ticks.length - 1]! < hi) ticks.push(Number((ticks[ticks.length - 1]! + step).toPrecision(12)));
  return ticks;
}

/** A line chart with axes, ticks, a legend and markers at every point. */
export function lineChart(title: string, xLabel: string, yLabel: string, series: readonly Series[], format: (y: number) => string = (y) => String(y)): string {
  const W = 720;
  const H = 440;
  const m = { l: 78, r: 170, t: 44, b: 56 };
  const pts = series.flatMap((s) => s.points);
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const xt = niceTicks(Math.min(0, ...xs), Math.max(1, ...xs), 6).filter((v) => Number.isInteger(v));
  const yt = niceTicks(Math.min(...ys), Math.max(...ys), 5);
  const [x0, x1] = [xt[0]!, xt[xt.length - 1]!];
  const [y0, y1] = [yt[0]!, yt[yt.length - 1]!];
  const px = (x: number) => m.l + ((x - x0) / (x1 - x0 || 1)) * (W - m.l - m.r);
  const py = (y: number) => H - m.b - ((y - y0) / (y1 - y0 || 1)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2 - m.r / 2 + m.l / 2}" y="26" text-anchor="middle" font-size="17" ${FONT}>${esc(title)}</text>`,
  ];
  for (const v of yt) {
    out.push(`<line x1="${m.l}" x2="${W - m.r}" y1="${py(v)}" y2="${py(v)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${m.l - 8}" y="${py(v) + 4}" text-anchor="end" font-size="12" ${FONT}>${esc(format(v))}</text>`);
  }
  for (const v of xt) {
    out.push(`<line x1="${px(v)}" x2="${px(v)}" y1="${H - m.b}" y2="${H - m.b + 5}" stroke="#333"/>`);
    out.push(`<text x="${px(v)}" y="${H - m.b + 20}" text-anchor="middle" font-size="12" ${FONT}>${v}</text>`);
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 12}" text-anchor="middle" font-size="14" ${FONT}>${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(20 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle" font-size="14" ${FONT}>${esc(yLabel)}</text>`);
  series.forEach((s, i) => {
    const c = COLORS[i % COLORS.length];
    if (s.points.length > 1) out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of s.points) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3.5" fill="${c}"/>`);
    const ly = m.t + 10 + i * 22;
    out.push(`<line x1="${W - m.r + 14}" x2="${W - m.r + 40}" y1="${ly}" y2="${ly}" stroke="${c}" stroke-width="3"/>`);
    out.push(`<text x="${W - m.r + 46}" y="${ly + 4}" font-size="13" ${FONT}>${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n');
}

export function accuracyChart(metrics: readonly EpochMetrics[]): string {
  const series: Series[] = [
    { name: 'test', points: metrics.map((m) => [m.epoch, 100 * m.test_acc]) },
    ...(metrics.some((m) => m.val_acc !== undefined) ? [{ name: 'validation', points: metrics.filter((m) => m.val_acc !== undefined).map((m) => [m.epoch, 100 * m.val_acc!] as [number, number]) }] : []),
    { name: 'train', points: metrics.map((m) => [m.epoch, 100 * m.train_acc]) },
  ];
  return lineChart('Accuracy per epoch', 'epoch', 'accuracy (%)', series, (y) => `${y}%`);
}

/** tau of each layer against epochs trained: the start value tau0 at 0, the value after epoch e at e + 1. */
export function tauChart(metrics: readonly EpochMetrics[], tau0?: number): string {
  const layers = [...new Set(metrics.flatMap((m) => m.tau.map((t) => t.layer)))];
  const series = layers.map((layer, i) => ({
    name: `tau(${i + 1}) layer ${layer}`,
    points: [
      ...(tau0 !== undefined ? [[0, tau0] as [number, number]] : []),
      ...metrics.flatMap((m) => m.tau.filter((t) => t.layer === layer).map((t) => [m.epoch + 1, t.tau] as [number, number])),
    ],
  }));
  return lineChart('Membrane time constant during training', 'epochs trained', 'tau', series, (y) => y.toFixed(2));
}
