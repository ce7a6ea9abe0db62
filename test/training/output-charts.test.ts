// The SVG line charts of training/charts.ts: tick scales and labels, axes fitted to the data, the chart's
// geometry (margins, ticks, points and markers at coordinates computed here from the axis ends), the legend,
// escaping, and the accuracy, loss and tau figures built on it.
import { describe, expect, it } from 'vitest';
import type { EpochMetrics, TrainRecord } from '../../training/engine.js';
import { accuracyChart, axisScale, esc, FONT, formatTick, intervalMeans, lineChart, lossChart, niceTicks, ROLE_COLORS, tauChart, tickScale, type Series } from '../../training/charts.js';
import { elements, type Attrs } from './svg.js';

const svgAttrs = (svg: string) => elements(svg, 'svg')[0]!;
const domain = (svg: string, axis: 'x' | 'y') => svgAttrs(svg)[`data-${axis}-domain`]!.split(' ').map(Number);

/**
 * Pixel positions of a default-sized chart (720 x 440, font 12): margins left 78, top 44, bottom 56, right
 * the legend's width (150, or 40 + 0.625 · 13 per character of the longest name) + 20; the plot spans y
 * 384 (bottom) .. 44 (top). `lx`: where the legend's lines start.
 */
function pixels(svg: string, longestName = 0) {
  const [x0, x1] = domain(svg, 'x') as [number, number];
  const [y0, y1] = domain(svg, 'y') as [number, number];
  const right = Math.max(150, 40 + 0.625 * 13 * longestName) + 20;
  const plotWidth = 720 - 78 - right;
  return { px: (x: number) => 78 + ((x - x0) / (x1 - x0)) * plotWidth, py: (y: number) => 384 - ((y - y0) / (y1 - y0)) * 340, lx: 720 - right + 14 };
}
const f1 = (n: number) => n.toFixed(1);
const polylines = (svg: string) => elements(svg, 'polyline');
const pointsOf = (p: Attrs) => p.points!.split(' ').map((xy) => xy.split(',').map(Number));
/** Every line of an SVG is one whole element (or empty, for a series without markers). */
const wellFormed = (svg: string) => {
  for (const line of svg.split('\n')) expect(line).toMatch(/^(|<svg( [\w:-]+="[^"]*")+>|<\/svg>|<(\w+)( [\w:-]+="[^"]*")+(\/>|>[^<]*<\/\3>))$/);
};
const tickTexts = (svg: string, cls: 'x-tick' | 'y-tick') => elements(svg, 'text').filter((t) => t.class === cls);

describe('esc', () => {
  it('escapes every &, < and > (the ampersand first), and nothing else', () => {
    expect(esc('a & <b> && c>> "q"')).toBe('a &amp; &lt;b&gt; &amp;&amp; c&gt;&gt; "q"');
    expect(esc('&lt;')).toBe('&amp;lt;');
    expect(FONT).toBe('font-family="DejaVu Sans, Arial, sans-serif"');
  });
});

describe('tickScale and niceTicks', () => {
  it('picks the least of 1, 2, 2.5, 5, 10 times a power of ten not below a count-th of the span', () => {
    expect(tickScale(0, 1, 6)).toEqual({ ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
    expect(tickScale(0, 1)).toEqual({ ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 }); // exactly 0.2
    expect(tickScale(0, 1, 4)).toEqual({ ticks: [0, 0.25, 0.5, 0.75, 1], step: 0.25 });
    expect(tickScale(0, 10, 3)).toEqual({ ticks: [0, 5, 10], step: 5 });
    expect(tickScale(0, 70, 7)).toEqual({ ticks: [0, 10, 20, 30, 40, 50, 60, 70], step: 10 });
    expect(tickScale(1.848, 2, 5)).toEqual({ ticks: [1.8, 1.85, 1.9, 1.95, 2], step: 0.05 });
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 1, 2)).toEqual([0, 0.5, 1]);
  });

  it('starts at the round tick at or below lo, despite rounding (0.3 / 0.1 < 3), and covers hi', () => {
    expect(tickScale(0.3, 0.8, 5)).toEqual({ ticks: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8], step: 0.1 });
    expect(tickScale(0.2, 1.2, 5).ticks).toEqual([0.2, 0.4, 0.6, 0.8, 1, 1.2]);
    // hi between ticks: one more tick past it
    expect(tickScale(0.05, 0.95, 5).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(tickScale(-0.95, -0.05, 5).ticks).toEqual([-1, -0.8, -0.6, -0.4, -0.2, 0]);
    // a tick within a billionth of a step below hi counts as inside, and one more covers hi
    expect(tickScale(0, 1 + 1e-12, 6).ticks).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1, 1.2]);
  });

  it('pads a single value by 5% of it (0.5 for 0)', () => {
    expect(tickScale(5, 5)).toEqual({ ticks: [4.7, 4.8, 4.9, 5, 5.1, 5.2, 5.3], step: 0.1 });
    expect(tickScale(0, 0)).toEqual({ ticks: [-0.6, -0.4, -0.2, 0, 0.2, 0.4, 0.6], step: 0.2 });
    expect(tickScale(-10, -10)).toEqual({ ticks: [-10.6, -10.4, -10.2, -10, -9.8, -9.6, -9.4], step: 0.2 });
  });
});

