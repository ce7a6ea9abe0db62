// Figures of a run directory as SVG (and PNG through resvg): accuracy per epoch (the paper's Fig. 6), tau
// of every layer per epoch (Fig. 7), and firing-rate maps of the first spiking layer (Fig. S2).
import { encodePng } from '../data/index.js';
import { esc, FONT } from './charts.js';
import type { FiringMaps } from './evaluate.js';

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
  const top = 74;
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
      out.push(`<rect x="${left + c * (tile + gap) - 0.5}" y="${y - 0.5}" width="${w * zoom + 1}" height="${h * zoom + 1}" fill="none" stroke="#999"/>`);
    }
  });
  out.push('</svg>');
  return out.join('\n');
}

/** PNGs cannot be drawn here: resvg's platform binary is missing (installed with --omit=optional, or a platform it lacks). */
export class PngUnavailableError extends Error {
  override readonly name = 'PngUnavailableError';
}

/** PNG of an SVG via resvg (fonts from the system); PngUnavailableError when resvg cannot load. */
export async function svgToPng(svg: string): Promise<Uint8Array> {
  let Resvg: typeof import('@resvg/resvg-js').Resvg;
  try {
    ({ Resvg } = await import('@resvg/resvg-js'));
  } catch (err) {
    throw new PngUnavailableError(
      `PNGs need @resvg/resvg-js with its platform binary, which cannot load here (${(err as Error).message.split('\n')[0]}); ` +
        'install it without --omit=optional (npm install @resvg/resvg-js)',
    );
  }
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, fitTo: { mode: 'zoom', value: 1.5 } }).render().asPng();
}
