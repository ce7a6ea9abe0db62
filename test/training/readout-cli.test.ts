// What plif eval reports about the readout, run as a user runs it (the built CLI in a child process):
// tied samples, the confusion matrix (JSON and a figure with plif plot), per-sample predictions with
// spike counts (--predictions), the tie rules (--ties, --pool-ties), and metrics.jsonl's test_ties.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, plif } from '../reliability/helpers.js';
import { writeTinyFashionMnist } from './fixtures.js';

let dataDir: string;
let run: string;
beforeAll(async () => {
  ensureBuilt();
  dataDir = writeTinyFashionMnist(48, 40);
  run = join(mkdtempSync(join(tmpdir(), 'plif-readout-')), 'run');
  const r = await plif(['train', '--preset', 'fmnist-small', '--data-dir', dataDir, '--T', '2', '--epochs', '1', '--batch', '4', '--lr', '0.01', '--limit-test', '40', '--eval-batch', '20', '--pool-ties', 'random', '--seed', '4', '--out', run, '--json']).exited;
  if (r.code !== 0) throw new Error(`plif train failed (${r.code}): ${r.err}`);
}, 120_000);

interface Line {
  index: number;
  label: number;
  predicted: number;
  counts: number[];
  tied: boolean;
}

async function evalRun(extra: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'plif-eval-'));
  const predictions = join(dir, 'predictions.jsonl');
  const confusion = join(dir, 'confusion.json');
  const r = await plif(['eval', '--checkpoint', join(run, 'best.safetensors'), '--data-dir', dataDir, '--predictions', predictions, '--confusion', confusion, '--json', ...extra]).exited;
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  const lines = readFileSync(predictions, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Line);
  return { json: JSON.parse(r.out), lines, confusion: JSON.parse(readFileSync(confusion, 'utf8')), confusionFile: confusion };
}

describe('plif eval: readout report', () => {
  it('train --pool-ties random is stored with the network; metrics.jsonl and confusion.json carry the test pass ties', () => {
    const cfg = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    expect(cfg.network.poolTies).toBe('random');
    const [m] = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(Number.isInteger(m.test_ties)).toBe(true);
    const conf = JSON.parse(readFileSync(join(run, 'confusion.json'), 'utf8'));
    expect(conf.source).toBe('test pass of epoch 0');
    expect(conf.ties).toBe(m.test_ties);
    expect(conf.matrix.flat().reduce((a: number, v: number) => a + v, 0)).toBe(40);
    expect(conf.matrix.reduce((a: number, row: number[], i: number) => a + row[i]!, 0)).toBe(Math.round(m.test_acc * 40));
  });

  it('--predictions writes every sample: label, predicted class = first argmax of its integer spike counts, tied; the JSON report agrees', async () => {
    const { json, lines, confusion } = await evalRun(['--eval-batch', '7']);
    expect(json.pool_ties).toBe('random'); // from the checkpoint
    expect(json.tie_rule).toBe('first');
    expect(lines.map((l) => l.index)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(lines.map((l) => l.label)).toEqual(Array.from({ length: 40 }, (_, i) => i % 10)); // the fixture's labels
    const confusionFromLines = Array.from({ length: 10 }, () => new Array(10).fill(0));
    for (const l of lines) {
      expect(l.counts).toHaveLength(10);
      for (const c of l.counts) expect(Number.isInteger(c) && c >= 0 && c <= 2 * 10).toBe(true); // T = 2 steps x M = 10 neurons
      const top = Math.max(...l.counts);
      expect(l.predicted).toBe(l.counts.indexOf(top));
      expect(l.tied).toBe(l.counts.filter((c) => c === top).length > 1);
      confusionFromLines[l.label]![l.predicted]++;
    }
    expect(json.ties).toBe(lines.filter((l) => l.tied).length);
    expect(json.ties).toBeGreaterThan(0); // a network trained for 12 steps at T = 2 leaves ties to decide
    expect(json.ties).toBeLessThan(40); // and samples it decides without one
    expect(json.correct).toBe(lines.filter((l) => l.label === l.predicted).length);
    expect(json.confusion.matrix).toEqual(confusionFromLines);
    expect(confusion.matrix).toEqual(confusionFromLines);
    expect(confusion.ties).toBe(json.ties);
  });

  it('results do not depend on the evaluation batch size, even with random pool ties; --ties random is seeded and changes tied samples only', async () => {
    const a = await evalRun(['--eval-batch', '7']);
    const b = await evalRun(['--eval-batch', '40']);
    expect(b.lines).toEqual(a.lines);
    const r1 = await evalRun(['--ties', 'random', '--seed', '1', '--eval-batch', '40']);
    const r2 = await evalRun(['--ties', 'random', '--seed', '1', '--eval-batch', '9']);
    expect(r1.json.tie_rule).toBe('random');
    expect(r2.lines).toEqual(r1.lines);
    // pool-tie draws come from the seed too, so counts may differ from seed 0's; the rule holds on each run's own counts
    for (const l of r1.lines) {
      const top = Math.max(...l.counts);
      expect(l.counts[l.predicted]).toBe(top);
      if (!l.tied) expect(l.predicted).toBe(l.counts.indexOf(top));
    }
    expect(r1.lines.some((l) => !l.tied)).toBe(true);
    const seed1First = await evalRun(['--seed', '1', '--eval-batch', '40']);
    expect(seed1First.lines.map((l) => l.counts)).toEqual(r1.lines.map((l) => l.counts));
    expect(r1.lines.some((l, i) => l.predicted !== seed1First.lines[i]!.predicted)).toBe(true); // some tie went elsewhere
  });

  it('plif plot draws the confusion matrix of the run and of --confusion FILE', async () => {
    const { confusionFile } = await evalRun(['--limit-test', '20']);
    const own = await plif(['plot', run, '--no-png']).exited;
    expect(own.code).toBe(0);
    const svg = readFileSync(join(run, 'plots', 'confusion.svg'), 'utf8');
    expect(svg).toMatch(/^<svg/);
    expect(svg).toContain('test pass of epoch 0');
    const out = mkdtempSync(join(tmpdir(), 'plif-plot-'));
    const given = await plif(['plot', run, '--confusion', confusionFile, '--out', out]).exited;
    expect(given.code).toBe(0);
    const svg2 = readFileSync(join(out, 'confusion.svg'), 'utf8');
    expect(svg2).toContain('20 samples');
    expect(svg2).toContain('best.safetensors');
    expect(existsSync(join(out, 'confusion.png'))).toBe(true);
    const bad = await plif(['plot', run, '--confusion', join(run, 'config.json')]).exited;
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/not a confusion matrix record/);
  });

  it('bad tie flags are usage errors', async () => {
    const r = await plif(['eval', '--checkpoint', join(run, 'best.safetensors'), '--ties', 'last']).exited;
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--ties must be one of first, random/);
    const t = await plif(['train', '--preset', 'fmnist-small', '--pool-ties', 'max']).exited;
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/--pool-ties must be one of first, random/);
  });
});