describe('formatTick', () => {
  it('writes as many decimals as the step has', () => {
    expect(formatTick(1, 0.25)).toBe('1.00');
    expect(formatTick(0.4, 0.2)).toBe('0.4');
    expect(formatTick(60, 20)).toBe('60');
    expect(formatTick(87.5, 2.5)).toBe('87.5');
    expect(formatTick(1.9, 0.05)).toBe('1.90');
    expect(formatTick(0.075, 0.025)).toBe('0.075');
    expect(formatTick(0.30000000000000004, 0.1)).toBe('0.3');
    expect(formatTick(3e-7, 1e-7)).toBe('0.0000003');
    // a step with no end of decimals: at most 12
    expect(formatTick(0, 1e-8 / 3)).toBe('0.000000000000');
    // the decimals of a negative step are its size's
    expect(formatTick(1, -0.25)).toBe('1.00');
    // a zero step has no decimals; a step off a round one by a millionth of it counts as round
    expect(formatTick(1, 0)).toBe('1');
    expect(formatTick(0.2, 0.10000001)).toBe('0.2');
  });

  it('writes no minus sign on a zero', () => {
    expect(formatTick(-1e-13, 0.5)).toBe('0.0');
    expect(formatTick(-1e-13, 0.25)).toBe('0.00');
    expect(formatTick(-0.2, 1)).toBe('0');
    expect(formatTick(-0.5, 0.5)).toBe('-0.5');
    expect(formatTick(-0.05, 0.05)).toBe('-0.05');
    expect(formatTick(-10, 5)).toBe('-10');
  });
});

