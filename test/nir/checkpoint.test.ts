// A user's checkpoint through plif export and the test interpreter, on every test image of its dataset
// (minutes: run on demand), e.g. the README's main command:
//   PLIF_NIR_CHECKPOINT=runs/fmnist-small/last.safetensors npx vitest run test/nir/checkpoint.test.ts
// The interpreter accumulates conv sums in float64 and the library in float32, so a potential that lands
// within rounding of the threshold can flip a spike: the check is the accuracy of plif eval and predictions
// that agree on at least 99.9% of the images.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { predict } from '../../core/loss.js';
import { inferBatch } from '../../core/network/train.js';
import { main } from '../../cli/dispatch.js';
import { makeBatches } from '../../data/index.js';
import { checkpointTraining, loadCheckpointFile } from '../../training/checkpoint.js';
import { openSource } from '../../training/source.js';
import { capture } from '../capture.js';
import { predictFromOutputs, readNirGraph, simulate } from './interpreter.js';

const CHECKPOINT = process.env['PLIF_NIR_CHECKPOINT'];

describe.skipIf(!CHECKPOINT)('PLIF_NIR_CHECKPOINT through NIR (skipped unless set)', () => {
  it('the NIR graph of the checkpoint, simulated, scores what plif eval scores', { timeout: 3_600_000 }, async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'plif-nir-ck-')), 'net.nir');
    expect((await capture(() => main(['export', '--checkpoint', CHECKPOINT!, '--out', path]))).code).toBe(0);
    const g = await readNirGraph(path);
    const ck = await loadCheckpointFile(cpuBackend(), CHECKPOINT!);
    const net = ck.net;
    const meta = { training: checkpointTraining(ck, CHECKPOINT!) };
    if (net.config.encoder !== 'direct') throw new Error('this check feeds images: use a checkpoint trained with the direct encoder');
    const src = await openSource(meta.training?.config.dataset ?? 'fashion-mnist', 'test', meta.training?.config.dataDir ? { dataDir: meta.training.config.dataDir } : {});
    const { T, classes } = net.config;
    const per = net.config.input.reduce((a, d) => a * d, 1);
    let same = 0;
    let correctNir = 0;
    let correctLib = 0;
    for (const idx of makeBatches(Uint32Array.from({ length: src.n }, (_, i) => i), 250, { dropLast: false })) {
      const x = await src.batch(idx, T, null);
      const lib = predict(await inferBatch(net, x, idx.length), T, idx.length, classes, net.spikesPerClass());
      idx.forEach((id, k) => {
        const p = predictFromOutputs(simulate(g, () => x.subarray(k * per, (k + 1) * per), T));
        if (p === lib[k]) same++;
        if (p === src.labels[id]) correctNir++;
        if (lib[k] === src.labels[id]) correctLib++;
      });
    }
    net.dispose();
    const ev = JSON.parse((await capture(() => main(['eval', '--checkpoint', CHECKPOINT!, '--json']))).out);
    console.log(`${src.n} images: plif eval ${ev.correct} correct, the library's predictions ${correctLib}, the NIR interpreter ${correctNir}; ${src.n - same} predictions differ`);
    expect(correctLib).toBe(ev.correct);
    expect(same / src.n).toBeGreaterThanOrEqual(0.999);
    expect(Math.abs(correctNir - ev.correct) / src.n).toBeLessThanOrEqual(0.001);
  });
});
