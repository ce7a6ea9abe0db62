// The confusion matrix of an evaluation: the JSON record (confusion.json of a run directory, written by
// every test pass, or plif eval --confusion FILE), its validation when read back, and its figure (SVG):
// rows are the true labels, columns the predicted classes, each cell the number of samples, shaded by
// its share of the row (the class's recall on the diagonal).
import type { TieRule } from '../core/readout.js';
import type { Evaluation } from './evaluate.js';

export interface ConfusionRecord {
  /** What was evaluated, e.g. "test pass of epoch 3" or a checkpoint's path. */
  source: string;
  classes: string[];
  /** matrix[label][predicted]: number of samples. */
  matrix: number[][];
  samples: number;
  correct: number;
  accuracy: number;
  /** Samples whose highest spike count was shared by two or more classes. */
  ties: number;
  tie_rule: TieRule;
}

export function confusionRecord(e: Evaluation, classes: readonly string[], source: string): ConfusionRecord {
  return {
    source,
    classes: e.confusion.map((_, i) => classes[i] ?? String(i)),
    matrix: e.confusion.map((row) => [...row]),
    samples: e.total,
    correct: e.correct,
    accuracy: e.accuracy,
    ties: e.ties,
    tie_rule: e.tieRule,
  };
}

/** A parsed confusion.json, checked: a square matrix of counts, one row and column per class. */
export function validateConfusion(raw: unknown, where: string): ConfusionRecord {
  const bad = (why: string): never => {
    throw new Error(`${where}: not a confusion matrix record (${why})`);
  };
  if (typeof raw !== 'object' || raw === null) bad('not a JSON object');
  const r = raw as Record<string, unknown>;
  if (!Array.isArray(r.classes) || !r.classes.every((c) => typeof c === 'string')) bad('"classes" must be an array of names');
  const C = (r.classes as string[]).length;
  if (C === 0) bad('no classes');
  if (!Array.isArray(r.matrix) || r.matrix.length !== C) bad(`"matrix" must have ${C} rows`);
  (r.matrix as unknown[]).forEach((row, i) => {
    if (!Array.isArray(row) || row.length !== C || !row.every((v) => Number.isInteger(v) && v >= 0)) bad(`row ${i} of "matrix" must hold ${C} counts`);
  });
  for (const k of ['samples', 'correct', 'ties'] as const) if (!Number.isInteger(r[k]) || (r[k] as number) < 0) bad(`"${k}" must be a count`);
  return raw as ConfusionRecord;
}

const FONT = `font-family="DejaVu Sans, Arial, sans-serif"`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The confusion matrix as an SVG heat map with the count in every cell. */
export function confusionChart(r: ConfusionRecord): string {
  const C = r.classes.length;
  const cell = Math.max(34, Math.min(60, Math.floor(560 / C)));
  const left = 150;
  const top = 136;
  const W = left + C * cell + 40;
  const H = top + C * cell + 50;
  const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="26" text-anchor="middle" font-size="16" ${FONT}>Confusion matrix: ${esc(r.source)}</text>`,
    `<text x="${W / 2}" y="46" text-anchor="middle" font-size="12" ${FONT}>${r.samples} samples, accuracy ${pct(r.samples ? r.correct / r.samples : 0)}, ${r.ties} tied (ties: ${esc(String(r.tie_rule ?? 'first'))})</text>`,
    `<text x="${left + (C * cell) / 2}" y="70" text-anchor="middle" font-size="13" ${FONT}>predicted class</text>`,
    `<text x="${left - 120}" y="${top + (C * cell) / 2}" text-anchor="middle" font-size="13" ${FONT} transform="rotate(-90 ${left - 120} ${top + (C * cell) / 2})">true label</text>`,
  ];
  r.classes.forEach((name, j) => {
    const x = left + j * cell + cell / 2;
    out.push(`<text x="${x}" y="${top - 8}" text-anchor="start" font-size="11" ${FONT} transform="rotate(-45 ${x} ${top - 8})">${esc(name)}</text>`);
  });
  r.matrix.forEach((row, i) => {
    const total = row.reduce((a, v) => a + v, 0);
    const y = top + i * cell;
    out.push(`<text x="${left - 8}" y="${y + cell / 2 + 4}" text-anchor="end" font-size="11" ${FONT}>${esc(r.classes[i]!)}</text>`);
    row.forEach((v, j) => {
      const share = total ? v / total : 0;
      const shade = Math.round(255 * (1 - share));
      const fill = i === j ? `rgb(${shade},${Math.round(255 - 0.45 * (255 - shade))},${shade})` : `rgb(255,${shade},${shade})`;
      const x = left + j * cell;
      out.push(`<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${v ? fill : 'white'}" stroke="#ccc"/>`);
      if (v) out.push(`<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" text-anchor="middle" font-size="${cell < 44 ? 10 : 12}" fill="${share > 0.6 ? 'white' : 'black'}" ${FONT}>${v}</text>`);
    });
  });
  out.push(`<rect x="${left}" y="${top}" width="${C * cell}" height="${C * cell}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${W / 2}" y="${top + C * cell + 30}" text-anchor="middle" font-size="11" ${FONT}>cells: samples; shade: share of the true label's samples (green: correct, red: confused)</text>`);
  out.push('</svg>');
  return out.join('\n');
}
