// plif eval: test accuracy (overall and per class) of a checkpoint, in eval mode (BN running statistics).
import { DATASET_NAMES, type DatasetName } from '../../data/index.js';
import { checkFits, TooLargeError } from '../../core/network/memory.js';
import { estimateMemory } from '../../core/network/shapes.js';
import { loadCheckpoint } from '../../training/checkpoint.js';
import { ENCODER_NAMES, isSpikeEncoder } from '../../core/encoders.js';
import { foldBatchNorm, withEncoder } from '../../core/network/fold.js';
import { evaluate } from '../../training/evaluate.js';
import { networkConfigOf } from '../../training/loop.js';
import { openSource } from '../../training/source.js';
import { choiceFlag, intFlag, parseFlags, UsageError, withUsage } from '../args.js';
import { openBackend, resolveThreads } from '../backend.js';

const HELP = `usage: plif eval --checkpoint FILE [options]

  --checkpoint FILE   a checkpoint written by plif train (last.safetensors, best.safetensors)
  --dataset NAME      ${DATASET_NAMES.join(', ')} (default: the one it was trained on)
  --data-dir DIR      where the dataset's files are
  --limit-test N      evaluate on the first N test samples
  --eval-batch N      batch size (64)
  --backend NAME      cpu (default) | gpujs | gpujs:MODE
  --threads N         CPU backend threads (default: $PLIF_THREADS, else the machine's cores); results do
                      not depend on it
  --encoder NAME      direct | poisson | latency (default: the one it was trained with)
  --fold-bn           fold each BN into the conv before it (Sec. 4.1): one conv with a bias
  --json              print one JSON object
`;

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
      json: { type: 'boolean' },
    });
    const threads = resolveThreads(f.threads);
    if (f.checkpoint === undefined) throw new UsageError('--checkpoint FILE is required');
    const limit = intFlag('limit-test', f['limit-test']);
    const evalBatch = intFlag('eval-batch', f['eval-batch']) ?? 64;
    const opened = await openBackend(f.backend ?? 'cpu', { threads }).catch((err: Error) => {
      throw new UsageError(`--backend ${f.backend}: ${err.message}`);
    });
    try {
      const loaded = await loadCheckpoint(f.checkpoint, opened.backend);
      const meta = loaded.meta;
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
        const r = await evaluate(net, src, Uint32Array.from({ length: n }, (_, i) => i), evalBatch, {
          progress: f.json || !process.stderr.isTTY ? undefined : (done, total) => process.stderr.write(`\r${done}/${total}`),
        });
        if (!f.json && process.stderr.isTTY) process.stderr.write('\r');
        if (f.json) {
          process.stdout.write(
            JSON.stringify({ checkpoint: f.checkpoint, dataset, encoder: net.config.encoder, fold_bn: Boolean(f['fold-bn']), samples: r.total, accuracy: r.accuracy, correct: r.correct, per_class: r.perClass, tau: meta.taus, backend: opened.info }) + '\n',
          );
        } else {
          const w = Math.max(...r.perClass.map((c) => c.class.length));
          process.stdout.write(`${f.checkpoint} on ${dataset} test (${r.total} samples): accuracy ${(100 * r.accuracy).toFixed(2)}% (${r.correct}/${r.total})\n`);
          for (const c of r.perClass) process.stdout.write(`  ${c.class.padEnd(w)}  ${(100 * c.accuracy).toFixed(2).padStart(6)}%  (${c.correct}/${c.total})\n`);
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
