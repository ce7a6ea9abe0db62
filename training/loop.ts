// `plif train`'s run directory around the epoch loop of training/engine.ts (which the page runs too): the lock,
// config.json, metrics.jsonl, the training curve, the checkpoints from which an interrupted run resumes to
// exactly the metrics of an uninterrupted one, and Ctrl-C between batches.
//
// Determinism: every epoch draws its shuffle, its dropout masks and its augmentations from RNGs seeded by
// (seed, epoch, stream), so a checkpoint needs only the epoch, the batch position and the two RNG states.
import { existsSync } from 'node:fs';
import { readFile, rm, rmdir } from 'node:fs/promises';
import { writeFileAtomic } from '../data/file-io.js';
import type { Backend } from '../core/backend.js';
import type { Network, NetworkConfig } from '../core/network/network.js';
import { checkFits } from './memory.js';
import { estimateMemory } from '../core/network/shapes.js';
import { disposeAdam, type AdamState } from '../core/network/train.js';
import { isSpikeEncoder } from '../core/encoders.js';
import type { TrainConfig } from './config.js';
import { confusionRecord } from './plot-confusion.js';
import type { SampleSource } from './sample-source.js';
import { openSource } from './source.js';
import { trainNetworkConfig } from './recipe.js';
import { runIndices, startRun, trainEpochs, type EngineRun, type EpochMetrics, type TrainRecord } from './engine.js';
import { loadTrainingCheckpoint, readTrainingState, saveTrainingCheckpoint, type TrainingState } from './checkpoint.js';
import { appendMetrics, lockRun, makeRunDir, readMetrics, removeStaleTempFiles, writeJsonAtomic, truncateMetrics, runPaths } from './rundir.js';

export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  samples: number;
  loss: number;
  acc: number;
  samplesPerS: number;
}

export interface Reporter {
  start?(info: { config: TrainConfig; network: NetworkConfig; backend: Record<string, unknown>; trainSamples: number; valSamples: number; testSamples: number; resumedFrom: { epoch: number; batch: number } | null; /** Where the dataset's files were read from. */ dataDir?: string }): void;
  epochStart?(epoch: number, batches: number, lr: number): void;
  batch?(p: BatchProgress): void;
  evalStart?(what: 'val' | 'test', samples: number): void;
  epochEnd?(m: EpochMetrics): void;
  checkpoint?(path: string, why: 'epoch' | 'best' | 'interrupt'): void;
  /** Something the user should know that is not an error (stale files removed, a cache given up). */
  note?(message: string): void;
}

export interface RunOptions {
  config: TrainConfig;
  backend: Backend;
  /** Backend description recorded in config.json (name, mode, renderer). */
  backendInfo: Record<string, unknown>;
  outDir: string;
  /** Continue the run in outDir from its last checkpoint. */
  resume: boolean;
  reporter?: Reporter;
  /** Polled between batches: when it returns true, the run checkpoints and stops (Ctrl-C). */
  shouldStop?: () => boolean;
  version: string;
}

export type RunOutcome =
  | { status: 'done'; metrics: EpochMetrics[] }
  | { status: 'interrupted'; metrics: EpochMetrics[]; checkpoint: string }
  | {
      status: 'diverged';
      metrics: EpochMetrics[];
      epoch: number;
      /** 0-based batch of the epoch whose step diverged. */
      batch: number;
      loss: number;
      /** What went bad: 'the loss', 'the gradient of parameter 3.a', 'parameter 0.weight'. */
      what: string;
      /** The offending value (NaN, ±Infinity, or a magnitude beyond PARAMETER_LIMIT). */
      value: number;
    };

/** Resolves on the next turn of the event loop (after pending I/O and signal callbacks). */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Refuses (TooLargeError, with the figure and the limit) a run whose training step or evaluation batch
 * cannot fit in this machine's memory, or needs a tensor larger than a typed array can hold; checked
 * from the shapes alone, before anything is allocated or written.
 */
export function checkTrainingFits(c: TrainConfig): void {
  const net = trainNetworkConfig(c);
  const what = `training ${c.preset}${c.channels ? ` with ${c.channels} channels` : ''} at T = ${net.T}`;
  const train = estimateMemory(net, c.batch, 'train');
  checkFits(`${what}, batch ${c.batch}`, train.bytes, train.largest, 'use a smaller --T, --batch or --channels');
  const evaluation = estimateMemory(net, c.evalBatch, 'eval');
  checkFits(`${what}, evaluation batch ${c.evalBatch}`, evaluation.bytes, evaluation.largest, 'use a smaller --eval-batch, --T or --channels');
}

/**
 * Makes best.safetensors agree with last.safetensors (whose state names the run's best epoch) after a
 * crash, before a resumed run continues. best.safetensors is the checkpoint written at the end of the best
 * epoch; when it holds another epoch, or is missing or unreadable, and last.safetensors is that very
 * checkpoint (it stands at the start of the epoch after the best one), last's bytes are copied to best.
 * A best one epoch ahead of last (a crash between the two writes) is left: the resumed run rewrites it.
 * Returns what was done (for a note), or null when the files agreed.
 */
