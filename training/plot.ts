// Figures of a run directory as SVG (and PNG through resvg): accuracy per epoch (the paper's Fig. 6), tau
// of every layer per epoch (Fig. 7), and firing-rate maps of the first spiking layer (Fig. S2).
import { encodePng } from '../data/index.js';
import type { FiringMaps } from './evaluate.js';
import type { EpochMetrics } from './loop.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const FONT = `font-family="DejaVu Sans, Arial, sans-serif"`;

export interface Series {
  name: string;
  points: [number, number][];
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

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

/** Grey-scale PNG tile of one channel's firing rates (0 white, 1 black), scaled up `zoom` times. */
function channelPng(rates: readonly number[], offset: number, h: number, w: number, zoom: number): Uint8Array {
  const W = w * zoom;
  const H = h * zoom;
  const rgb = new Uint8Array(W * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const r = Math.min(1, Math.max(0, rates[offset + Math.floor(y / zoom) * w + Math.floor(x / zoom)]!));
      const v = Math.round(255 * (1 - r));
      rgb.set([v, v, v], (y * W + x) * 3);
    }
  return encodePng(rgb, W, H);
}

/** Firing-rate maps: one row per test sample, one tile per channel (the first `channels`). */
export function firingMapsChart(maps: FiringMaps, classes: readonly string[] = [], channels = 8): string {
  const [C, h, w] = maps.shape.length === 3 ? (maps.shape as [number, number, number]) : [1, 1, maps.shape[0] ?? 1];
  const nc = Math.min(C, channels);
  const zoom = Math.max(1, Math.floor(84 / Math.max(h, w)));
  const tile = Math.max(h, w) * zoom;
  const gap = 8;
  const left = 130;
  const top = 56;
  const W = left + nc * (tile + gap) + 20;
  const H = top + maps.samples.length * (tile + gap) + 30;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" ${FONT}>Firing rates of layer ${maps.layer} (${esc(maps.token)}), first ${nc} of ${C} channels</text>`,
    `<text x="${W / 2}" y="44" text-anchor="middle" font-size="12" ${FONT}>white: silent, black: fires at every step</text>`,
  ];
  for (let c = 0; c < nc; c++) out.push(`<text x="${left + c * (tile + gap) + tile / 2}" y="${top - 2}" text-anchor="middle" font-size="11" ${FONT}>ch ${c}</text>`);
  maps.samples.forEach((s, row) => {
    const y = top + 4 + row * (tile + gap);
    out.push(`<text x="${left - 10}" y="${y + tile / 2}" text-anchor="end" font-size="12" ${FONT}>#${s.index} ${esc(classes[s.label] ?? String(s.label))}</text>`);
    for (let c = 0; c < nc; c++) {
      const png = Buffer.from(channelPng(s.rates, c * h * w, h, w, zoom)).toString('base64');
      out.push(`<image x="${left + c * (tile + gap)}" y="${y}" width="${w * zoom}" height="${h * zoom}" href="data:image/png;base64,${png}"/>`);
    }
  });
  out.push('</svg>');
  return out.join('\n');
}

/** PNG of an SVG via resvg (fonts from the system). */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  const { Resvg } = await import('@resvg/resvg-js');
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: 1.5 } }).render().asPng();
}
