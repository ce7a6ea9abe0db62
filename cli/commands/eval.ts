// plif eval: test accuracy (overall and per class) of a checkpoint, in eval mode (BN running statistics),
// decided on exact spike counts (core/readout.ts): tied samples, the confusion matrix, and optionally every
// sample's prediction and counts (--predictions FILE, JSON lines).
import { DATASET_NAMES, type DatasetName } from '../../data/index.js';
import { checkFits, TooLargeError } from '../../training/memory.js';
import { estimateMemory } from '../../core/network/shapes.js';
import { loadCheckpointFile, readTrainingMeta } from '../../training/checkpoint.js';
import { disposeAdam } from '../../core/network/train.js';
import { ENCODER_NAMES, isSpikeEncoder } from '../../core/encoders.js';
import { foldBatchNorm, withEncoder } from '../../core/network/fold.js';
import { DEFAULT_EVAL_BATCH } from '../../training/config.js';
import { evaluate } from '../../training/evaluate.js';
import { networkConfigOf } from '../../training/loop.js';
import { openSource } from '../../training/source.js';
import { choiceFlag, intFlag, parseFlags, UsageError, withUsage, checkOutputPaths } from '../args.js';
import { openBackend, resolveThreads } from '../backend.js';
import { TIE_RULES } from '../../core/readout.js';
import { writeFileAtomic } from '../../data/file-io.js';
import { confusionRecord } from '../../training/plot-confusion.js';
import { formatDuration } from '../../training/progress.js';

const HELP = `usage: plif eval --checkpoint FILE [options]

  --checkpoint FILE   a checkpoint written by plif train (last.safetensors, best.safetensors)
  --dataset NAME      ${DATASET_NAMES.join(', ')} (default: the one it was trained on)
  --data-dir DIR      where the dataset's files are
  --limit-test N      evaluate on the first N test samples
  --eval-batch N      batch size (${DEFAULT_EVAL_BATCH})
  --backend NAME      cpu (default) | gpujs | gpujs:MODE
  --threads N         CPU backend threads (default: $PLIF_THREADS, else the machine's cores); results do
                      not depend on it
  --encoder NAME      direct | poisson | latency (default: the one it was trained with)
  --fold-bn           fold each BN into the conv before it (Sec. 4.1): one conv with a bias
  --ties RULE         first (default) | random: the class predicted when several share the highest
                      spike count (random: seeded by --seed, the same whatever --eval-batch)
  --seed N            seed of random readout ties and of a network's random max-pool ties (0)
  --predictions FILE  write one JSON line per sample: index, label, predicted, counts (spike count of
                      each class over T), tied
  --confusion FILE    write the confusion matrix as JSON (plif plot RUN_DIR --confusion FILE draws it)
  --json              print one JSON object
`;

/** The progress line of an evaluation: what is evaluated, samples done of all, the rate and the ETA. */
export function evalProgress(dataset: string, done: number, total: number, seconds: number): string {
  const rate = seconds > 0 && done > 0 ? done / seconds : NaN;
  const eta = done >= total ? 0 : Number.isFinite(rate) ? (total - done) / rate : NaN;
  const percent = total > 0 ? Math.floor((100 * done) / total) : 100;
  return `evaluating on ${dataset} test: ${done}/${total} samples (${percent}%) | ${Number.isFinite(rate) ? rate.toFixed(1) : '-'} samples/s | ETA ${Number.isFinite(eta) ? formatDuration(eta) : '?'}`;
}

