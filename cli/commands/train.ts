// plif train: train a network of the paper (or fmnist-small) on a dataset, with progress, a run directory,
// checkpoints, and --resume.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PAPER_DEFAULTS } from '../../core/defaults.js';
import { capMessage, parseJsonBounded } from '../../core/quote.js';
import { parseStructure } from '../../core/network/parser.js';
import { PRESET_ALIASES, PRESETS, presetByName } from '../../core/network/presets.js';
import { POOL_TIE_RULES } from '../../core/network/layers.js';
import { SURROGATE_NAMES, surrogateByName, type SurrogateName } from '../../core/surrogates.js';
import { DATASET_NAMES, type DatasetName } from '../../data/index.js';
import { ENCODER_NAMES } from '../../core/encoders.js';
import { trainConfig, type TrainConfig } from '../../training/config.js';
import { TooLargeError } from '../../training/memory.js';
import { checkTrainingFits, runTraining } from '../../training/loop.js';
import { PARAMETER_LIMIT } from '../../training/recipe.js';
import { consoleReporter, epochName } from '../../training/progress.js';
import { runPaths } from '../../training/rundir.js';
import { choiceFlag, intFlag, numFlag, parseFlags, UsageError, withUsage, type ParsedFlags } from '../args.js';
import { openBackend, resolveThreads } from '../backend.js';
import { packageVersion } from '../version.js';

const D = PAPER_DEFAULTS;
/** The settings a run gets without flags (those that do not depend on the preset). */
const TRAIN_DEFAULTS = trainConfig({ preset: Object.keys(PRESETS)[0]! });
const HELP = `usage: plif train --preset NAME [options]

  --preset NAME       network of Table S1: ${Object.keys(PRESETS).join(', ')}
                      (any case; also ${Object.keys(PRESET_ALIASES).join(', ')})
  --dataset NAME      ${DATASET_NAMES.join(', ')} (default: the preset's)
  --data-dir DIR      where the dataset's files are (default: $PLIF_DATA/<dataset>, then well-known places)
  --T N               time steps (default: the preset's: 8 static, 10 N-MNIST, 20 DVS)
  --batch N           batch size (${D.batch})
  --epochs N          epochs (1)
  --lr X              Adam learning rate (${D.lr}), cosine annealing with T_max ${D.tMax} per epoch
  --channels N        replace every conv's channel count of the preset (e.g. a CPU-sized paper network)
  --neuron KIND       plif | lif | if: replace every neuron of the preset (ablation)
  --tau0 X            initial tau of PLIF, fixed tau of LIF (${D.tau0})
  --pool KIND         max | avg: replace the down-sampling pools (ablation)
  --encoder NAME      direct (the paper's learnable encoder, default) | poisson | latency: spikes made
                      from [0, 1] pixels before the network (Supplementary 10; static datasets)
  --pool-ties RULE    first (default, PyTorch's) | random (Fig. 5, seeded): which of several inputs firing
                      at once in a max-pooling window wins and gets the gradient; kept in checkpoints
  --loss FORM         rate (MSE of firing rates, default) | steps (per-step MSE, Sec. 3.7)
  --structure S       a Table S1 string replacing the preset's network, e.g.
                      '{c32k3s1-BN-PLIF-MPk2s2}*2-DP-FC256-PLIF-DP-FC100-PLIF-APk10s10' (the preset still
                      gives the dataset, input shape and T)
  --surrogate NAME[:ALPHA]
                      surrogate gradient (Eq. 13; default ${D.surrogate.name}:${D.surrogate.alpha}), NAME one of
                      ${SURROGATE_NAMES.join(', ')};
                      ALPHA defaults to the surrogate's own
  --vth X             firing threshold V_th (${D.vThreshold})
  --v-reset X|soft    hard reset potential V_reset (${D.vReset}; a negative one as --v-reset=-0.5), or soft:
                      V = H - S V_th
  --detach-reset, --no-detach-reset
                      detach the spike in the reset's gradient (Eq. 12; default: ${D.detachReset ? 'detached' : 'not detached'}, as the paper)
  --backend NAME      cpu (default) | gpujs | gpujs:MODE
  --threads N         CPU backend threads (default: $PLIF_THREADS, else the machine's cores); results do
                      not depend on it, so --resume may take another value
  --seed N            seed of initialisation, shuffling, dropout and augmentation (0)
  --val F             hold out this fraction of each class for validation (default ${TRAIN_DEFAULTS.val}: none;
                      Supplementary 7's protocol is --val 0.15); with --limit-train, a class-stratified
                      part of it of the matching size
  --limit-train N     use the first N training samples
  --limit-test N      evaluate on the first N test samples
  --eval-batch N      batch size of evaluation passes (${TRAIN_DEFAULTS.evalBatch})
  --out DIR           run directory (default runs/<preset>-<time>)
  --resume DIR        continue the run in DIR from its last checkpoint (same settings, but --backend may
                      change; a run stopped before its first checkpoint starts over)
  --json              one JSON object per epoch on stdout, nothing else there
`;