async function agreeBestWithLast(paths: ReturnType<typeof runPaths>, last: TrainingState, epochs: number): Promise<string | null> {
  let held: TrainingState | null = null;
  let unreadable = '';
  if (existsSync(paths.best)) {
    try {
      held = await readTrainingState(paths.best);
    } catch (e) {
      unreadable = (e as Error).message.replace(`${paths.best}: `, '');
    }
  }
  const heldEpoch = held?.best?.epoch ?? null;
  const wanted = last.best;
  if (wanted !== null && heldEpoch === wanted.epoch && held!.best!.score === wanted.score) return null;
  // ahead: the best of an epoch last has not finished, which this run will finish (and find best again)
  if (heldEpoch !== null && heldEpoch >= last.epoch && heldEpoch < epochs) return null;
  const was = unreadable ? `was unreadable (${unreadable})` : held ? `held epoch ${heldEpoch ?? '?'}` : 'was missing';
  if (wanted === null) {
    if (!existsSync(paths.best)) return null;
    await rm(paths.best, { force: true });
    return `removed ${paths.best}: it ${was}, and ${paths.last} has finished no epoch yet`;
  }
  // (batch 0 means seen 0: a checkpoint's state holds seen = batch x batch size, checkpoint-state.ts)
  if (last.epoch === wanted.epoch + 1 && last.batch === 0) {
    await writeFileAtomic(paths.best, await readFile(paths.last));
    return `${paths.best} ${was} while the run's best is epoch ${wanted.epoch}: rewritten from ${paths.last}, the checkpoint of that epoch's end`;
  }
  return `${paths.best} ${was} while the run's best is epoch ${wanted.epoch}, whose weights no longer exist (a crash left them unwritten); it is kept as it is`;
}

export function networkConfigOf(c: TrainConfig, src: SampleSource): NetworkConfig {
  const net = trainNetworkConfig(c);
  const want = net.input.join('x');
  if (src.shape.join('x') !== want) {
    throw new RangeError(`preset '${c.preset}' takes ${want} inputs but dataset '${src.dataset}' has ${src.shape.join('x')} samples`);
  }
  if (net.static !== src.static) {
    throw new RangeError(`preset '${c.preset}' is for ${net.static ? 'static images' : 'event frames'}, dataset '${src.dataset}' has ${src.static ? 'static images' : 'events'}`);
  }
  return net;
}

/**
 * Trains (or, with resume, continues) the run in o.outDir. The directory is created and locked first
 * (RUN_DIR/train.lock holding this PID): a second run into the same directory is refused while this
 * one lives, so nothing is loaded before the directory is known to be writable and ours.
 */
export async function runTraining(o: RunOptions): Promise<RunOutcome> {
  checkTrainingFits(o.config);
  const existed = existsSync(o.outDir);
  await makeRunDir(o.outDir);
  const lock = await lockRun(o.outDir);
  try {
    return await trainLocked(o);
  } finally {
    lock.release();
    // a start that failed before writing anything (a missing dataset, say) leaves no empty directory behind
    if (!existed) await rmdir(o.outDir).catch(() => {});
  }
}

