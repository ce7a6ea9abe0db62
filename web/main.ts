// The page: settings from the form or the URL (preset, backend, limit-train, limit-test, epochs, seed, batch, lr,
// autostart=1), a training worker (worker.ts), live figures, checkpoint download and load, dropped dataset files.
// Automation contract: #backend holds {"name","mode","renderer","software"}; #metrics one JSON line per
// finished epoch (the fields of metrics.jsonl); #steps one JSON line per step (epoch, batch, loss, acc, the
// epoch's training seconds so far and tau per PLIF layer); #status reads running, then
// done (or stopped, loaded), or starts with "error".
import { version } from '../package.json';
import { PAPER_DEFAULTS } from '../core/defaults.js';
import { presetByName } from '../core/network/presets.js';
import type { EpochMetrics } from '../training/engine.js';
import { canonicalIdxName } from './data.js';
import { accuracyChart, drawFiringMaps, drawRaster, lossChart, tauChart } from './figures.js';
import type { FromWorker, PageSettings, ToWorker } from './protocol.js';
import type { StepReport } from './session.js';
import { readTar, tarArchive } from './tar.js';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const input = (id: string) => $<HTMLInputElement>(id);

const worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
const send = (m: ToWorker, transfer: Transferable[] = []) => worker.postMessage(m, transfer);

/** Dataset files dropped onto the page, by canonical name. */
const dropped: Record<string, ArrayBuffer> = {};
let steps: StepReport[] = [];
let epochs: EpochMetrics[] = [];
let batchesPerEpoch = 1;
let tau0: number = PAPER_DEFAULTS.tau0;
/** Where the dataset's files came from (the last 'data' message). */
let dataWhere = '';

/** A duration for people: 42 s, 3 min 20 s, 2 h 05 min. */
function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return 'unknown';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}
let runName = 'plif-run';
/** What the next 'checkpoint' answer becomes: the run directory as .tar, or last.safetensors alone. */
let wantArchive = true;

function setStatus(s: string): void {
  $('status').textContent = s;
  $('status').className = s.startsWith('error') ? 'error' : '';
  const running = s === 'running';
  $<HTMLButtonElement>('start').disabled = running;
  $<HTMLButtonElement>('stop').disabled = !running;
  $<HTMLButtonElement>('continue').disabled = running || !(s === 'stopped' || s === 'loaded' || s === 'done');
  $<HTMLButtonElement>('download-run').disabled = running || !(s === 'stopped' || s === 'loaded' || s === 'done');
  $<HTMLButtonElement>('download-checkpoint').disabled = $<HTMLButtonElement>('download-run').disabled;
}

function log(text: string): void {
  $('log').textContent += text + '\n';
}

const positive = (v: string | null, name: string): number | null => {
  if (v === null || v.trim() === '') return null;
  const n = Number(v);
  if (!(Number.isFinite(n) && n > 0)) throw new RangeError(`${name} must be a number > 0, got '${v}'`);
  return n;
};