/** --structure, --surrogate NAME[:ALPHA], --vth, --v-reset X|soft, --detach-reset / --no-detach-reset as config fields. */
function neuronFlags(f: { structure?: string; surrogate?: string; vth?: string; 'v-reset'?: string; 'detach-reset'?: boolean; 'no-detach-reset'?: boolean }): Partial<TrainConfig> {
  const out: Partial<TrainConfig> = {};
  if (f.structure !== undefined) {
    try {
      parseStructure(f.structure);
    } catch (err) {
      throw new UsageError(`--structure: ${(err as Error).message}`);
    }
    out.structure = f.structure;
  }
  if (f.surrogate !== undefined) {
    const [name, alphaText, extra] = f.surrogate.split(':');
    if (extra !== undefined || !(SURROGATE_NAMES as readonly string[]).includes(name!)) {
      throw new UsageError(`--surrogate must be NAME or NAME:ALPHA with NAME one of ${SURROGATE_NAMES.join(', ')}, got '${f.surrogate}'`);
    }
    const alpha = alphaText === undefined ? surrogateByName(name!).alpha : numFlag('surrogate', alphaText, (n) => n > 0, 'NAME:ALPHA with ALPHA a number > 0');
    out.surrogate = { name: name as SurrogateName, alpha: alpha! };
  }
  if (f.vth !== undefined) out.vThreshold = numFlag('vth', f.vth, () => true, 'a number')!;
  if (f['v-reset'] !== undefined) out.vReset = f['v-reset'] === 'soft' ? null : numFlag('v-reset', f['v-reset'], () => true, "a number or 'soft'")!;
  if (f['detach-reset'] && f['no-detach-reset']) throw new UsageError('give --detach-reset or --no-detach-reset, not both');
  if (f['detach-reset'] || f['no-detach-reset']) out.detachReset = Boolean(f['detach-reset']);
  return out;
}

/** The flags of `plif train`. */
export const TRAIN_FLAGS = {
  preset: { type: 'string' },
  dataset: { type: 'string' },
  'data-dir': { type: 'string' },
  T: { type: 'string' },
  batch: { type: 'string' },
  epochs: { type: 'string' },
  lr: { type: 'string' },
  channels: { type: 'string' },
  neuron: { type: 'string' },
  tau0: { type: 'string' },
  pool: { type: 'string' },
  'pool-ties': { type: 'string' },
  loss: { type: 'string' },
  encoder: { type: 'string' },
  backend: { type: 'string' },
  seed: { type: 'string' },
  val: { type: 'string' },
  'limit-train': { type: 'string' },
  'limit-test': { type: 'string' },
  'eval-batch': { type: 'string' },
  out: { type: 'string' },
  resume: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
  structure: { type: 'string' },
  surrogate: { type: 'string' },
  vth: { type: 'string' },
  'v-reset': { type: 'string' },
  'detach-reset': { type: 'boolean' },
  'no-detach-reset': { type: 'boolean' },
} as const;

