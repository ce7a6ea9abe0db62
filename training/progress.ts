// How a run reports: a progress bar per epoch on a terminal (samples/s, running loss and accuracy, ETA),
// plain log lines when the output is not a terminal, and with --json one JSON object per epoch on stdout
// and nothing else there (bars and logs then go to stderr).
import cliProgress from 'cli-progress';
import type { EpochMetrics, Reporter } from './loop.js';

export interface ReporterOptions {
  json: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
  /** Plain mode: a line every this many seconds at most (and at 10% steps). */
  logEverySeconds?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

export function epochSummary(m: EpochMetrics): string {
  const parts = [
    `epoch ${m.epoch}`,
    `lr ${m.lr.toExponential(2)}`,
    `train loss ${m.train_loss.toFixed(4)} acc ${pct(m.train_acc)}`,
    ...(m.val_acc !== undefined ? [`val acc ${pct(m.val_acc)}`] : []),
    `test acc ${pct(m.test_acc)}`,
    `tau ${m.tau.map((t) => t.tau.toFixed(3)).join(' ')}`,
    `rate ${m.firing_rate.map((r) => r.rate.toFixed(3)).join(' ')}`,
    `${formatDuration(m.seconds)} (${m.samples_per_s.toFixed(1)} samples/s)`,
  ];
  return parts.join(' | ');
}

export function consoleReporter(o: ReporterOptions): Reporter {
  const out = o.stdout ?? process.stdout;
  const err = o.stderr ?? process.stderr;
  const log = o.json ? err : out; // human-readable lines never go to a JSON stdout
  const tty = Boolean(log.isTTY);
  const every = o.logEverySeconds ?? 30;
  let bar: cliProgress.SingleBar | null = null;
  let lastLog = 0;
  let lastDecile = -1;
  let epochs = 0;
  const line = (s: string) => {
    if (bar) bar.stop();
    bar = null;
    log.write(s + '\n');
  };
  return {
    start(info) {
      epochs = info.config.epochs;
      const r = info.resumedFrom ? ` (resumed at epoch ${info.resumedFrom.epoch}, batch ${info.resumedFrom.batch})` : '';
      const b = info.backend;
      const where = b['mode']
        ? ` (${String(b['mode'])}: ${String(b['renderer'])}${b['software'] ? '; software rendering, not a GPU' : ''})`
        : typeof b['threads'] === 'number'
          ? ` (${b['threads']} thread${b['threads'] === 1 ? '' : 's'})`
          : '';
      line(`training ${info.config.preset} on ${info.config.dataset}: ${info.trainSamples} train, ${info.valSamples} validation, ${info.testSamples} test samples${info.dataDir ? ` from ${info.dataDir}` : ''}; T=${info.network.T}, batch ${info.config.batch}, backend ${info.config.backend}${where}${r}`);
    },
    epochStart(epoch, batches, lr) {
      lastLog = performance.now();
      lastDecile = -1;
      if (tty) {
        bar = new cliProgress.SingleBar(
          {
            stream: log,
            format: `epoch ${epoch} (${epoch + 1} of ${epochs}) |{bar}| {value}/{total} batches | {sps} samples/s | loss {loss} | acc {acc} | ETA {eta_formatted}`,
            barsize: 24,
            hideCursor: true,
            etaBuffer: 50,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(batches, 0, { sps: '-', loss: '-', acc: '-' });
      } else {
        line(`epoch ${epoch}: ${batches} batches, lr ${lr.toExponential(3)}`);
      }
    },
    batch(p) {
      if (bar) {
        bar.update(p.batch, { sps: p.samplesPerS.toFixed(1), loss: p.loss.toFixed(4), acc: pct(p.acc) });
        return;
      }
      const decile = Math.floor((10 * p.batch) / p.batches);
      const now = performance.now();
      if (decile > lastDecile || now - lastLog > every * 1000) {
        lastDecile = decile;
        lastLog = now;
        const eta = (p.batches - p.batch) * (p.samples / p.batch) / p.samplesPerS;
        line(`epoch ${p.epoch} batch ${p.batch}/${p.batches}: loss ${p.loss.toFixed(4)} acc ${pct(p.acc)} ${p.samplesPerS.toFixed(1)} samples/s ETA ${formatDuration(eta)}`);
      }
    },
    evalStart(what, samples) {
      line(`evaluating on ${samples} ${what === 'val' ? 'validation' : 'test'} samples`);
    },
    epochEnd(m) {
      line(epochSummary(m));
      if (o.json) out.write(JSON.stringify(m) + '\n');
    },
    checkpoint(path, why) {
      if (why !== 'epoch') line(`checkpoint (${why}): ${path}`);
    },
    note(message) {
      if (bar) bar.stop();
      bar = null;
      err.write(`note: ${message}\n`);
    },
  };
}