const intOrNull = (v: string | null, name: string, min: number): number | null => {
  if (v === null || v.trim() === '') return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got '${v}'`);
  return n;
};

/** Settings of the form. */
function settings(): PageSettings {
  const s: PageSettings = {
    preset: $<HTMLSelectElement>('preset').value,
    backend: $<HTMLSelectElement>('backend-select').value,
    epochs: intOrNull(input('epochs').value, 'epochs', 1) ?? 1,
    batch: intOrNull(input('batch').value, 'batch', 1) ?? 16,
    seed: intOrNull(input('seed').value, 'seed', 0) ?? 0,
    lr: positive(input('lr').value, 'lr') ?? 1e-3,
    limitTrain: intOrNull(input('limit-train').value, 'limit-train', 1),
    limitTest: intOrNull(input('limit-test').value, 'limit-test', 1),
  };
  presetByName(s.preset); // a clear error for an unknown preset
  return s;
}

/** The URL parameters of the automation contract into the form; true when autostart=1. */
function applyUrl(): boolean {
  const q = new URLSearchParams(location.search);
  const set = (param: string, id: string) => {
    const v = q.get(param);
    if (v !== null) ($(id) as HTMLInputElement | HTMLSelectElement).value = v;
  };
  const preset = q.get('preset');
  if (preset !== null) {
    const name = presetByName(preset).name;
    const sel = $<HTMLSelectElement>('preset');
    if (![...sel.options].some((o) => o.value === name)) sel.add(new Option(name, name));
    sel.value = name;
  }
  const backend = q.get('backend');
  if (backend !== null) {
    const sel = $<HTMLSelectElement>('backend-select');
    if (![...sel.options].some((o) => o.value === backend)) throw new RangeError(`unknown backend '${backend}' (gpujs:webgpu, gpujs:webgl2, gpujs:webgl, gpujs:cpu or cpu)`);
    sel.value = backend;
  }
  set('epochs', 'epochs');
  set('batch', 'batch');
  set('seed', 'seed');
  set('lr', 'lr');
  set('limit-train', 'limit-train');
  set('limit-test', 'limit-test');
  return q.get('autostart') === '1';
}

function resetFigures(): void {
  steps = [];
  epochs = [];
  $('metrics').textContent = '';
  $('steps').textContent = '';
  $('progress').textContent = '-';
  $('speed').textContent = '-';
}

function redraw(): void {
  if (steps.length === 0) return; // a chart needs points
  $('fig-loss').innerHTML = lossChart(steps, epochs, batchesPerEpoch);
  $('fig-acc').innerHTML = accuracyChart(steps, epochs, batchesPerEpoch);
  $('fig-tau').innerHTML = tauChart(steps, tau0);
}

function start(): void {
  try {
    const s = settings();
    resetFigures();
    runName = `${presetByName(s.preset).name}-web-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`;
    setStatus('running');
    send({ type: 'start', settings: s, base: location.href, files: { ...dropped } });
  } catch (e) {
    log((e as Error).stack ?? String(e));
    setStatus(`error: ${(e as Error).message}`);
  }
}

worker.onmessage = (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case 'backend': {
      $('backend').textContent = JSON.stringify(m.info);
      const note = $('renderer-note');
      note.textContent = `${m.info.name}${m.info.name === 'gpujs' ? `:${m.info.mode}` : ` (${m.info.mode})`} on ${m.info.renderer}${m.info.software ? ' (software: no GPU does the work, so its speed says nothing about a GPU)' : ''}`;
      note.className = m.info.software ? 'software' : '';
      $('backend-why').textContent = m.why ?? 'chosen in the form or the URL';
      // the first step of a gpu.js backend compiles its kernels (seconds to minutes on a software renderer)
      if (steps.length === 0 && $('status').textContent === 'running') $('progress').textContent = m.info.name === 'gpujs' ? 'compiling kernels… (the first step compiles every kernel)' : 'first step…';
      return;
    }
    case 'log':
      log(m.text);
      return;
    case 'data':
      dataWhere = m.where;
      $('data').textContent = `${m.train} train, ${m.test} test samples from ${m.where}`;
      return;
    case 'runSizes': {
      const part = (n: number, of: number, what: string) => (n === of ? `all ${of} ${what}` : `${n} of the ${of} ${what}`);
      $('data').textContent = `this run: trains on ${part(m.train, m.trainTotal, 'training samples')}${m.val ? `, validates on ${m.val} others of them` : ''}, tests on ${part(m.test, m.testTotal, 'test samples')}, from ${dataWhere}`;
      return;
    }
    case 'needFiles':
      $('drop').classList.add('over');
      log(`missing dataset files: ${m.missing.join(', ')}`);
      return;
    case 'step': {
      const r = m.report;
      batchesPerEpoch = r.batches;
      steps.push(r);
      $('steps').textContent += JSON.stringify({ epoch: r.epoch, batch: r.batch, loss: r.loss, acc: r.acc, seconds: r.seconds, tau: r.tau }) + '\n';
      const eta = (r.seconds / r.batch) * (r.batches - r.batch); // the epoch's training steps left, at the epoch's pace so far
      $('progress').textContent = `epoch ${r.epoch}, batch ${r.batch}/${r.batches}: loss ${r.meanLoss.toFixed(4)}, accuracy ${(100 * r.meanAcc).toFixed(2)}%, ETA of the epoch's training ${duration(eta)}`;
      $('speed').textContent = `${r.samplesPerS.toFixed(2)} samples/s`;
      redraw();
      return;
    }
    case 'evalStart':
      $('progress').textContent = `evaluating on ${m.samples} ${m.what === 'val' ? 'validation' : 'test'} samples`;
      return;
    case 'epoch':
      epochs.push(m.metrics);
      $('metrics').textContent += JSON.stringify(m.metrics) + '\n';
      $('progress').textContent = `epoch ${m.metrics.epoch}: test accuracy ${(100 * m.metrics.test_acc).toFixed(2)}%`;
      if (m.firingMaps) drawFiringMaps($<HTMLCanvasElement>('fig-maps'), m.firingMaps, m.classes);
      drawRaster($<HTMLCanvasElement>('fig-raster'), m.raster, m.classes);
      redraw();
      return;
    case 'evaluation':
      $('progress').textContent = `loaded checkpoint${m.epoch >= 0 ? ` (after ${m.epoch} epochs)` : ''}: test accuracy ${(100 * m.accuracy).toFixed(2)}% on ${m.total} samples`;
      if (m.firingMaps) drawFiringMaps($<HTMLCanvasElement>('fig-maps'), m.firingMaps, m.classes);
      drawRaster($<HTMLCanvasElement>('fig-raster'), m.raster, m.classes);
      return;
    case 'status':
      if (m.message) log(m.message);
      setStatus(m.status === 'error' ? `error: ${m.message ?? 'unknown'}` : m.status);
      return;
    case 'checkpoint': {
      const ck = new Uint8Array(m.bytes);
      if (wantArchive) {
        const enc = new TextEncoder();
        const config = JSON.stringify({ version, config: m.config, network: m.network, backend: JSON.parse($('backend').textContent || '{}'), created: new Date().toISOString() }, null, 2) + '\n';
        const metrics = m.metrics.map((x) => JSON.stringify(x) + '\n').join('');
        const tar = tarArchive(
          [
            { name: `${runName}/config.json`, bytes: enc.encode(config) },
            { name: `${runName}/metrics.jsonl`, bytes: enc.encode(metrics) },
            { name: `${runName}/last.safetensors`, bytes: ck },
          ],
          Date.now() / 1000,
        );
        save(tar, `${runName}.tar`);
      } else save(ck, `${runName}-epoch${m.epoch}-batch${m.batch}.safetensors`);
      return;
    }
  }
};

