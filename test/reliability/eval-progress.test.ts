// plif eval --backend gpujs on a terminal shows a labelled counter with rate and ETA after every batch, as
// plif train shows its bar (issue 25, item 9: it printed nothing for more than 2 minutes on 10000 images),
// and erases it before the report. The built CLI on a pseudo-terminal (test/cli-child.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasScript, plifOnTerminal, renderTerminal } from '../cli-child.js';
import { writeTinyFashionMnist } from '../training/fixtures.js';
import { ensureBuilt, plifRun } from './helpers.js';

let dir: string;
let data: string;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'plif-eval-progress-'));
  data = writeTinyFashionMnist(16, 30);
  const r = await plifRun(['train', '--preset', 'fmnist-small', '--data-dir', data, '--limit-train', '16', '--limit-test', '10', '--epochs', '1', '--out', join(dir, 'run')]);
  if (r.code !== 0) throw new Error(`the run failed:\n${r.out}${r.err}`);
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasScript)('plif eval --backend gpujs on a terminal', () => {
  it('draws "evaluating on ... test: done/total samples (%) | samples/s | ETA" after each batch, then erases it', async () => {
    const r = await plifOnTerminal(['eval', '--checkpoint', join(dir, 'run', 'last.safetensors'), '--data-dir', data, '--backend', 'gpujs', '--eval-batch', '10']).exited;
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/evaluating on fashion-mnist test: 0\/30 samples \(0%\) \| - samples\/s \| ETA \?/);
    for (const done of [10, 20]) expect(r.out).toMatch(new RegExp(`evaluating on fashion-mnist test: ${done}/30 samples \\(${Math.floor((100 * done) / 30)}%\\) \\| [\\d.]+ samples/s \\| ETA \\d+s`));
    expect(r.out).toMatch(/evaluating on fashion-mnist test: 30\/30 samples \(100%\) \| [\d.]+ samples\/s \| ETA 0s/);
    const screen = renderTerminal(r.out);
    expect(screen.some((l) => l.includes('evaluating on')), screen.join('\n')).toBe(false);
    expect(screen[0]).toMatch(/on fashion-mnist test \(30 samples\): accuracy [\d.]+% \(\d+\/30\)$/);
  }, 300_000);
});
