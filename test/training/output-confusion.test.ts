// The confusion matrix (training/plot-confusion.ts): its record, its validation when read back, and its heat
// map, whose cell geometry and shades are computed here.
import { describe, expect, it } from 'vitest';
import type { Evaluation } from '../../training/evaluate.js';
import { confusionChart, confusionRecord, validateConfusion, type ConfusionRecord } from '../../training/plot-confusion.js';
import { elements } from './svg.js';

const FONT = { 'font-family': 'DejaVu Sans, Arial, sans-serif' };

describe('confusionRecord', () => {
  it('copies the evaluation\'s counts, naming classes beyond the list by their index', () => {
    const confusion = [[3, 1, 0], [0, 2, 2], [1, 0, 5]];
    const e = { accuracy: 10 / 14, correct: 10, total: 14, ties: 2, tieRule: 'random', confusion } as unknown as Evaluation;
    const r = confusionRecord(e, ['cat', 'dog'], 'test pass of epoch 3');
    expect(r).toEqual({ source: 'test pass of epoch 3', classes: ['cat', 'dog', '2'], matrix: [[3, 1, 0], [0, 2, 2], [1, 0, 5]], samples: 14, correct: 10, accuracy: 10 / 14, ties: 2, tie_rule: 'random' });
    // a copy: changing the evaluation leaves the record as it was
    confusion[0]![0] = 99;
    expect(r.matrix[0]).toEqual([3, 1, 0]);
  });
});

describe('validateConfusion', () => {
  const record = (o: Record<string, unknown> = {}) => ({ source: 's', classes: ['a', 'b'], matrix: [[1, 0], [2, 3]], samples: 6, correct: 4, accuracy: 4 / 6, ties: 0, tie_rule: 'first', ...o });
  const bad = (raw: unknown, why: string) => expect(() => validateConfusion(raw, 'runs/a/confusion.json')).toThrow(new Error(`runs/a/confusion.json: not a confusion matrix record (${why})`));

  it('returns a record with a square matrix of counts', () => {
    const r = record();
    expect(validateConfusion(r, 'x')).toBe(r);
    expect(validateConfusion(record({ classes: ['a'], matrix: [[0]], samples: 0, correct: 0 }), 'x').classes).toEqual(['a']);
  });

  it('refuses anything else, saying why', () => {
    bad(null, 'not a JSON object');
    bad(5, 'not a JSON object');
    bad('{}', 'not a JSON object');
    bad({}, '"classes" must be an array of names');
    bad(record({ classes: 'ab' }), '"classes" must be an array of names');
    bad(record({ classes: ['a', 2] }), '"classes" must be an array of names');
    bad(record({ classes: [], matrix: [] }), 'no classes');
    bad(record({ matrix: 'x' }), '"matrix" must have 2 rows');
    bad(record({ matrix: [[1, 0]] }), '"matrix" must have 2 rows');
    bad(record({ matrix: [[1, 0], [2, 3], [0, 0]] }), '"matrix" must have 2 rows');
    bad(record({ matrix: [[1, 0], 5] }), 'row 1 of "matrix" must hold 2 counts');
    bad(record({ matrix: [[1, 0, 0], [2, 3]] }), 'row 0 of "matrix" must hold 2 counts');
    bad(record({ matrix: [[1, 0], [2]] }), 'row 1 of "matrix" must hold 2 counts');
    bad(record({ matrix: [[1, -1], [2, 3]] }), 'row 0 of "matrix" must hold 2 counts');
    bad(record({ matrix: [[1, 0], [2, 0.5]] }), 'row 1 of "matrix" must hold 2 counts');
    bad(record({ matrix: [[1, 0], [2, '3']] }), 'row 1 of "matrix" must hold 2 counts');
    bad(record({ samples: -1 }), '"samples" must be a count');
    bad(record({ samples: undefined }), '"samples" must be a count');
    bad(record({ correct: 1.5 }), '"correct" must be a count');
    bad(record({ correct: -1 }), '"correct" must be a count');
    bad(record({ ties: '0' }), '"ties" must be a count');
    bad(record({ ties: -3 }), '"ties" must be a count');
  });
});

