// plif eval --fold-bn (Sec. 4.1) on a trained checkpoint gives the unfolded evaluation on every test sample.
// (On the README's Fashion-MNIST checkpoint, all 10000 test images: node dist/bench/fold-bn.js CHECKPOINT.)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { main } from '../cli/dispatch.js';
import { runPaths } from '../training/rundir.js';
import { capture } from './capture.js';
import { writeTinyFashionMnist } from './training/fixtures.js';

describe('plif eval --fold-bn on a trained checkpoint', () => {
  let dataDir: string;
  let run: string;
  beforeAll(async () => {
    dataDir = writeTinyFashionMnist(160, 60);
    run = mkdtempSync(join(tmpdir(), 'plif-fold-'));
    const r = await capture(() => main(['train', '--preset', 'fmnist-small', '--data-dir', dataDir, '--T', '4', '--epochs', '3', '--seed', '1', '--eval-batch', '30', '--out', run, '--json']));
    expect(r.code, r.err).toBe(0);
  }, 120_000);

  it('gives the unfolded evaluation: accuracy and every per-class count, on all test samples', async () => {
    const ev = async (...extra: string[]) => {
      const r = await capture(() => main(['eval', '--checkpoint', runPaths(run).last, '--data-dir', dataDir, '--json', ...extra]));
      expect(r.code, r.err).toBe(0);
      return JSON.parse(r.out);
    };
    const plain = await ev();
    const folded = await ev('--fold-bn');
    expect(plain.fold_bn).toBe(false);
    expect(folded.fold_bn).toBe(true);
    expect(folded.samples).toBe(60);
    expect(plain.accuracy).toBeGreaterThan(0.3); // trained: above the 10% of chance
    expect({ ...folded, fold_bn: false }).toEqual(plain);
  });
});