export async function run(argv: string[]): Promise<number> {
  return withUsage('eval', HELP, argv, async () => {
    const { values: f } = parseFlags(argv, {
      checkpoint: { type: 'string' },
      dataset: { type: 'string' },
      'data-dir': { type: 'string' },
      'limit-test': { type: 'string' },
      'eval-batch': { type: 'string' },
      backend: { type: 'string' },
      threads: { type: 'string' },
      encoder: { type: 'string' },
      'fold-bn': { type: 'boolean' },
      ties: { type: 'string' },
      seed: { type: 'string' },
      predictions: { type: 'string' },
      confusion: { type: 'string' },
      json: { type: 'boolean' },
    });
    const threads = resolveThreads(f.threads);
    if (f.checkpoint === undefined) throw new UsageError('--checkpoint FILE is required');
    const limit = intFlag('limit-test', f['limit-test']);
    const evalBatch = intFlag('eval-batch', f['eval-batch']) ?? DEFAULT_EVAL_BATCH;
    const ties = choiceFlag('ties', f.ties, TIE_RULES) ?? 'first';
    const seed = intFlag('seed', f.seed, 0) ?? 0;
    await checkOutputPaths({ '--predictions': f.predictions, '--confusion': f.confusion });
    const opened = await openBackend(f.backend ?? 'cpu', { threads }).catch((err: Error) => {
      throw new UsageError(`--backend ${f.backend ?? 'cpu'}: ${err.message}`);
    });
    try {
      const { ck: loaded, meta } = readTrainingMeta(await loadCheckpointFile(opened.backend, f.checkpoint), f.checkpoint, opened.backend);
      if (loaded.optimizer) disposeAdam(opened.backend, loaded.optimizer);
      let net = loaded.net;
      try {
        const encoder = choiceFlag('encoder', f.encoder, ENCODER_NAMES);
        if (encoder !== undefined && isSpikeEncoder(encoder) !== isSpikeEncoder(net.config.encoder)) {
          throw new UsageError(`--encoder ${encoder}: ${f.checkpoint} was trained with the ${net.config.encoder} encoder, whose inputs are ${isSpikeEncoder(net.config.encoder) ? 'spikes' : 'normalised images'}`);
        }
        if (encoder !== undefined) net = withEncoder(net, encoder);
        if (f['fold-bn']) foldBatchNorm(net);
        const need = estimateMemory(net.config, evalBatch, 'eval');
        try {
          checkFits(`evaluating ${f.checkpoint} (T = ${net.config.T}) in batches of ${evalBatch}`, need.bytes, need.largest, 'use a smaller --eval-batch');
        } catch (err) {
          if (err instanceof TooLargeError) throw new UsageError(err.message);
          throw err;
        }
        const dataset = (choiceFlag('dataset', f.dataset, DATASET_NAMES) ?? meta.training?.config.dataset) as DatasetName | undefined;
        if (!dataset) throw new UsageError(`${f.checkpoint} does not say which dataset it was trained on: give --dataset`);
        const dataDir = f['data-dir'] ?? meta.training?.config.dataDir ?? undefined;
        const src = await openSource(dataset, 'test', { ...(dataDir ? { dataDir } : {}), intensities: isSpikeEncoder(net.config.encoder) });
        if (meta.training) networkConfigOf({ ...meta.training.config, dataset }, src); // checks input shape and kind
        const n = Math.min(src.n, limit ?? src.n);
        // on a terminal: one line on stderr, redrawn after every batch, erased at the end
        const live = !f.json && Boolean(process.stderr.isTTY);
        const t0 = performance.now();
        const progress = (done: number, total: number) => process.stderr.write(`\r\x1b[K${evalProgress(dataset, done, total, (performance.now() - t0) / 1000)}`);
        if (live) progress(0, n);
        const r = await evaluate(net, src, Uint32Array.from({ length: n }, (_, i) => i), evalBatch, {
          ties,
          seed,
          keepSamples: f.predictions !== undefined,
          ...(live ? { progress } : {}),
        });
        if (live) process.stderr.write('\r\x1b[K');
        const confusion = confusionRecord(r, src.classes, f.checkpoint);
        if (f.predictions !== undefined) {
          const lines = r.samples!.map((s) => JSON.stringify({ index: s.index, label: s.label, predicted: s.predicted, counts: s.counts, tied: s.tied }) + '\n');
          await writeFileAtomic(f.predictions, new TextEncoder().encode(lines.join('')));
        }
        if (f.confusion !== undefined) await writeFileAtomic(f.confusion, new TextEncoder().encode(JSON.stringify(confusion, null, 2) + '\n'));
        if (f.json) {
          process.stdout.write(
            JSON.stringify({ checkpoint: f.checkpoint, dataset, encoder: net.config.encoder, fold_bn: Boolean(f['fold-bn']), samples: r.total, accuracy: r.accuracy, correct: r.correct, ties: r.ties, tie_rule: r.tieRule, pool_ties: net.config.poolTies, per_class: r.perClass, confusion: { classes: confusion.classes, matrix: confusion.matrix }, tau: meta.taus, backend: opened.info }) + '\n',
          );
        } else {
          const w = Math.max(...r.perClass.map((c) => c.class.length));
          process.stdout.write(`${f.checkpoint} on ${dataset} test (${r.total} samples): accuracy ${(100 * r.accuracy).toFixed(2)}% (${r.correct}/${r.total})\n`);
          for (const c of r.perClass) process.stdout.write(`  ${c.class.padEnd(w)}  ${(100 * c.accuracy).toFixed(2).padStart(6)}%  (${c.correct}/${c.total})\n`);
          process.stdout.write(`tied samples (highest spike count shared): ${r.ties} of ${r.total}, decided by the '${r.tieRule}' rule; max-pooling ties: '${net.config.poolTies}' (the checkpoint's)\n`);
          process.stdout.write(`confusion matrix (rows: label, columns: predicted):\n`);
          const cw = Math.max(4, ...confusion.matrix.flat().map((v) => String(v).length));
          process.stdout.write(`  ${''.padEnd(w)}  ${confusion.classes.map((_, j) => String(j).padStart(cw)).join(' ')}\n`);
          confusion.matrix.forEach((row, i) => process.stdout.write(`  ${confusion.classes[i]!.padEnd(w)}  ${row.map((v) => String(v).padStart(cw)).join(' ')}\n`));
          process.stdout.write(`tau per layer: ${meta.taus.map((t) => `${t.layer}: ${t.tau.toFixed(3)}`).join(', ')}\n`);
        }
        return 0;
      } finally {
        net.dispose();
      }
    } finally {
      opened.close();
    }
  });
}