describe('confusionChart', () => {
  const record = (o: Partial<ConfusionRecord> = {}): ConfusionRecord => ({
    source: 'ckpt <best> & co', classes: ['a<', 'b', 'c'], matrix: [[6, 3, 1], [0, 0, 0], [2, 0, 3]], samples: 15, correct: 9, accuracy: 0.6, ties: 4, tie_rule: 'random', ...o,
  });
  /** The fill of a cell: green shades on the diagonal, red off it, by the share of the row. */
  const shadeOf = (share: number, diagonal: boolean) => {
    const s = Math.round(255 * (1 - share));
    return diagonal ? `rgb(${s},${Math.round(255 - 0.45 * (255 - s))},${s})` : `rgb(255,${s},${s})`;
  };

  it('lays out the titles, the class names and the frame for 60-wide cells', () => {
    // 3 classes: cells 60 (560 / 3 capped), matrix at (150, 136), 180 square
    const svg = confusionChart(record());
    expect(elements(svg, 'svg')[0]).toEqual({ xmlns: 'http://www.w3.org/2000/svg', width: '370', height: '366', viewBox: '0 0 370 366' });
    const texts = elements(svg, 'text');
    expect(texts.slice(0, 4)).toEqual([
      { x: '185', y: '26', 'text-anchor': 'middle', 'font-size': '16', ...FONT, text: 'Confusion matrix: ckpt &lt;best&gt; &amp; co' },
      { x: '185', y: '46', 'text-anchor': 'middle', 'font-size': '12', ...FONT, text: '15 samples, accuracy 60.00%, 4 tied (ties: random)' },
      { x: '240', y: '70', 'text-anchor': 'middle', 'font-size': '13', ...FONT, text: 'predicted class' },
      { x: '30', y: '226', 'text-anchor': 'middle', 'font-size': '13', ...FONT, transform: 'rotate(-90 30 226)', text: 'true label' },
    ]);
    // column names above the matrix, turned 45°, at each column's middle
    expect(texts.slice(4, 7)).toEqual(['a&lt;', 'b', 'c'].map((text, j) => {
      const x = String(150 + 60 * j + 30);
      return { x, y: '128', 'text-anchor': 'start', 'font-size': '11', ...FONT, transform: `rotate(-45 ${x} 128)`, text };
    }));
    // row names left of the matrix
    const rowNames = texts.filter((t) => t['text-anchor'] === 'end');
    expect(rowNames).toEqual(['a&lt;', 'b', 'c'].map((text, i) => ({ x: '142', y: String(136 + 60 * i + 34), 'text-anchor': 'end', 'font-size': '11', ...FONT, text })));
    expect(elements(svg, 'rect')[0]).toEqual({ width: '370', height: '366', fill: 'white' });
    expect(elements(svg, 'rect').at(-1)).toEqual({ x: '150', y: '136', width: '180', height: '180', fill: 'none', stroke: '#333' });
    expect(texts.at(-1)).toEqual({ x: '185', y: '346', 'text-anchor': 'middle', 'font-size': '11', ...FONT, text: "cells: samples; shade: share of the true label's samples (green: correct, red: confused)" });
    expect(svg.endsWith('\n</svg>')).toBe(true);
  });

  it('shades each cell by its share of the row, with the count written where it is not 0', () => {
    const r = record();
    const svg = confusionChart(r);
    const cells = elements(svg, 'rect').filter((c) => c.stroke === '#ccc');
    const expected = r.matrix.flatMap((row, i) => {
      const total = row.reduce((a, v) => a + v, 0);
      return row.map((v, j) => ({ x: String(150 + 60 * j), y: String(136 + 60 * i), width: '60', height: '60', fill: v ? shadeOf(v / total, i === j) : 'white', stroke: '#ccc' }));
    });
    expect(cells).toEqual(expected);
    // e.g. 6 of 10 on the diagonal: rgb(102,186,102); 3 of 10 off it: rgb(255,179,179)
    expect(cells[0]!.fill).toBe('rgb(102,186,102)');
    expect(cells[1]!.fill).toBe('rgb(255,179,179)');
    const counts = elements(svg, 'text').filter((t) => /^\d+$/.test(t.text!));
    // white on dark cells (share above 0.6), else black; 12 px in cells of 44 or more
    expect(counts).toEqual([
      [0, 0, '6', 'black'], [0, 1, '3', 'black'], [0, 2, '1', 'black'], [2, 0, '2', 'black'], [2, 2, '3', 'black'],
    ].map(([i, j, text, fill]) => ({ x: String(150 + 60 * (j as number) + 30), y: String(136 + 60 * (i as number) + 34), 'text-anchor': 'middle', 'font-size': '12', fill, ...FONT, text })));
    const dark = confusionChart(record({ matrix: [[7, 3, 0], [0, 1, 0], [0, 0, 0]] }));
    expect(elements(dark, 'text').filter((t) => /^\d+$/.test(t.text!)).map((t) => [t.text, t.fill])).toEqual([['7', 'white'], ['3', 'black'], ['1', 'white']]);
  });

  it('sizes cells 560 / C between 34 and 60, with smaller counts in cells under 44', () => {
    const square = (C: number): ConfusionRecord => ({
      source: 's', classes: Array.from({ length: C }, (_, i) => `c${i}`), matrix: Array.from({ length: C }, (_, i) => Array.from({ length: C }, (_, j) => (i === j ? 1 : 0))),
      samples: C, correct: C, accuracy: 1, ties: 0, tie_rule: 'first',
    });
    const cellOf = (C: number) => {
      const svg = confusionChart(square(C));
      const cell = elements(svg, 'rect').find((c) => c.stroke === '#ccc')!;
      const count = elements(svg, 'text').find((t) => t.text === '1')!;
      return { size: Number(cell.width), font: count['font-size'], svg: elements(svg, 'svg')[0]! };
    };
    expect(cellOf(1)).toMatchObject({ size: 60, font: '12', svg: { width: String(150 + 60 + 40), height: String(136 + 60 + 50) } });
    expect(cellOf(12)).toMatchObject({ size: 46, font: '12', svg: { width: String(150 + 12 * 46 + 40) } });
    expect(cellOf(13)).toMatchObject({ size: 43, font: '10' });
    expect(cellOf(20)).toMatchObject({ size: 34, font: '10', svg: { width: String(150 + 20 * 34 + 40), height: String(136 + 20 * 34 + 50) } });
    // a full diagonal: every correct cell is the darkest green, its count white
    const svg = confusionChart(square(2));
    expect(elements(svg, 'rect').filter((c) => c.stroke === '#ccc').map((c) => c.fill)).toEqual(['rgb(0,140,0)', 'white', 'white', 'rgb(0,140,0)']);
    expect(elements(svg, 'text').filter((t) => t.text === '1').map((t) => t.fill)).toEqual(['white', 'white']);
  });

  it('writes 0% for no samples and the first tie rule when the record has none', () => {
    const svg = confusionChart({ ...record({ samples: 0, correct: 0, ties: 0, matrix: [[0, 0, 0], [0, 0, 0], [0, 0, 0]] }), tie_rule: undefined as never });
    expect(elements(svg, 'text')[1]!.text).toBe('0 samples, accuracy 0.00%, 0 tied (ties: first)');
    expect(elements(svg, 'rect').filter((c) => c.stroke === '#ccc').every((c) => c.fill === 'white')).toBe(true);
    expect(elements(confusionChart(record({ samples: 8, correct: 1, tie_rule: 'a<b' as never })), 'text')[1]!.text).toBe('8 samples, accuracy 12.50%, 4 tied (ties: a&lt;b)');
  });
});
