// Live figures of the page: loss and accuracy per batch and per epoch, tau of every PLIF layer (the paper's
// Fig. 7) as SVG from the library's charts (training/charts.ts); firing-rate maps of the first spiking layer
// (Fig. S2) and a spike raster of one test sample through the layers, drawn on canvases.
import { lineChart, type ChartOptions, type Series } from '../training/charts.js';
import type { FiringMaps } from '../training/evaluate.js';
import type { EpochMetrics } from '../training/engine.js';
import type { SpikeRaster, StepReport } from './session.js';

/** At most `max` points: means of equal runs of consecutive points (the last point kept as it is). */
export function thin(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points;
  const per = Math.ceil(points.length / max);
  const out: [number, number][] = [];
  for (let i = 0; i < points.length; i += per) {
    const chunk = points.slice(i, i + per);
    out.push([chunk[chunk.length - 1]![0], chunk.reduce((s, p) => s + p[1], 0) / chunk.length]);
  }
  return out;
}

/**
 * The page's chart size: drawn about 1:1 in a column of the page's grid (at least 560 px wide, index.html), so
 * that tick labels show at 12 px or more.
 */
export const PAGE_CHART: ChartOptions = { width: 600, height: 380, fontSize: 12 };

/** The global step number of a step report (batches of earlier epochs counted in). */
export const stepNumber = (r: StepReport) => r.epoch * r.batches + r.batch;

export function lossChart(steps: readonly StepReport[], epochs: readonly EpochMetrics[], batchesPerEpoch: number): string {
  const series: Series[] = [{ name: 'batch loss', points: thin(steps.map((r) => [stepNumber(r), r.loss]), 300) }];
  if (epochs.length) series.push({ name: 'epoch (train)', points: epochs.map((m) => [(m.epoch + 1) * batchesPerEpoch, m.train_loss]) });
  return lineChart('Loss (MSE of firing rates)', 'training step', 'loss', series, '', { ...PAGE_CHART, yMin: 0 });
}

export function accuracyChart(steps: readonly StepReport[], epochs: readonly EpochMetrics[], batchesPerEpoch: number): string {
  const series: Series[] = [{ name: 'batch', points: thin(steps.map((r) => [stepNumber(r), 100 * r.acc]), 300) }];
  if (epochs.length) {
    series.push({ name: 'epoch (train)', points: epochs.map((m) => [(m.epoch + 1) * batchesPerEpoch, 100 * m.train_acc]) });
    series.push({ name: 'epoch (test)', points: epochs.map((m) => [(m.epoch + 1) * batchesPerEpoch, 100 * m.test_acc]) });
  }
  return lineChart('Accuracy', 'training step', 'accuracy (%)', series, '%', { ...PAGE_CHART, yMin: 0, yMax: 100 });
}

/** tau of every PLIF layer after each step (Fig. 7 of the paper, per step instead of per epoch). */
export function tauChart(steps: readonly StepReport[], tau0: number): string {
  const layers = [...new Set(steps.flatMap((r) => r.tau.map((t) => t.layer)))];
  const series: Series[] = layers.map((layer, i) => ({
    name: `tau(${i + 1}) layer ${layer}`,
    points: thin([[0, tau0], ...steps.flatMap((r) => r.tau.filter((t) => t.layer === layer).map((t) => [stepNumber(r), t.tau] as [number, number]))], 300),
  }));
  return lineChart('Membrane time constant tau', 'training step', 'tau', series, '', { ...PAGE_CHART, yMin: 1 });
}