describe('axisScale', () => {
  it('with fit "data" ends at the data, ticked inside', () => {
    expect(axisScale(0, 64, { count: 6, fit: 'data' })).toEqual({ domain: [0, 64], ticks: [0, 20, 40, 60], step: 20 });
    expect(axisScale(0, 1, { fit: 'data' })).toEqual({ domain: [0, 1], ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
    expect(axisScale(0.2, 1.2, { fit: 'data' })).toEqual({ domain: [0.2, 1.2], ticks: [0.2, 0.4, 0.6, 0.8, 1, 1.2], step: 0.2 });
    expect(axisScale(0.3, 0.9, { count: 6, fit: 'data' })).toEqual({ domain: [0.3, 0.9], ticks: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], step: 0.1 });
    expect(axisScale(1.1, 2.05, { fit: 'data' })).toEqual({ domain: [1.1, 2.05], ticks: [1.2, 1.4, 1.6, 1.8, 2], step: 0.2 });
  });

  it('by default ends at the tightest round ticks of count - 1 to count + 2, count on a tie', () => {
    expect(axisScale(12.3, 57.9)).toEqual({ domain: [10, 60], ticks: [10, 20, 30, 40, 50, 60], step: 10 });
    expect(axisScale(0, 64)).toEqual({ domain: [0, 70], ticks: [0, 10, 20, 30, 40, 50, 60, 70], step: 10 });
    expect(axisScale(1.848, 2)).toEqual({ domain: [1.825, 2], ticks: [1.825, 1.85, 1.875, 1.9, 1.925, 1.95, 1.975, 2], step: 0.025 });
    // count + 2 (7): 25s span -25..150, count (5) and count + 1 only -50..150
    expect(axisScale(-5, 150)).toEqual({ domain: [-25, 150], ticks: [-25, 0, 25, 50, 75, 100, 125, 150], step: 25 });
    // 45..75: 6 ticks of 5 fit exactly, 5 of 10 need 40..80
    expect(axisScale(45, 75)).toEqual({ domain: [45, 75], ticks: [45, 50, 55, 60, 65, 70, 75], step: 5 });
    // all of 4 to 7 give 0..1: the step of 5 ticks
    expect(axisScale(0, 1)).toEqual({ domain: [0, 1], ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
    expect(axisScale(0, 1, { count: 4 })).toEqual({ domain: [0, 1], ticks: [0, 0.25, 0.5, 0.75, 1], step: 0.25 });
    // count 2: 2, 3 and 4 ticks (not 1); 3 of 2.5 span least
    expect(axisScale(0, 7, { count: 2 })).toEqual({ domain: [0, 7.5], ticks: [0, 2.5, 5, 7.5], step: 2.5 });
    expect(axisScale(0, 9, { count: 3 })).toEqual({ domain: [0, 10], ticks: [0, 5, 10], step: 5 });
    expect(axisScale(0, 5, { count: 2 })).toEqual({ domain: [0, 5], ticks: [0, 2.5, 5], step: 2.5 }); // 2 ticks: exact
    expect(axisScale(0, 2.5, { count: 2 })).toEqual({ domain: [0, 3], ticks: [0, 1, 2, 3], step: 1 }); // not 1 tick of 2.5
    // count - 1 (4) ticks of 0.25 fit exactly where 5 to 7 of 0.2 need 0.4..1.6
    expect(axisScale(0.5, 1.5)).toEqual({ domain: [0.5, 1.5], ticks: [0.5, 0.75, 1, 1.25, 1.5], step: 0.25 });
    // ties keep the first (count) also below 0 and at tiny scales, where a tighter fit still wins
    expect(axisScale(-1, 0, { count: 4 })).toEqual({ domain: [-1, 0], ticks: [-1, -0.75, -0.5, -0.25, 0], step: 0.25 });
    expect(axisScale(0, 6.4e-8).domain).toEqual([0, 7e-8]);
  });

  it('pads a single value by 5% of it (1 for 0) and keeps within min and max', () => {
    expect(axisScale(0, 0)).toEqual({ domain: [-1, 1], ticks: [-1, -0.5, 0, 0.5, 1], step: 0.5 });
    expect(axisScale(-20, -20)).toEqual({ domain: [-21, -19], ticks: [-21, -20.5, -20, -19.5, -19], step: 0.5 });
    expect(axisScale(0, 0, { min: 0, max: 100 })).toEqual({ domain: [0, 1], ticks: [0, 0.2, 0.4, 0.6, 0.8, 1], step: 0.2 });
    expect(axisScale(100, 100, { min: 0, max: 100 })).toEqual({ domain: [95, 100], ticks: [95, 96, 97, 98, 99, 100], step: 1 });
    expect(axisScale(-5, 150, { min: 0, max: 100 })).toEqual({ domain: [0, 100], ticks: [0, 20, 40, 60, 80, 100], step: 20 });
    expect(axisScale(0.5, 9.5, { min: 1, fit: 'data' }).domain).toEqual([1, 9.5]);
    expect(axisScale(0.9, 1.95, { min: 1 }).domain).toEqual([1, 2]);
    expect(axisScale(98.5, 99.5, { max: 99 }).domain).toEqual([98.5, 99]);
    // data wholly past a bound: the axis spans the bounds
    expect(axisScale(150, 160, { min: 0, max: 100 }).domain).toEqual([0, 100]);
    expect(axisScale(100, 120, { min: 0, max: 100 }).domain).toEqual([0, 100]);
    expect(axisScale(100, 100, { min: 100, max: 100.5, fit: 'data' }).domain).toEqual([100, 100.5]);
  });
});

describe('lineChart', () => {
  /** x 0..4 (ticks of 1) and y 10..50 (ticks of 10): px(x) = 78 + 118 x, py(y) = 384 - 8.5 (y - 10). */
  const twoSeries = (): Series[] => [
    { name: 'a', points: [[0, 10], [2, 30], [4, 50]] },
    { name: 'b', points: [[1, 20], [3, 40]], color: '#123456', dash: '3 2', marker: 'square' },
  ];

  it('lays out the frame, the title, the axis labels and the ticks from the default size and font', () => {
    const svg = lineChart('T', 'epochs', 'value', twoSeries());
    expect(svgAttrs(svg)).toEqual({ xmlns: 'http://www.w3.org/2000/svg', width: '720', height: '440', viewBox: '0 0 720 440', 'data-x-domain': '0 4', 'data-y-domain': '10 50' });
    expect(svg.startsWith('<svg ')).toBe(true);
    expect(svg.endsWith('\n</svg>')).toBe(true);
    const rects = elements(svg, 'rect');
    expect(rects[0]).toEqual({ width: '720', height: '440', fill: 'white' });
    expect(rects).toContainEqual({ x: '78', y: '44', width: '472', height: '340', fill: 'none', stroke: '#333' });
    const texts = elements(svg, 'text');
    const font = { 'font-family': 'DejaVu Sans, Arial, sans-serif' };
    expect(texts[0]).toEqual({ x: '314', y: '26', 'text-anchor': 'middle', 'font-size': '17', ...font, text: 'T' });
    expect(texts).toContainEqual({ x: '314', y: '428', 'text-anchor': 'middle', 'font-size': '14', ...font, text: 'epochs' });
    expect(texts).toContainEqual({ transform: 'translate(20 214) rotate(-90)', 'text-anchor': 'middle', 'font-size': '14', ...font, text: 'value' });
    // y ticks: a grid line across the plot and a label left of it
    const yTicks = tickTexts(svg, 'y-tick');
    expect(yTicks.map((t) => [t.text, Number(t.x), Number(t.y), t['text-anchor'], t['font-size']])).toEqual(
      [10, 20, 30, 40, 50].map((v) => [String(v), 70, 384 - 8.5 * (v - 10) + 4, 'end', '12']),
    );
    const lines = elements(svg, 'line');
    const grid = lines.filter((l) => l.stroke === '#e5e5e5');
    expect(grid).toEqual([10, 20, 30, 40, 50].map((v) => ({ x1: '78', x2: '550', y1: String(384 - 8.5 * (v - 10)), y2: String(384 - 8.5 * (v - 10)), stroke: '#e5e5e5' })));
    // x ticks: a mark below the plot and a label under it
    const xMarks = lines.filter((l) => l.stroke === '#333');
    expect(xMarks).toEqual([0, 1, 2, 3, 4].map((v) => ({ x1: String(78 + 118 * v), x2: String(78 + 118 * v), y1: '384', y2: '389', stroke: '#333' })));
    expect(tickTexts(svg, 'x-tick').map((t) => [t.text, Number(t.x), Number(t.y), t['text-anchor']])).toEqual([0, 1, 2, 3, 4].map((v) => [String(v), 78 + 118 * v, 404, 'middle']));
  });

  it('draws each series as a polyline with a marker at every point, and a legend entry', () => {
    const svg = lineChart('T', 'x', 'y', twoSeries());
    wellFormed(svg);
    const [a, b] = polylines(svg);
    expect(a).toEqual({ fill: 'none', stroke: '#1f77b4', 'stroke-width': '2', points: '78.0,384.0 314.0,214.0 550.0,44.0' });
    expect(b).toEqual({ fill: 'none', stroke: '#123456', 'stroke-width': '2', 'stroke-dasharray': '3 2', points: '196.0,299.0 432.0,129.0' });
    // circles of "a" (3.5 wide), its legend circle at (579, 54)
    expect(elements(svg, 'circle')).toEqual(
      [[78, 384], [314, 214], [550, 44], [579, 54]].map(([x, y]) => ({ cx: f1(x!), cy: f1(y!), r: '3.5', fill: '#1f77b4' })),
    );
    // squares of "b" (7 x 7 centred on the point), its legend square at (579, 76)
    expect(elements(svg, 'rect').filter((r) => r.fill === '#123456')).toEqual(
      [[196, 299], [432, 129], [579, 76]].map(([x, y]) => ({ x: f1(x! - 3.5), y: f1(y! - 3.5), width: '7', height: '7', fill: '#123456' })),
    );
    const legendLines = elements(svg, 'line').filter((l) => l['stroke-width'] === '2.5');
    expect(legendLines).toEqual([
      { x1: '564', x2: '594', y1: '54', y2: '54', stroke: '#1f77b4', 'stroke-width': '2.5' },
      { x1: '564', x2: '594', y1: '76', y2: '76', stroke: '#123456', 'stroke-width': '2.5', 'stroke-dasharray': '3 2' },
    ]);
    const legendTexts = elements(svg, 'text').filter((t) => t.x === '600');
    expect(legendTexts.map((t) => [t.text, t.y, t['font-size']])).toEqual([['a', '58', '13'], ['b', '80', '13']]);
  });

  it('draws triangles, diamonds, down-triangles and crosses around the point, and no marker for "none"', () => {
    // (2, 30) is at (314, 214)
    const at = (marker: Series['marker'], name: string): Series => ({ name, points: [[2, 30]], marker, color: `#00000${name}` });
    const svg = lineChart('T', 'x', 'y', [
      { name: '0', points: [[0, 10], [2, 30], [4, 50]], marker: 'none', color: '#000000' },
      at('triangle', '1'), at('diamond', '2'), at('down', '3'), at('cross', '4'), at('none', '5'),
    ]);
    const polygons = elements(svg, 'polygon');
    const ly = (i: number) => 54 + 22 * i;
    const triangle = (x: number, y: number) => `${f1(x)},${f1(y - 5)} ${f1(x + 4.5)},${f1(y + 3.5)} ${f1(x - 4.5)},${f1(y + 3.5)}`;
    const diamond = (x: number, y: number) => `${f1(x)},${f1(y - 5)} ${f1(x + 5)},${f1(y)} ${f1(x)},${f1(y + 5)} ${f1(x - 5)},${f1(y)}`;
    const down = (x: number, y: number) => `${f1(x)},${f1(y + 5)} ${f1(x + 4.5)},${f1(y - 3.5)} ${f1(x - 4.5)},${f1(y - 3.5)}`;
    expect(polygons).toEqual([
      { points: triangle(314, 214), fill: '#000001' },
      { points: triangle(579, ly(1)), fill: '#000001' },
      { points: diamond(314, 214), fill: '#000002' },
      { points: diamond(579, ly(2)), fill: '#000002' },
      { points: down(314, 214), fill: '#000003' },
      { points: down(579, ly(3)), fill: '#000003' },
    ]);
    const cross = (x: number, y: number) => `M${f1(x - 4)},${f1(y - 4)}L${f1(x + 4)},${f1(y + 4)}M${f1(x - 4)},${f1(y + 4)}L${f1(x + 4)},${f1(y - 4)}`;
    expect(elements(svg, 'path')).toEqual([
      { d: cross(314, 214), stroke: '#000004', 'stroke-width': '2.2' },
      { d: cross(579, ly(4)), stroke: '#000004', 'stroke-width': '2.2' },
    ]);
    // "none": no marker on a line or in the legend; a lone point still gets a circle
    expect(elements(svg, 'circle')).toEqual([{ cx: '314.0', cy: '214.0', r: '3.5', fill: '#000005' }]);
    // one polyline: single points draw none
    expect(polylines(svg)).toHaveLength(1);
    wellFormed(svg);
  });

  it('colours series by position from the palette when they have no colour', () => {
    const series: Series[] = Array.from({ length: 11 }, (_, i) => ({ name: `s${i}`, points: [[0, i], [1, i + 1]] }));
    const colours = polylines(lineChart('T', 'x', 'y', series)).map((p) => p.stroke);
    expect(colours).toEqual(['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22', '#1f77b4']);
  });

  it('scales the margins, the legend and the text with the size, the font and the longest name', () => {
    const name = 'x'.repeat(40); // legend 40 + 0.625 * 11 * 40 = 315 wide
    const svg = lineChart('T', 'x', 'y', [{ name, points: [[0, 10], [4, 50]] }], '', { width: 900, height: 300, fontSize: 10 });
    expect(svgAttrs(svg)).toMatchObject({ width: '900', height: '300', viewBox: '0 0 900 300' });
    // margins: left 76, right 335, top 42, bottom 54
    expect(elements(svg, 'rect')).toContainEqual({ x: '76', y: '42', width: '489', height: '204', fill: 'none', stroke: '#333' });
    const texts = elements(svg, 'text');
    expect(texts[0]).toMatchObject({ x: '320.5', y: '24', 'font-size': '15', text: 'T' });
    expect(texts).toContainEqual(expect.objectContaining({ y: '288', 'font-size': '12', text: 'x' }));
    expect(texts).toContainEqual(expect.objectContaining({ transform: 'translate(20 144) rotate(-90)', text: 'y' }));
    const yTicks = tickTexts(svg, 'y-tick');
    expect(yTicks[0]).toMatchObject({ x: '68', 'font-size': '10', text: '10' });
    expect(Number(yTicks[0]!.y)).toBeCloseTo(246 + 10 / 3, 9);
    expect(tickTexts(svg, 'x-tick')[0]).toMatchObject({ x: '76', y: '264', 'font-size': '10' });
    expect(texts.at(-1)).toEqual({ x: '615', y: '56', 'font-size': '11', 'font-family': 'DejaVu Sans, Arial, sans-serif', text: name });
    expect(elements(svg, 'line').at(-1)).toMatchObject({ x1: '579', x2: '609', y1: '52', y2: '52' });
    // a short name keeps the legend 150 wide
    const short = lineChart('T', 'x', 'y', [{ name: 'abc', points: [[0, 10], [4, 50]] }], '', { width: 900, height: 300, fontSize: 10 });
    expect(elements(short, 'rect')).toContainEqual({ x: '76', y: '42', width: '654', height: '204', fill: 'none', stroke: '#333' });
    // the second legend row one font size + 10 lower
    const two = lineChart('T', 'x', 'y', [{ name: 'a', points: [[0, 1]] }, { name: 'b', points: [[1, 2]] }], '', { fontSize: 20 });
    expect(elements(two, 'line').filter((l) => l['stroke-width'] === '2.5').map((l) => l.y1)).toEqual(['62', '92']);
  });

  it('starts the x axis at 0 or the least x and ends it at 1 or the greatest', () => {
    const xDomain = (points: [number, number][]) => domain(lineChart('T', 'x', 'y', [{ name: 's', points }]), 'x');
    expect(xDomain([[2, 1], [5, 2]])).toEqual([0, 5]);
    expect(xDomain([[-2, 1], [3, 2]])).toEqual([-2, 3]);
    expect(xDomain([[0, 1], [0.5, 2]])).toEqual([0, 1]);
    expect(xDomain([[0.25, 1]])).toEqual([0, 1]);
    const svg = lineChart('T', 'x', 'y', [{ name: 's', points: [[0, 1], [0.5, 2]] }]);
    expect(tickTexts(svg, 'x-tick').map((t) => t.text)).toEqual(['0.0', '0.2', '0.4', '0.6', '0.8', '1.0']);
    // the x axis ends at the data, not at a round tick: 64 steps end at 64, ticked 0, 20, 40, 60
    const long = lineChart('T', 'x', 'y', [{ name: 's', points: [[0, 1], [64, 2]] }]);
    expect(domain(long, 'x')).toEqual([0, 64]);
    expect(tickTexts(long, 'x-tick').map((t) => t.text)).toEqual(['0', '20', '40', '60']);
    // from -2: x -2, 0 and 3 at the left end, 2/5 across and the right end
    const negative = lineChart('T', 'x', 'y', [{ name: 's', points: [[-2, 10], [0, 30], [3, 50]] }]);
    expect(polylines(negative)[0]!.points).toBe(`78.0,384.0 ${f1(78 + 0.4 * 472)},214.0 550.0,44.0`);
    expect(tickTexts(negative, 'x-tick').map((t) => [t.text, Number(t.x)])).toEqual([-2, -1, 0, 1, 2, 3].map((v) => [String(v), 78 + ((v + 2) / 5) * 472]));
  });

  it('keeps the y axis within yMin and yMax, the points drawn where they fall', () => {
    const points: [number, number][] = [[0, -5], [1, 150]];
    const free = lineChart('T', 'x', 'y', [{ name: 's', points }]);
    expect(domain(free, 'y')).toEqual([-25, 150]);
    expect(tickTexts(free, 'y-tick').map((t) => t.text)).toEqual(['-25', '0', '25', '50', '75', '100', '125', '150']);
    const bounded = lineChart('T', 'x', 'y', [{ name: 's', points }], '', { yMin: 0, yMax: 100 });
    expect(domain(bounded, 'y')).toEqual([0, 100]);
    // -5 is 5 below the bottom: 17 px under it; 150 is 50 above the top
    expect(pointsOf(polylines(bounded)[0]!)).toEqual([[78, 384 + 17], [550, 44 - 170]]);
    expect(domain(lineChart('T', 'x', 'y', [{ name: 's', points }], '', { yMin: 0 }), 'y')).toEqual([0, 150]);
    expect(domain(lineChart('T', 'x', 'y', [{ name: 's', points }], '', { yMax: 100 }), 'y')).toEqual([-20, 100]);
    expect(domain(lineChart('T', 'x', 'y', [{ name: 's', points: [[0, 0.5], [1, 4.5]] }], '', { yMin: 1 }), 'y')).toEqual([1, 4.5]);
  });

  it('escapes the title, the labels, the names and the unit', () => {
    const svg = lineChart('A<b>&"c"', 'x & y', '<y>', [{ name: 's<1>&', points: [[0, 10], [4, 50]] }], '<u>');
    const texts = elements(svg, 'text');
    expect(texts[0]!.text).toBe('A&lt;b&gt;&amp;"c"');
    expect(texts.map((t) => t.text)).toEqual(expect.arrayContaining(['x &amp; y', '&lt;y&gt;', 's&lt;1&gt;&amp;']));
    expect(tickTexts(svg, 'y-tick').map((t) => t.text)).toEqual(['10&lt;u&gt;', '20&lt;u&gt;', '30&lt;u&gt;', '40&lt;u&gt;', '50&lt;u&gt;']);
    expect(svg).not.toMatch(/<(b|y|1|u)>/);
  });
});

const epoch = (e: number, test: number, train: number, o: Partial<EpochMetrics> = {}): EpochMetrics => ({
  epoch: e, lr: 1e-3, train_loss: 0.1, train_acc: train, test_acc: test, tau: [], firing_rate: [], seconds: 1, samples_per_s: 1, ...o,
});
const record = (e: number, batch: number, samples: number, acc: number, loss = 0.1, tau: TrainRecord['tau'] = []): TrainRecord => ({
  epoch: e, batch, batches: 4, samples, train_loss: loss, train_acc: acc, tau,
});

describe('intervalMeans', () => {
  it('turns running means into the mean of each interval, at epochs + batch / batches', () => {
    const curve = [record(0, 1, 10, 0.5, 0.4), record(0, 3, 30, 0.6, 0.3), record(1, 2, 20, 0.9, 0.2), record(1, 2, 20, 0.8, 0.25), record(1, 4, 40, 0.85, 0.2)];
    // (30·0.6 - 10·0.5) / 20 = 0.65; a new epoch starts afresh; no samples since the last point: the value itself
    expect(intervalMeans(curve, 'train_acc')).toEqual([[0.25, 0.5], [0.75, (30 * 0.6 - 10 * 0.5) / 20], [1.5, 0.9], [1.5, 0.8], [2, (40 * 0.85 - 20 * 0.8) / 20]]);
    expect(intervalMeans(curve, 'train_loss')).toEqual([[0.25, 0.4], [0.75, (30 * 0.3 - 10 * 0.4) / 20], [1.5, 0.2], [1.5, 0.25], [2, (40 * 0.2 - 20 * 0.25) / 20]]);
    expect(intervalMeans([], 'train_acc')).toEqual([]);
    // a new epoch's first point is its own mean, even with more samples than the last epoch's last point
    expect(intervalMeans([record(0, 1, 10, 0.5), record(1, 2, 20, 0.75)], 'train_acc')).toEqual([[0.25, 0.5], [1.5, 0.75]]);
  });
});

describe('accuracyChart', () => {
  // test 50, 60, 70; validation 45 (epoch 0) and 65 (epoch 2); train 55, 62, 75: y 45..75 by 5, x 0..3 by 0.5
  const runs = () => [epoch(0, 0.5, 0.55, { val_acc: 0.45 }), epoch(1, 0.6, 0.62), epoch(2, 0.7, 0.75, { val_acc: 0.65 })];

  it('draws test, validation and train accuracy in % against epochs trained', () => {
    const svg = accuracyChart(runs());
    expect(domain(svg, 'x')).toEqual([0, 3]);
    expect(domain(svg, 'y')).toEqual([45, 75]);
    const { px, py } = pixels(svg);
    const line = (pts: [number, number][]) => pts.map(([x, y]) => `${f1(px(x))},${f1(py(y))}`).join(' ');
    expect(polylines(svg)).toEqual([
      { fill: 'none', stroke: ROLE_COLORS.test, 'stroke-width': '2', points: line([[1, 50], [2, 60], [3, 70]]) },
      { fill: 'none', stroke: ROLE_COLORS.validation, 'stroke-width': '2', 'stroke-dasharray': '7 4', points: line([[1, 45], [3, 65]]) },
      { fill: 'none', stroke: ROLE_COLORS.train, 'stroke-width': '2', points: line([[1, 55], [2, 62], [3, 75]]) },
    ]);
    expect(ROLE_COLORS).toEqual({ test: '#1f77b4', validation: '#ff7f0e', train: '#2ca02c' });
    // markers: circles for test, squares for validation, triangles for train (3 + 2 + 3 and one each in the legend)
    expect(elements(svg, 'circle').map((c) => c.fill)).toEqual(Array(4).fill('#1f77b4'));
    expect(elements(svg, 'rect').filter((r) => r.fill === '#ff7f0e')).toHaveLength(3);
    expect(elements(svg, 'polygon').map((c) => c.fill)).toEqual(Array(4).fill('#2ca02c'));
    const texts = elements(svg, 'text').map((t) => t.text);
    expect(texts.slice(0, 1)).toEqual(['Accuracy']);
    expect(texts).toEqual(expect.arrayContaining(['epochs trained', 'accuracy', 'test', 'validation', 'train']));
    expect(tickTexts(svg, 'y-tick').map((t) => t.text)).toEqual(['45%', '50%', '55%', '60%', '65%', '70%', '75%']);
    expect(tickTexts(svg, 'x-tick').map((t) => t.text)).toEqual(['0.0', '0.5', '1.0', '1.5', '2.0', '2.5', '3.0']);
  });

  it('has no validation series without validation, and keeps the axis within 0..100%', () => {
    const svg = accuracyChart([epoch(0, 0, 0)]);
    expect(elements(svg, 'text').map((t) => t.text)).not.toContain('validation');
    expect(domain(svg, 'y')).toEqual([0, 1]);
    expect(domain(accuracyChart([epoch(0, 1, 1)]), 'y')).toEqual([95, 100]);
    expect(elements(accuracyChart([epoch(0, 0.5, 0.5, { val_acc: 0 })]), 'text').map((t) => t.text)).toContain('validation');
  });

  it('draws the training accuracy from the curve as interval means, without markers', () => {
    const curve = [record(0, 2, 20, 0.5), record(0, 4, 40, 0.75)];
    const svg = accuracyChart([epoch(0, 0.6, 0.75)], curve);
    const texts = elements(svg, 'text').map((t) => t.text);
    expect(texts).toContain('train (interval mean)');
    expect(texts).not.toContain('train');
    const { px, py } = pixels(svg, 'train (interval mean)'.length);
    expect(domain(svg, 'y')).toEqual([50, 100]);
    // (40·0.75 - 20·0.5) / 20 = 1: 100%
    expect(polylines(svg).at(-1)).toEqual({ fill: 'none', stroke: '#2ca02c', 'stroke-width': '2', points: `${f1(px(0.5))},${f1(py(50))} ${f1(px(1))},${f1(py(100))}` });
    expect(elements(svg, 'polygon')).toEqual([]);
    // a curve of one point: a circle there
    const one = accuracyChart([epoch(0, 0.6, 0.5)], [record(0, 4, 40, 0.5)]);
    expect(elements(one, 'circle').filter((c) => c.fill === '#2ca02c')).toHaveLength(1);
  });
});

describe('lossChart', () => {
  it('draws the training loss per epoch with triangles, from 0 up', () => {
    const svg = lossChart([epoch(0, 0, 0, { train_loss: 0.08 }), epoch(1, 0, 0, { train_loss: 0.05 })]);
    expect(domain(svg, 'x')).toEqual([0, 2]);
    expect(domain(svg, 'y')).toEqual([0.05, 0.08]);
    const { px, py } = pixels(svg);
    expect(polylines(svg)).toEqual([{ fill: 'none', stroke: '#2ca02c', 'stroke-width': '2', points: `${f1(px(1))},${f1(py(0.08))} ${f1(px(2))},${f1(py(0.05))}` }]);
    expect(elements(svg, 'polygon')).toHaveLength(3);
    const texts = elements(svg, 'text').map((t) => t.text);
    expect(texts[0]).toBe('Training loss');
    expect(texts).toEqual(expect.arrayContaining(['epochs trained', 'loss', 'train']));
    expect(tickTexts(svg, 'y-tick').map((t) => t.text)).toEqual(['0.05', '0.06', '0.07', '0.08']);
    // one point at 0: the axis does not go below 0
    expect(domain(lossChart([epoch(0, 0, 0, { train_loss: 0 })]), 'y')).toEqual([0, 1]);
  });

  it('draws the loss from the training curve as interval means', () => {
    const curve = [record(0, 2, 20, 0, 0.4), record(0, 4, 40, 0, 0.3)];
    const svg = lossChart([epoch(0, 0, 0, { train_loss: 0.3 })], curve);
    expect(elements(svg, 'text').map((t) => t.text)).toContain('train (interval mean)');
    const { px, py } = pixels(svg, 'train (interval mean)'.length);
    // (40·0.3 - 20·0.4) / 20 = 0.2
    expect(domain(svg, 'y')).toEqual([0.2, 0.4]);
    expect(polylines(svg)[0]!.points).toBe(`${f1(px(0.5))},${f1(py(0.4))} ${f1(px(1))},${f1(py(0.2))}`);
    expect(elements(svg, 'polygon')).toEqual([]);
    const one = lossChart([epoch(0, 0, 0)], [record(0, 4, 40, 0, 0.3)]);
    expect(elements(one, 'circle')).toEqual([expect.objectContaining({ fill: '#2ca02c', cy: f1(pixels(one, 21).py(0.3)) })]);
  });
});

describe('tauChart', () => {
  const taus = (a: number, b: number) => [{ layer: 2, tau: a }, { layer: 6, tau: b }];

  it('draws tau0 at 0 and each layer after every epoch, each with its own colour, dash and marker', () => {
    const svg = tauChart([epoch(0, 0, 0, { tau: taus(1.8, 1.9) }), epoch(1, 0, 0, { tau: taus(1.6, 1.7) })], 2);
    expect(domain(svg, 'x')).toEqual([0, 2]);
    expect(domain(svg, 'y')).toEqual([1.6, 2]);
    const { px, py } = pixels(svg, 'tau(1) layer 2'.length);
    const line = (pts: [number, number][]) => pts.map(([x, y]) => `${f1(px(x))},${f1(py(y))}`).join(' ');
    expect(polylines(svg)).toEqual([
      { fill: 'none', stroke: '#1f77b4', 'stroke-width': '2', points: line([[0, 2], [1, 1.8], [2, 1.6]]) },
      { fill: 'none', stroke: '#d62728', 'stroke-width': '2', 'stroke-dasharray': '7 4', points: line([[0, 2], [1, 1.9], [2, 1.7]]) },
    ]);
    const texts = elements(svg, 'text').map((t) => t.text);
    expect(texts[0]).toBe('Membrane time constant during training');
    expect(texts).toEqual(expect.arrayContaining(['epochs trained', 'tau', 'tau(1) layer 2', 'tau(2) layer 6']));
    expect(tickTexts(svg, 'y-tick').map((t) => t.text)).toEqual(['1.6', '1.7', '1.8', '1.9', '2.0']);
    expect(elements(svg, 'circle')).toHaveLength(4); // layer 2: 3 points and the legend
    expect(elements(svg, 'rect').filter((r) => r.fill === '#d62728')).toHaveLength(4); // layer 6: squares
  });

  it('starts at the first epoch without tau0, keeps the axis above 1, and cycles dashes and markers', () => {
    const layers = [0, 1, 2, 3, 4, 5, 6];
    const m = (e: number, tau: number) => epoch(e, 0, 0, { tau: layers.map((layer) => ({ layer, tau: tau + layer / 100 })) });
    const svg = tauChart([m(0, 0.5), m(1, 1.5)]);
    expect(domain(svg, 'y')[0]).toBe(1);
    const lines = polylines(svg);
    expect(lines.map((l) => pointsOf(l).length)).toEqual(Array(7).fill(2));
    expect(lines.map((l) => l.stroke)).toEqual(['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2']);
    expect(lines.map((l) => l['stroke-dasharray'] ?? '')).toEqual(['', '7 4', '2 3', '10 3 2 3', '4 4', '1 5', '']);
    // the legend markers, in order: circle, square, triangle, diamond, down, cross, circle
    const legend = (i: number) => 54 + 22 * i;
    const mx = pixels(svg, 'tau(1) layer 0'.length).lx + 15; // the legend's markers' x
    expect(elements(svg, 'circle').filter((c) => c.cx === f1(mx)).map((c) => c.cy)).toEqual([f1(legend(0)), f1(legend(6))]);
    expect(elements(svg, 'rect').filter((r) => r.x === f1(mx - 3.5)).map((r) => r.y)).toEqual([f1(legend(1) - 3.5)]);
    const legendPolygons = elements(svg, 'polygon').filter((p) => p.points!.startsWith(`${f1(mx)},`));
    expect(legendPolygons.map((p) => [p.points!.split(' ').length, p.fill])).toEqual([[3, '#2ca02c'], [4, '#ff7f0e'], [3, '#9467bd']]);
    expect(elements(svg, 'path').filter((p) => p.stroke === '#8c564b')).toHaveLength(3);
  });

  it('takes a layer\'s points from the training curve where it has them', () => {
    const curve = [record(0, 2, 20, 0, 0, [{ layer: 2, tau: 1.9 }]), record(0, 4, 40, 0, 0, [{ layer: 2, tau: 1.8 }])];
    const svg = tauChart([epoch(0, 0, 0, { tau: taus(1.7, 1.6) })], 2, curve);
    const { px, py } = pixels(svg, 'tau(1) layer 2'.length);
    const line = (pts: [number, number][]) => pts.map(([x, y]) => `${f1(px(x))},${f1(py(y))}`).join(' ');
    expect(polylines(svg).map((l) => l.points)).toEqual([line([[0, 2], [0.5, 1.9], [1, 1.8]]), line([[0, 2], [1, 1.6]])]);
  });
});