async function trainLocked(o: RunOptions): Promise<RunOutcome> {
  const c = o.config;
  const rep = o.reporter ?? {};
  const paths = runPaths(o.outDir);
  if (!o.resume && existsSync(paths.last)) {
    throw new Error(`${o.outDir} already holds a run with a checkpoint; continue it with --resume ${o.outDir} or choose another directory`);
  }
  const stale = await removeStaleTempFiles(o.outDir);
  if (stale.length) rep.note?.(`removed ${stale.length} temporary file(s) left by a run that was killed: ${stale.join(', ')}`);
  // A run that stopped before its first checkpoint (a crash, SIGKILL, a double Ctrl-C, divergence in
  // epoch 0) left config.json and nothing to continue from: resuming it starts it over.
  const resume = o.resume && existsSync(paths.last);
  const locate = { ...(c.dataDir ? { dataDir: c.dataDir } : {}), intensities: isSpikeEncoder(c.encoder) };
  const trainSrc = await openSource(c.dataset, 'train', locate);
  const testSrc = await openSource(c.dataset, 'test', locate);
  const netConfig = networkConfigOf(c, trainSrc);

  const idx = runIndices(c, trainSrc, testSrc);
  const { train: trainIdx, val: valIdx, test: testIdx } = idx;

  let net: Network;
  let adam: AdamState;
  let state: TrainingState;
  let metrics: EpochMetrics[] = [];
  if (resume) {
    // Everything is checked before any file is touched: the checkpoint's fields (loadTrainingCheckpoint),
    // then where it stands against this run's epochs and batches, then metrics.jsonl.
    const ck = await loadTrainingCheckpoint(o.backend, paths.last);
    try {
      if (JSON.stringify(ck.network) !== JSON.stringify(netConfig)) throw new Error(`cannot resume ${o.outDir}: its network differs from this configuration`);
      const perEpoch = Math.floor(trainIdx.length / c.batch);
      const { epoch, batch } = ck.state;
      if (epoch > c.epochs || (epoch === c.epochs && batch > 0)) {
        throw new Error(`cannot resume ${o.outDir}: ${paths.last} stands at epoch ${epoch}, batch ${batch}, beyond the run's ${c.epochs} epochs (give --epochs ${batch > 0 ? epoch + 1 : epoch} or more)`);
      }
      if (batch > perEpoch) throw new Error(`cannot resume ${o.outDir}: ${paths.last} stands at batch ${batch} of epoch ${epoch}, but an epoch of this run has ${perEpoch} batches`);
      metrics = (await readMetrics(paths.metrics)).slice(0, epoch) as unknown as EpochMetrics[];
      if (metrics.some((m, i) => m.epoch !== i)) throw new Error(`cannot resume ${o.outDir}: ${paths.metrics} does not hold epochs 0..${epoch - 1} in order`);
    } catch (e) {
      disposeAdam(o.backend, ck.adam);
      ck.net.dispose();
      throw e;
    }
    net = ck.net;
    adam = ck.adam;
    state = ck.state;
    await truncateMetrics(paths.metrics, metrics);
    // The curve up to the checkpoint; the points after it are recorded again, identically, as the run continues.
    const before = (r: TrainRecord) => r.epoch < state.epoch || (r.epoch === state.epoch && r.batch <= state.batch);
    await truncateMetrics(paths.trainCurve, ((await readMetrics(paths.trainCurve)) as unknown as TrainRecord[]).filter(before));
    const repaired = await agreeBestWithLast(paths, state, c.epochs);
    if (repaired) rep.note?.(repaired);
  } else {
    // a best.safetensors without last.safetensors is of a start that never reached its first checkpoint
    if (existsSync(paths.best)) {
      await rm(paths.best, { force: true });
      rep.note?.(`removed ${paths.best}, left by a start of this run that stopped before its first checkpoint`);
    }
    ({ net, adam, state } = startRun(o.backend, c, netConfig));
    await writeJsonAtomic(paths.config, { version: o.version, config: c, network: netConfig, backend: o.backendInfo, dataset: { dir: trainSrc.dir, classes: trainSrc.classes, train: trainIdx.length, val: valIdx.length, test: testIdx.length }, created: new Date().toISOString() });
    await truncateMetrics(paths.metrics, []);
    await truncateMetrics(paths.trainCurve, []);
  }
  rep.start?.({ config: c, network: netConfig, backend: o.backendInfo, trainSamples: trainIdx.length, valSamples: valIdx.length, testSamples: testIdx.length, resumedFrom: resume ? { epoch: state.epoch, batch: state.batch } : null, dataDir: trainSrc.dir });

  const run: EngineRun = { config: c, net, adam, state, metrics };
  const save = async (path: string, why: 'epoch' | 'best' | 'interrupt') => {
    await saveTrainingCheckpoint(path, net, adam, { config: c, state: run.state, version: o.version });
    rep.checkpoint?.(path, why);
  };
  try {
    const outcome = await trainEpochs(run, { train: trainSrc, test: testSrc }, idx, {
      // back to the event loop between batches: the batch's input may be ready at once and kernels may block
      // the thread, so without this a Ctrl-C handler would only run when the epoch ends
      pause: yieldToEventLoop,
      ...(o.shouldStop ? { shouldStop: o.shouldStop, evalStops: true } : {}),
      epochStart: (epoch, batches, lr) => rep.epochStart?.(epoch, batches, lr),
      step: (s) => {
        const st = run.state;
        rep.batch?.({ epoch: s.epoch, batch: s.batch, batches: s.batches, samples: st.seen, loss: st.lossSum / st.seen, acc: st.correct / st.seen, samplesPerS: st.seen / s.seconds });
      },
      curvePoint: (p) => appendMetrics(paths.trainCurve, p),
      evalStart: (what, samples) => rep.evalStart?.(what, samples),
      epochEnd: async (m, test, best) => {
        await appendMetrics(paths.metrics, m);
        if (test.firingMaps) await writeJsonAtomic(paths.firingMaps, test.firingMaps);
        await writeJsonAtomic(paths.confusion, confusionRecord(test, testSrc.classes, `test pass of epoch ${m.epoch}`));
        rep.epochEnd?.(m);
        // best before last: a crash between the two leaves best.safetensors one epoch ahead of last (as
        // metrics.jsonl is), which the resumed run rewrites identically, never behind what last names
        if (best) await save(paths.best, 'best');
        await save(paths.last, 'epoch');
      },
    });
    if (outcome.status === 'stopped') {
      await save(paths.last, 'interrupt');
      return { status: 'interrupted', metrics, checkpoint: paths.last };
    }
    return { ...outcome, metrics }; // done, or diverged with where and why
  } finally {
    disposeAdam(o.backend, adam);
    net.dispose();
  }
}