/** Firing-rate maps (Fig. S2): one row per test sample, one tile per channel (the first `channels`); 0 white, 1 black. */
export function drawFiringMaps(canvas: HTMLCanvasElement, maps: FiringMaps, classes: readonly string[], channels = 8): void {
  const [C, h, w] = maps.shape.length === 3 ? (maps.shape as [number, number, number]) : [1, 1, maps.shape[0] ?? 1];
  const nc = Math.min(C, channels);
  const zoom = Math.max(1, Math.floor(56 / Math.max(h, w)));
  const tile = Math.max(h, w) * zoom;
  const gap = 6;
  const left = 120;
  const top = 34;
  canvas.width = left + nc * (tile + gap) + 10;
  canvas.height = top + maps.samples.length * (tile + gap) + 6;
  const g = canvas.getContext('2d')!;
  g.fillStyle = 'white';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = '#222';
  g.font = '13px sans-serif';
  g.fillText(`Firing rates of layer ${maps.layer} (${maps.token}), first ${nc} of ${C} channels`, 6, 16);
  g.font = '12px sans-serif';
  for (let c = 0; c < nc; c++) g.fillText(`ch ${c}`, left + c * (tile + gap) + tile / 2 - 10, top - 4);
  maps.samples.forEach((s, row) => {
    const y0 = top + row * (tile + gap);
    g.fillStyle = '#222';
    g.fillText(`#${s.index} ${classes[s.label] ?? s.label}`, 6, y0 + tile / 2 + 4);
    for (let c = 0; c < nc; c++) {
      const img = g.createImageData(w * zoom, h * zoom);
      for (let y = 0; y < h * zoom; y++)
        for (let x = 0; x < w * zoom; x++) {
          const r = Math.min(1, Math.max(0, s.rates[c * h * w + Math.floor(y / zoom) * w + Math.floor(x / zoom)]!));
          const v = Math.round(255 * (1 - r));
          img.data.set([v, v, v, 255], (y * w * zoom + x) * 4);
        }
      g.putImageData(img, left + c * (tile + gap), y0);
    }
  });
}

/** Spike raster of one test sample: a panel per spiking layer, time steps across, neurons down, a dot per spike. */
export function drawRaster(canvas: HTMLCanvasElement, r: SpikeRaster, classes: readonly string[]): void {
  const colW = 14;
  const panelW = r.T * colW;
  const gap = 60;
  const top = 62;
  const rows = Math.max(...r.layers.map((l) => l.shown), 8);
  const rowH = Math.max(1, Math.min(4, Math.floor(360 / rows)));
  // two lines, so that the canvas stays narrow enough to be drawn 1:1 in a column of the page
  const title = [`Spikes of test sample #${r.sample} (${classes[r.label] ?? r.label}, predicted ${classes[r.prediction] ?? r.prediction}):`, 'its firing neurons in each spiking layer'];
  canvas.width = Math.max(20 + r.layers.length * (panelW + gap), 12 + 7.5 * Math.max(...title.map((t) => t.length)));
  canvas.height = top + rows * rowH + 30;
  const g = canvas.getContext('2d')!;
  g.fillStyle = 'white';
  g.fillRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = '#222';
  g.font = '13px sans-serif';
  title.forEach((t, i) => g.fillText(t, 6, 16 + 17 * i));
  r.layers.forEach((l, i) => {
    const x0 = 20 + i * (panelW + gap);
    g.fillStyle = '#222';
    g.font = '12px sans-serif';
    g.fillText(`${l.layer} ${l.token}`, x0, top - 14);
    g.fillText(`${l.active} of ${l.neurons} fire`, x0, top - 3);
    g.strokeStyle = '#bbb';
    g.strokeRect(x0 - 0.5, top - 0.5, panelW + 1, l.shown * rowH + 1);
    g.fillStyle = '#1f77b4';
    for (let t = 0; t < r.T; t++) for (let j = 0; j < l.shown; j++) if (l.spikes[t * l.shown + j]) g.fillRect(x0 + t * colW + 2, top + j * rowH, colW - 4, Math.max(1, rowH - (rowH > 2 ? 1 : 0)));
    g.fillStyle = '#555';
    g.fillText('t →', x0, top + l.shown * rowH + 14);
  });
}
