// The firing-rate maps figure (training/plot.ts): its layout, and each tile's PNG decoded here pixel by pixel;
// and svgToPng, through resvg and with resvg failing to load.
import { inflateSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FiringMaps } from '../../training/evaluate.js';
import { firingMapsChart, PngUnavailableError, svgToPng } from '../../training/plot.js';
import { elements } from './svg.js';

/** Width, height and RGB rows of an 8-bit RGB PNG without row filters (what data/png.ts writes). */
function decodePng(bytes: Uint8Array) {
  const b = Buffer.from(bytes);
  expect([...b.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const width = b.readUInt32BE(16);
  const height = b.readUInt32BE(20);
  const idat: Buffer[] = [];
  for (let o = 8; o < b.length; ) {
    const len = b.readUInt32BE(o);
    if (b.toString('latin1', o + 4, o + 8) === 'IDAT') idat.push(b.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const grey = (x: number, y: number) => {
    const at = y * (1 + 3 * width) + 1 + 3 * x;
    expect(raw[y * (1 + 3 * width)]).toBe(0);
    expect(raw[at]).toBe(raw[at + 1]);
    expect(raw[at]).toBe(raw[at + 2]);
    return raw[at]!;
  };
  return { width, height, grey };
}
const pngOf = (href: string) => {
  expect(href.startsWith('data:image/png;base64,')).toBe(true);
  return decodePng(Buffer.from(href.slice('data:image/png;base64,'.length), 'base64'));
};

afterEach(() => {
  vi.doUnmock('@resvg/resvg-js');
});

describe('firingMapsChart', () => {
  // [C, H, W] = [2, 3, 4]: tiles zoomed 21 times (84 / 4) to 84 x 63, 84 apart plus a gap of 8
  const maps = (): FiringMaps => ({
    layer: 3,
    token: 'conv<1>',
    shape: [2, 3, 4],
    samples: [
      { index: 5, label: 0, rates: [0, 0.25, 0.5, 1, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 1.5, -0.5, 0.05, 0.95, 0.33, 0.66, 0.01, 0.99, 0.5, 0.5, 0.2, 0.8] },
      { index: 9, label: 7, rates: Array.from({ length: 24 }, (_, i) => i / 23) },
    ],
  });

  it('lays out a title, a column per channel and a row per sample', () => {
    const svg = firingMapsChart(maps(), ['cat&dog']);
    expect(elements(svg, 'svg')[0]).toEqual({ xmlns: 'http://www.w3.org/2000/svg', 'xmlns:xlink': 'http://www.w3.org/1999/xlink', width: '334', height: '288', viewBox: '0 0 334 288' });
    const font = { 'font-family': 'DejaVu Sans, Arial, sans-serif' };
    expect(elements(svg, 'text')).toEqual([
      { x: '167', y: '24', 'text-anchor': 'middle', 'font-size': '16', ...font, text: 'Firing rates of layer 3 (conv&lt;1&gt;), first 2 of 2 channels' },
      { x: '167', y: '44', 'text-anchor': 'middle', 'font-size': '12', ...font, text: 'white: silent, black: fires at every step' },
      { x: '172', y: '72', 'text-anchor': 'middle', 'font-size': '11', ...font, text: 'ch 0' },
      { x: '264', y: '72', 'text-anchor': 'middle', 'font-size': '11', ...font, text: 'ch 1' },
      { x: '120', y: '120', 'text-anchor': 'end', 'font-size': '12', ...font, text: '#5 cat&amp;dog' },
      { x: '120', y: '212', 'text-anchor': 'end', 'font-size': '12', ...font, text: '#9 7' }, // no name for label 7
    ]);
    expect(elements(svg, 'image').map(({ href, ...a }) => a)).toEqual([
      { x: '130', y: '78', width: '84', height: '63' },
      { x: '222', y: '78', width: '84', height: '63' },
      { x: '130', y: '170', width: '84', height: '63' },
      { x: '222', y: '170', width: '84', height: '63' },
    ]);
    expect(elements(svg, 'rect')).toEqual([
      { width: '334', height: '288', fill: 'white' },
      ...[[129.5, 77.5], [221.5, 77.5], [129.5, 169.5], [221.5, 169.5]].map(([x, y]) => ({ x: String(x), y: String(y), width: '85', height: '64', fill: 'none', stroke: '#999' })),
    ]);
    expect(svg.endsWith('\n</svg>')).toBe(true);
  });

  it('draws each channel\'s rates as grey tiles, 0 white and 1 black, out-of-range rates clamped', () => {
    const m = maps();
    const images = elements(firingMapsChart(m), 'image');
    images.forEach((img, k) => {
      const sample = m.samples[Math.floor(k / 2)]!;
      const channel = k % 2;
      const png = pngOf(img.href!);
      expect([png.width, png.height]).toEqual([84, 63]);
      for (let y = 0; y < 63; y += 4)
        for (let x = 0; x < 84; x += 5) {
          const rate = Math.min(1, Math.max(0, sample.rates[channel * 12 + Math.floor(y / 21) * 4 + Math.floor(x / 21)]!));
          expect(png.grey(x, y)).toBe(Math.round(255 * (1 - rate)));
        }
      // the last pixel of every tile: the last rate of the channel
      expect(png.grey(83, 62)).toBe(Math.round(255 * (1 - Math.min(1, Math.max(0, sample.rates[channel * 12 + 11]!)))));
    });
    const clamped = pngOf(images[1]!.href!);
    expect(clamped.grey(0, 0)).toBe(0); // 1.5
    expect(clamped.grey(21, 0)).toBe(255); // -0.5
  });

  it('draws the first `channels` channels (8 by default)', () => {
    const ten: FiringMaps = { layer: 1, token: 'plif', shape: [10, 1, 1], samples: [{ index: 0, label: 1, rates: Array(10).fill(0.5) }] };
    const svg = firingMapsChart(ten, ['a', 'b']);
    expect(elements(svg, 'text')[0]!.text).toBe('Firing rates of layer 1 (plif), first 8 of 10 channels');
    expect(elements(svg, 'image')).toHaveLength(8);
    // tiles of 84 (zoom 84): 130 + 8 · 92 + 20 wide
    expect(elements(svg, 'svg')[0]).toMatchObject({ width: '886', height: '196' });
    expect(elements(svg, 'text')[4]).toMatchObject({ text: 'ch 2', x: String(130 + 2 * 92 + 42) });
    expect(elements(svg, 'text').at(-1)!.text).toBe('#0 b');
    const three = firingMapsChart(ten, [], 3);
    expect(elements(three, 'text')[0]!.text).toBe('Firing rates of layer 1 (plif), first 3 of 10 channels');
    expect(elements(three, 'image')).toHaveLength(3);
  });

  it('treats a shape other than [C, H, W] as one row of its first size, and zooms at least once', () => {
    const flat = (shape: number[], n: number) => firingMapsChart({ layer: 0, token: 'fc', shape, samples: [{ index: 0, label: 0, rates: Array.from({ length: n }, (_, i) => i / n) }] });
    // [5]: 1 x 5 zoomed 16 times
    const five = elements(flat([5], 5), 'image')[0]!;
    expect([five.width, five.height]).toEqual(['80', '16']);
    const png = pngOf(five.href!);
    expect([png.width, png.height]).toEqual([80, 16]);
    expect([0, 16, 32, 48, 64, 79].map((x) => png.grey(x, 15))).toEqual([255, 204, 153, 102, 51, 51]);
    // [3, 4]: the first size only, 1 x 3 zoomed 28 times
    expect(elements(flat([3, 4], 3), 'image')[0]).toMatchObject({ width: '84', height: '28' });
    expect(elements(flat([], 1), 'image')[0]).toMatchObject({ width: '84', height: '84' });
    // 200 wide: zoom 1
    const wide = flat([200], 200);
    expect(elements(wide, 'image')[0]).toMatchObject({ width: '200', height: '1' });
    expect(elements(wide, 'svg')[0]).toMatchObject({ width: String(130 + 208 + 20), height: String(74 + 208 + 30) });
    expect(elements(wide, 'text')[0]!.text).toBe('Firing rates of layer 0 (fc), first 1 of 1 channels');
    expect(elements(wide, 'text').at(-1)!.text).toBe('#0 0'); // no class names: the label's number
  });
});

describe('svgToPng', () => {
  const ihdrSize = (png: Uint8Array) => [Buffer.from(png).readUInt32BE(16), Buffer.from(png).readUInt32BE(20)];
  const textSvg = (family: string) =>
    `<svg xmlns="http://www.w3.org/2000/svg" width="60" height="30"><rect width="60" height="30" fill="white"/><text x="2" y="24" font-size="22"${family}>MWg</text></svg>`;

  it('renders at 1.5 times the size, with system fonts and DejaVu Sans by default', async () => {
    const plainPng = await svgToPng(textSvg(''));
    expect([...plainPng.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    expect(ihdrSize(plainPng)).toEqual([90, 45]);
    // text without a family is drawn in DejaVu Sans, not left out and not in another font
    const sans = await svgToPng(textSvg(' font-family="DejaVu Sans"'));
    const serif = await svgToPng(textSvg(' font-family="DejaVu Serif"'));
    const blank = await svgToPng(textSvg(' fill="white"')); // no text to see
    expect(Buffer.from(plainPng).equals(Buffer.from(sans))).toBe(true);
    expect(Buffer.from(plainPng).equals(Buffer.from(serif))).toBe(false);
    expect(Buffer.from(plainPng).equals(Buffer.from(blank))).toBe(false);
  });

  it('says how to install resvg when it cannot load, quoting the first line of the cause', async () => {
    vi.doMock('@resvg/resvg-js', () => ({
      get Resvg(): never {
        throw new Error('cannot find resvgjs.linux-x64-gnu.node\nRequire stack: ...');
      },
    }));
    const err = await svgToPng('<svg/>').then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(PngUnavailableError);
    expect(err!.name).toBe('PngUnavailableError');
    expect(err!.message).toBe(
      'PNGs need @resvg/resvg-js with its platform binary, which cannot load here (cannot find resvgjs.linux-x64-gnu.node); install it without --omit=optional (npm install @resvg/resvg-js)',
    );
    expect(new PngUnavailableError('x').name).toBe('PngUnavailableError');
  });
});
