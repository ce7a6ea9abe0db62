// Evaluation with BN folded into the convolutions (Sec. 4.1) against the unfolded network: the same
// checkpoint, the same test images, per-sample predictions compared and both passes timed.
//   node dist/bench/fold-bn.js CHECKPOINT [--limit N] [--batch B] [--repeat R]
import { cpuBackend } from '../backends/cpu/index.js';
import { isSpikeEncoder } from '../core/encoders.js';
import { foldBatchNorm } from '../core/network/fold.js';
import type { Network } from '../core/network/network.js';
import { inferBatch } from '../core/network/train.js';
import { predict } from '../core/loss.js';
import { Rng } from '../core/rng.js';
import { makeBatches } from '../data/index.js';
import { checkpointTraining, loadCheckpointFile } from '../training/checkpoint.js';
import { openSource } from '../training/source.js';

async function predictions(net: Network, x: (idx: Uint32Array) => Promise<Float32Array>, batches: Uint32Array[]): Promise<{ pred: Int32Array; seconds: number }> {
  const n = batches.reduce((a, b) => a + b.length, 0);
  const pred = new Int32Array(n);
  const rng = net.config.encoder === 'poisson' ? Rng.seeded(0) : null;
  let at = 0;
  let seconds = 0;
  for (const idx of batches) {
    const input = await x(idx);
    const t0 = performance.now();
    const p = predict(await inferBatch(net, input, idx.length, rng), net.config.T, idx.length, net.config.classes, net.spikesPerClass());
    seconds += (performance.now() - t0) / 1000;
    pred.set(p, at);
    at += idx.length;
  }
  return { pred, seconds };
}

async function main(argv: string[]): Promise<void> {
  const path = argv[0];
  if (!path) throw new Error('usage: fold-bn CHECKPOINT [--limit N] [--batch B] [--repeat R]');
  const opt = (name: string, d: number) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : d);
  const b = cpuBackend();
  const plain = await loadCheckpointFile(b, path);
  const folded = await loadCheckpointFile(b, path);
  foldBatchNorm(folded.net);
  const dataset = checkpointTraining(plain, path)?.config.dataset ?? 'fashion-mnist';
  const src = await openSource(dataset, 'test', { intensities: isSpikeEncoder(plain.net.config.encoder) });
  const n = Math.min(src.n, opt('limit', src.n));
  const batches = makeBatches(Uint32Array.from({ length: n }, (_, i) => i), opt('batch', 64), { dropLast: false });
  const x = (idx: Uint32Array) => src.batch(idx, plain.net.config.T, null);
  const rounds = opt('repeat', 1);
  let tPlain = 0;
  let tFolded = 0;
  let differ = -1;
  for (let r = 0; r < rounds; r++) {
    const a = await predictions(plain.net, x, batches);
    const f = await predictions(folded.net, x, batches);
    tPlain += a.seconds;
    tFolded += f.seconds;
    differ = 0;
    for (let i = 0; i < n; i++) if (a.pred[i] !== f.pred[i]) differ++;
    const correct = (p: Int32Array) => p.reduce((s, c, i) => s + (c === src.labels[i] ? 1 : 0), 0);
    if (r === 0) console.log(`${n} samples: unfolded ${correct(a.pred)} correct, folded ${correct(f.pred)} correct, ${differ} predictions differ`);
  }
  console.log(`unfolded ${(tPlain / rounds).toFixed(2)} s, folded ${(tFolded / rounds).toFixed(2)} s per pass (${rounds} passes each): speed-up ${(tPlain / tFolded).toFixed(3)}x`);
  plain.net.dispose();
  folded.net.dispose();
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