function save(bytes: Uint8Array, name: string): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

async function loadFile(f: File): Promise<void> {
  const bytes = new Uint8Array(await f.arrayBuffer());
  let ck: Uint8Array = bytes;
  let metrics: EpochMetrics[] | null = null;
  if (f.name.endsWith('.tar')) {
    const entries = readTar(bytes, f.name);
    const last = entries.find((e) => e.name.split('/').pop() === 'last.safetensors');
    if (!last) throw new Error(`${f.name}: holds no last.safetensors (not a run directory)`);
    ck = last.bytes;
    const mj = entries.find((e) => e.name.split('/').pop() === 'metrics.jsonl');
    if (mj) metrics = new TextDecoder().decode(mj.bytes).split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as EpochMetrics);
    runName = last.name.includes('/') ? last.name.split('/').slice(-2, -1)[0]! : f.name.replace(/\.tar$/, '');
  } else runName = f.name.replace(/\.safetensors$/, '');
  resetFigures();
  for (const x of metrics ?? []) {
    epochs.push(x);
    $('metrics').textContent += JSON.stringify(x) + '\n';
  }
  setStatus('running');
  send({ type: 'load', name: f.name, bytes: ck.buffer as ArrayBuffer, metrics, settings: settings(), base: location.href, files: { ...dropped } }, [ck.buffer as ArrayBuffer]);
}

async function takeDropped(files: FileList): Promise<void> {
  for (const f of Array.from(files)) {
    if (f.name.endsWith('.tar') || f.name.endsWith('.safetensors')) {
      await loadFile(f);
      continue;
    }
    const name = canonicalIdxName(f.name);
    if (!name) {
      log(`${f.name}: not one of the dataset's IDX files (train-images-idx3-ubyte.gz, ...), ignored`);
      continue;
    }
    dropped[name] = await f.arrayBuffer();
  }
  $('dropped').textContent = Object.keys(dropped).length ? `have: ${Object.keys(dropped).sort().join(', ')}` : '';
}

$('start').onclick = start;
$('stop').onclick = () => send({ type: 'stop' });
$('continue').onclick = () => {
  setStatus('running');
  send({ type: 'continue', epochs: Number(input('epochs').value) || 1 });
};
$('download-run').onclick = () => {
  wantArchive = true;
  send({ type: 'checkpoint' });
};
$('download-checkpoint').onclick = () => {
  wantArchive = false;
  send({ type: 'checkpoint' });
};
input('load').onchange = () => {
  const f = input('load').files?.[0];
  if (f) loadFile(f).catch((e: Error) => setStatus(`error: ${e.message}`));
};
const drop = $('drop');
document.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
document.addEventListener('dragleave', () => drop.classList.remove('over'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer?.files) takeDropped(e.dataTransfer.files).catch((err: Error) => setStatus(`error: ${err.message}`));
});
$<HTMLSelectElement>('preset').onchange = () => {
  tau0 = PAPER_DEFAULTS.tau0;
};

try {
  if (applyUrl()) start();
} catch (e) {
  setStatus(`error: ${(e as Error).message}`);
}
