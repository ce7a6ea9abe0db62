// The page's training worker: opens the backend, loads the dataset, and trains (web/session.ts) off the
// page's thread, so the page stays responsive while a step runs. It answers the page's messages between
// batches (stop, checkpoint) and reports every step and epoch.
import { CheckpointError, loadCheckpoint } from '../core/checkpoint.js';
import { presetByName } from '../core/network/presets.js';
import { readTrainingMeta } from '../training/checkpoint-state.js';
import { datasetOfPreset, trainConfig, type TrainConfig } from '../training/config.js';
import { runIndices, type EpochMetrics } from '../training/engine.js';
import { staticSource } from '../training/static-source.js';
import { version } from '../package.json';
import { defaultBackend, openPageBackend, type OpenedBackend } from './backends.js';
import { fetchIdxFiles, idxDataset, type IdxDatasetName } from './data.js';
import type { FromWorker, PageSettings, ToWorker } from './protocol.js';
import { checkpointBytes, disposeRun, evaluateRun, newRun, spikeRaster, train, type RunState, type Sources } from './session.js';

const scope = globalThis as unknown as { postMessage(m: FromWorker, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

let opened: OpenedBackend | null = null;
let openedSpec = '';
let sources: { dataset: string; src: Sources } | null = null;
let run: RunState | null = null;
let stopRequested = false;
let busy = false;

const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

async function backendFor(spec: string): Promise<OpenedBackend> {
  let want = spec;
  let why: string | undefined;
  if (spec === '') {
    const choice = await defaultBackend();
    want = choice.backend;
    why = choice.why;
    post({ type: 'log', text: `backend: ${want}, because ${why}` });
  }
  if (opened && openedSpec === want) return opened;
  if (run) {
    disposeRun(run);
    run = null;
  }
  opened?.close();
  opened = null;
  opened = await openPageBackend(want);
  openedSpec = want;
  post({ type: 'backend', info: opened.info, ...(why ? { why } : {}) });
  return opened;
}

async function sourcesFor(dataset: string, base: string, dropped: Record<string, ArrayBuffer>): Promise<Sources> {
  if (sources && sources.dataset === dataset && Object.keys(dropped).length === 0) return sources.src;
  if (dataset !== 'fashion-mnist' && dataset !== 'mnist') throw new RangeError(`the page reads IDX datasets (fashion-mnist, mnist), not ${dataset}`);
  const name = dataset as IdxDatasetName;
  const { files, missing } = await fetchIdxFiles(base, name);
  for (const [f, bytes] of Object.entries(dropped)) files.set(f, new Uint8Array(bytes));
  const still = missing.filter((f) => !files.has(f));
  if (still.length) {
    post({ type: 'needFiles', missing: still });
    throw new Error(`the ${dataset} files ${still.join(', ')} are missing: start plif serve (it serves them), or drop them onto the page`);
  }
  const where = Object.keys(dropped).length ? 'dropped files' : new URL(`data/${name}/`, base).href;
  const src = { train: staticSource(await idxDataset(name, 'train', files, where)), test: staticSource(await idxDataset(name, 'test', files, where)) };
  sources = { dataset, src };
  post({ type: 'data', train: src.train.n, test: src.test.n, where });
  return src;
}

function configOf(s: PageSettings, backend: string): TrainConfig {
  const preset = presetByName(s.preset).name;
  return trainConfig({ preset, dataset: datasetOfPreset(preset), batch: s.batch, epochs: s.epochs, seed: s.seed, lr: s.lr, limitTrain: s.limitTrain, limitTest: s.limitTest, backend });
}

async function trainRun(src: Sources): Promise<void> {
  const r = run!;
  stopRequested = false;
  const idx = runIndices(r.config, src.train, src.test);
  post({ type: 'runSizes', train: idx.train.length, val: idx.val.length, test: idx.test.length, trainTotal: src.train.n, testTotal: src.test.n });
  post({ type: 'status', status: 'running' });
  const outcome = await train(r, src, {
    pause,
    shouldStop: () => stopRequested,
    events: {
      step: (report) => post({ type: 'step', report }),
      evalStart: (what, samples) => post({ type: 'evalStart', what, samples }),
      epoch: (e) => post({ type: 'epoch', metrics: e.metrics, firingMaps: e.firingMaps, raster: e.raster, classes: src.test.classes }),
    },
  });
  if (outcome.status === 'diverged') {
    post({ type: 'status', status: 'error', message: `diverged at epoch ${outcome.epoch}, batch ${outcome.batch + 1}: ${outcome.what} became ${outcome.value}; try a smaller learning rate` });
  } else post({ type: 'status', status: outcome.status === 'done' ? 'done' : 'stopped' });
}

async function handle(m: ToWorker): Promise<void> {
  switch (m.type) {
    case 'start': {
      const o = await backendFor(m.settings.backend);
      const config = configOf(m.settings, openedSpec);
      const src = await sourcesFor(config.dataset, m.base, m.files);
      if (run) disposeRun(run);
      run = null;
      run = newRun(o.backend, config);
      await trainRun(src);
      return;
    }
    case 'continue': {
      if (!run || !sources) throw new Error('no run to continue: start one or load a checkpoint');
      if (m.epochs > run.config.epochs) run.config = trainConfig({ ...run.config, epochs: m.epochs });
      await trainRun(sources.src);
      return;
    }
    case 'checkpoint': {
      if (!run) throw new Error('no run to download: start one or load a checkpoint');
      const bytes = await checkpointBytes(run, version);
      post({ type: 'checkpoint', bytes: bytes.buffer as ArrayBuffer, config: run.config, network: run.network, metrics: run.metrics, epoch: run.state.epoch, batch: run.state.batch }, [bytes.buffer as ArrayBuffer]);
      return;
    }
    case 'load': {
      const o = await backendFor(m.settings.backend);
      let ck;
      try {
        ck = loadCheckpoint(o.backend, new Uint8Array(m.bytes));
      } catch (e) {
        if (e instanceof CheckpointError) throw new CheckpointError(`${m.name}: ${e.message}`);
        throw e;
      }
      const { meta } = readTrainingMeta(ck, m.name, o.backend);
      if (run) disposeRun(run);
      run = null;
      const config = meta.training ? trainConfig({ ...meta.training.config, backend: openedSpec }) : configOf(m.settings, openedSpec);
      const src = await sourcesFor(config.dataset, m.base, m.files);
      if (JSON.stringify(meta.network.input) !== JSON.stringify([...src.test.shape])) throw new Error(`${m.name}: its network takes ${meta.network.input.join('x')} inputs, ${config.dataset} has ${src.test.shape.join('x')}`);
      if (ck.optimizer && meta.training) {
        const metrics: EpochMetrics[] = (m.metrics ?? []).slice(0, meta.training.state.epoch);
        run = { config, network: meta.network, net: ck.net, adam: ck.optimizer, state: meta.training.state, metrics };
      } else {
        // A model without training state: evaluate it; continuing needs the optimizer state.
        if (ck.optimizer) for (const t of [...ck.optimizer.m, ...ck.optimizer.v]) o.backend.dispose(t);
        run = null;
        const ev = await evaluateRunOf({ net: ck.net, config }, src);
        ck.net.dispose();
        post({ type: 'evaluation', ...ev, epoch: -1 });
        post({ type: 'status', status: 'loaded', message: `${m.name}: a model without training state (evaluated; it cannot be continued)` });
        return;
      }
      const ev = await evaluateRunOf(run, src);
      post({ type: 'evaluation', ...ev, epoch: run.state.epoch });
      post({ type: 'status', status: 'loaded', message: `${m.name}: epoch ${run.state.epoch}, batch ${run.state.batch}` });
      return;
    }
    case 'stop':
      return;
  }
}

async function evaluateRunOf(r: Pick<RunState, 'net' | 'config'>, src: Sources) {
  const e = await evaluateRun(r as RunState, src);
  const raster = await spikeRaster(r.net, src.test, 0, 256);
  return { accuracy: e.accuracy, total: e.total, firingMaps: e.firingMaps, raster, classes: src.test.classes };
}

scope.onmessage = (e) => {
  const m = e.data;
  if (m.type === 'stop') {
    stopRequested = true;
    return;
  }
  if (busy) {
    post({ type: 'log', text: `busy: '${m.type}' ignored (stop the run first)` });
    return;
  }
  busy = true;
  handle(m)
    .catch((err: unknown) => {
      if (err instanceof Error && err.stack) post({ type: 'log', text: err.stack });
      post({ type: 'status', status: 'error', message: err instanceof Error ? err.message : String(err) });
    })
    .finally(() => {
      busy = false;
    });
};
