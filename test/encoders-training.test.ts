// Short training runs with each encoder of Supplementary 10 learn, and the encoder is stored in the run
// and its checkpoint (the encoders themselves: encoders.test.ts).
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../backends/cpu/index.js';
import { main } from '../cli/dispatch.js';
import { trainConfig } from '../training/config.js';
import { runTraining } from '../training/loop.js';
import { runPaths } from '../training/rundir.js';
import { capture } from './capture.js';
import { withoutTimes, writeTinyFashionMnist } from './training/fixtures.js';

describe('short runs with each encoder learn', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = writeTinyFashionMnist(160, 50);
  });
  for (const encoder of ['direct', 'poisson', 'latency'] as const) {
    it(`--encoder ${encoder}: above chance after a few epochs, stored in the run and its checkpoint`, { timeout: 120_000 }, async () => {
      const out = mkdtempSync(join(tmpdir(), `plif-enc-${encoder}-`));
      // one spike per pixel drives the network less than the other encoders: latency starts silent and
      // learns more slowly (here with a larger step and one more epoch)
      const schedule = encoder === 'latency' ? ['--epochs', '4', '--lr', '0.003'] : ['--epochs', '3'];
      const { code, err } = await capture(() =>
        main(['train', '--preset', 'fmnist-small', '--data-dir', dataDir, '--encoder', encoder, '--T', '4', ...schedule, '--eval-batch', '25', '--seed', '1', '--out', out, '--json']),
      );
      expect(code, err).toBe(0);
      const cfg = JSON.parse(readFileSync(runPaths(out).config, 'utf8'));
      expect(cfg.config.encoder).toBe(encoder);
      expect(cfg.network.encoder).toBe(encoder);
      // plif eval uses the encoder the checkpoint was trained with (10 classes: chance is 10%)
      const ev = await capture(() => main(['eval', '--checkpoint', runPaths(out).last, '--data-dir', dataDir, '--json']));
      expect(ev.code, ev.err).toBe(0);
      const r = JSON.parse(ev.out);
      expect(r.encoder).toBe(encoder);
      expect(r.samples).toBe(50);
      expect(r.accuracy).toBeGreaterThanOrEqual(0.4);
      if (encoder === 'poisson') {
        // evaluated with the other spike encoder; not with the direct one, whose inputs are normalised images
        const lat = await capture(() => main(['eval', '--checkpoint', runPaths(out).last, '--data-dir', dataDir, '--encoder', 'latency', '--json']));
        expect(lat.code, lat.err).toBe(0);
        expect(JSON.parse(lat.out).encoder).toBe('latency');
        const direct = await capture(() => main(['eval', '--checkpoint', runPaths(out).last, '--data-dir', dataDir, '--encoder', 'direct']));
        expect(direct.code).toBe(2);
        expect(direct.err).toContain('was trained with the poisson encoder, whose inputs are spikes');
      }
    });
  }

  it('a run with the poisson encoder resumes to exactly the metrics of an uninterrupted one', { timeout: 120_000 }, async () => {
    const config = trainConfig({ preset: 'fmnist-small', dataDir, encoder: 'poisson', T: 2, epochs: 2, limitTrain: 64, limitTest: 20, evalBatch: 20, seed: 4 });
    const a = mkdtempSync(join(tmpdir(), 'plif-enc-a-'));
    const full = await runTraining({ config, backend: cpuBackend(), backendInfo: {}, outDir: a, resume: false, version: 'test' });
    const bdir = mkdtempSync(join(tmpdir(), 'plif-enc-b-'));
    let n = 0;
    const first = await runTraining({ config, backend: cpuBackend(), backendInfo: {}, outDir: bdir, resume: false, version: 'test', shouldStop: () => n++ === 6 });
    expect(first.status).toBe('interrupted');
    const rest = await runTraining({ config, backend: cpuBackend(), backendInfo: {}, outDir: bdir, resume: true, version: 'test' });
    expect(rest.status).toBe('done');
    expect(withoutTimes(rest.metrics)).toEqual(withoutTimes(full.metrics));
  });
});