/** The settings of a new run given on the command line (--preset included), for trainConfig. */
export function trainSettings(f: ParsedFlags<typeof TRAIN_FLAGS>['values'] & { preset: string }): Partial<TrainConfig> & { preset: string } {
  const loss = choiceFlag('loss', f.loss, ['rate', 'steps'] as const);
  return {
    preset: f.preset,
    ...(f.dataset !== undefined ? { dataset: choiceFlag('dataset', f.dataset, DATASET_NAMES) as DatasetName } : {}),
    ...(f['data-dir'] !== undefined ? { dataDir: f['data-dir'] } : {}),
    ...(f.T !== undefined ? { T: intFlag('T', f.T) } : {}),
    ...(f.batch !== undefined ? { batch: intFlag('batch', f.batch) } : {}),
    ...(f.epochs !== undefined ? { epochs: intFlag('epochs', f.epochs) } : {}),
    ...(f.lr !== undefined ? { lr: numFlag('lr', f.lr, (n) => n > 0, 'a number > 0') } : {}),
    ...(f.channels !== undefined ? { channels: intFlag('channels', f.channels) } : {}),
    ...(f.neuron !== undefined ? { neuron: choiceFlag('neuron', f.neuron, ['plif', 'lif', 'if'] as const) } : {}),
    ...(f.tau0 !== undefined ? { tau0: numFlag('tau0', f.tau0, (n) => n > 1, 'a number > 1') } : {}),
    ...(f.pool !== undefined ? { pool: choiceFlag('pool', f.pool, ['max', 'avg'] as const) } : {}),
    ...(f['pool-ties'] !== undefined ? { poolTies: choiceFlag('pool-ties', f['pool-ties'], POOL_TIE_RULES) } : {}),
    ...(loss !== undefined ? { loss: loss === 'steps' ? 'per-step' : 'rate' } : {}),
    ...(f.encoder !== undefined ? { encoder: choiceFlag('encoder', f.encoder, ENCODER_NAMES) } : {}),
    ...(f.backend !== undefined ? { backend: f.backend } : {}),
    ...(f.seed !== undefined ? { seed: intFlag('seed', f.seed, 0) } : {}),
    ...(f.val !== undefined ? { val: numFlag('val', f.val, (n) => n >= 0 && n < 1, 'a fraction in [0, 1)') } : {}),
    ...(f['limit-train'] !== undefined ? { limitTrain: intFlag('limit-train', f['limit-train']) } : {}),
    ...(f['limit-test'] !== undefined ? { limitTest: intFlag('limit-test', f['limit-test']) } : {}),
    ...(f['eval-batch'] !== undefined ? { evalBatch: intFlag('eval-batch', f['eval-batch']) } : {}),
    ...neuronFlags(f),
  };
}

export async function run(argv: string[]): Promise<number> {
  return withUsage('train', HELP, argv, async () => {
    const { values: f } = parseFlags(argv, TRAIN_FLAGS);
    const threads = resolveThreads(f.threads);
    let config: TrainConfig;
    let outDir: string;
    const resume = f.resume !== undefined;
    if (resume) {
      outDir = f.resume!;
      const paths = runPaths(outDir);
      if (!existsSync(paths.config)) throw new UsageError(`--resume ${outDir}: no config.json there (not a run directory)`);
      if (!existsSync(paths.last)) {
        process.stderr.write(`plif train: ${outDir} has no checkpoint yet (the run stopped before its first one): starting it over from epoch 0\n`);
      }
      const settings = Object.keys(f).filter((k) => !['resume', 'json', 'epochs', 'data-dir', 'threads', 'backend'].includes(k));
      if (settings.length) throw new UsageError(`--resume takes the run's own settings; only --epochs, --data-dir, --backend, --threads and --json may be given with it (got --${settings.join(', --')})`);
      let saved: { config: TrainConfig };
      try {
        saved = parseJsonBounded(await readFile(paths.config, 'utf8')) as { config: TrainConfig };
        if (typeof saved !== 'object' || saved === null || typeof saved.config !== 'object' || saved.config === null) throw new Error('it holds no "config" object');
        config = trainConfig({ ...saved.config });
      } catch (err) {
        // a fault of the file, as a corrupt checkpoint is: exit 1
        throw new Error(`--resume ${outDir}: ${paths.config} is not a run's config.json (${capMessage((err as Error).message)})`);
      }
      // --backend: e.g. a run of the browser page on gpujs:webgl2 continues on this machine's cpu backend
      config = trainConfig({ ...saved.config, ...(f.epochs ? { epochs: intFlag('epochs', f.epochs)! } : {}), ...(f['data-dir'] ? { dataDir: f['data-dir'] } : {}), ...(f.backend ? { backend: f.backend } : {}) });
    } else {
      if (f.preset === undefined) throw new UsageError('--preset is required (or --resume DIR)');
      try {
        presetByName(f.preset); // names and aliases of core, in any case
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const partial = trainSettings({ ...f, preset: f.preset });
      try {
        config = trainConfig(partial);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      outDir = f.out ?? join('runs', `${config.preset}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
      // A directory with a checkpoint holds a run to continue; one without (a run stopped before its first
      // checkpoint) is started over, unless a live run holds its lock (checked by runTraining).
      if (existsSync(runPaths(outDir).last)) throw new UsageError(`--out ${outDir} already holds a run; continue it with --resume ${outDir} or choose another directory`);
    }
    try {
      checkTrainingFits(config);
    } catch (err) {
      if (err instanceof TooLargeError) throw new UsageError(err.message);
      if (config.structure !== null && err instanceof RangeError) throw new UsageError(`--structure: ${err.message}`);
      throw err;
    }
    let opened;
    try {
      opened = await openBackend(config.backend, { threads });
    } catch (err) {
      throw new UsageError(`--backend ${config.backend}: ${(err as Error).message}`);
    }
    // Ctrl-C (SIGINT) or SIGTERM: checkpoint after the current batch and exit 130 (143); a second one quits at once.
    // The message goes through the reporter, which ends the progress bar's line first (the bar restores the
    // cursor to its own line when it stops: a message written beside it would be overwritten).
    const reporter = consoleReporter({ json: Boolean(f.json) });
    let stop: NodeJS.Signals | null = null;
    const onSignal = (sig: NodeJS.Signals) => {
      if (stop) process.exit(sig === 'SIGTERM' ? 143 : 130); // a second one does not wait
      stop = sig;
      reporter.interrupt(`${sig === 'SIGINT' ? 'interrupt' : sig}: writing a checkpoint after this batch (Ctrl-C again to quit at once)`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    try {
      const outcome = await runTraining({
        config,
        backend: opened.backend,
        backendInfo: opened.info,
        outDir,
        resume,
        reporter,
        shouldStop: () => stop !== null,
        version: await packageVersion(),
      });
      const say = (s: string) => (f.json ? process.stderr : process.stdout).write(s + '\n');
      if (outcome.status === 'interrupted') {
        say(`interrupted: checkpoint written to ${outcome.checkpoint}; continue with plif train --resume ${outDir}`);
        return stop === 'SIGTERM' ? 143 : 130;
      }
      if (outcome.status === 'diverged') {
        const last = runPaths(outDir).last;
        const kept = existsSync(last)
          ? `the last good checkpoint ${last} is kept`
          : `no checkpoint was written (it diverged before the first one; ${outDir} can be started over)`;
        const value = outcome.what === 'the loss' || !Number.isFinite(outcome.value) ? String(outcome.value) : `${outcome.value.toExponential(2)}, beyond ±${PARAMETER_LIMIT.toExponential(0)}`;
        process.stderr.write(
          `plif train: diverged at epoch ${outcome.epoch}, batch ${outcome.batch + 1}: ${outcome.what} became ${value}; stopped, ${kept}. ` +
            `Try a smaller --lr (this run: --lr ${config.lr}).\n`,
        );
        return 1;
      }
      const last = outcome.metrics.at(-1);
      if (last) say(`done: ${outDir} (test accuracy ${(100 * last.test_acc).toFixed(2)}% after ${epochName(last.epoch, config.epochs)})`);
      return 0;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      opened.close();
    }
  });
}
