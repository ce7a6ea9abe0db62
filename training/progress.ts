// How a run reports: a progress bar per epoch on a terminal (samples/s, running loss and accuracy, ETA),
// plain log lines when the output is not a terminal, and with --json one JSON object per epoch on stdout
// and nothing else there (bars and logs then go to stderr).
import cliProgress from 'cli-progress';
import type { EpochMetrics } from './engine.js';
import type { Reporter } from './loop.js';

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

/** 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, 21st, ... */
export function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

/**
 * How a message names an epoch: by its number, counted from 0 as the files' `epoch` fields are, and, with
 * the run's length, its place in the run ("epoch 1, the 2nd of 2").
 */
export function epochName(epoch: number, epochs?: number): string {
  return epochs ? `epoch ${epoch} (the ${ordinal(epoch + 1)} of ${epochs})` : `epoch ${epoch}`;
}

/** The share of the test samples tied (or more) above which an epoch's test pass is called silent. */
export const SILENT_TIED_SHARE = 0.9;

/**
 * A warning when the output layer did not fire on the test pass (firing rate 0) or (nearly) every test
 * sample is tied: the prediction is then the tie rule's, and the accuracy chance. Null when it fired.
 */
export function silentWarning(m: EpochMetrics, testSamples: number | undefined): string | null {
  const out = m.firing_rate.at(-1);
  const silent = out !== undefined && out.rate === 0;
  const ties = m.test_ties;
  const tied = ties !== undefined && testSamples !== undefined && testSamples > 0 && ties >= SILENT_TIED_SHARE * testSamples;
  if (!silent && !tied) return null;
  const tiesText = ties !== undefined && testSamples ? `${ties} of ${testSamples} test samples are tied` : 'the test samples are tied';
  const what = silent ? `the output layer (layer ${out!.layer}) did not fire on the test pass (firing rate 0), so ${tiesText}` : `${tiesText} (the output layer's firing rate is ${out ? out.rate.toFixed(4) : 'unknown'})`;
  return (
    `${what}: their predictions come from the tie rule, and the test accuracy of ${epochName(m.epoch)}, ${pct(m.test_acc)}, is chance level, not learning. ` +
    `The network is silent: train longer (more --epochs or more samples), or try another --lr or a lower --vth.`
  );
}

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

/** A console reporter; `interrupt` ends the progress bar's line and prints a message on stderr (Ctrl-C). */
export interface ConsoleReporter extends Reporter {
  /** Ends the bar's line, writes `message` on stderr, and keeps progress quiet from then on. */
  interrupt(message: string): void;
}

export function consoleReporter(o: ReporterOptions): ConsoleReporter {
  const out = o.stdout ?? process.stdout;
  const err = o.stderr ?? process.stderr;
  const log = o.json ? err : out; // human-readable lines never go to a JSON stdout
  const tty = Boolean(log.isTTY);
  const every = o.logEverySeconds ?? 30;
  let bar: cliProgress.SingleBar | null = null;
  let lastLog = 0;
  let lastDecile = -1;
  let epochs = 0;
  let testSamples: number | undefined;
  let interrupted = false;
  const endBar = () => {
    if (bar) bar.stop(); // draws the bar a last time and ends its line
    bar = null;
  };
  const line = (s: string) => {
    endBar();
    log.write(s + '\n');
  };
  return {
    start(info) {
      epochs = info.config.epochs;
      const r = info.resumedFrom ? ` (resumed at epoch ${info.resumedFrom.epoch}, batch ${info.resumedFrom.batch}: ${info.resumedFrom.batch} of its batches done)` : '';
      const b = info.backend;
      const where = b['mode']
        ? ` (${String(b['mode'])}: ${String(b['renderer'])}${b['software'] ? '; software rendering, not a GPU' : ''})`
        : typeof b['threads'] === 'number'
          ? ` (${b['threads']} thread${b['threads'] === 1 ? '' : 's'})`
          : '';
      line(`training ${info.config.preset} on ${info.config.dataset}: ${info.trainSamples} train, ${info.valSamples} validation, ${info.testSamples} test samples${info.dataDir ? ` from ${info.dataDir}` : ''}; T=${info.network.T}, batch ${info.config.batch}, backend ${info.config.backend}${where}; ${epochs} epoch${epochs === 1 ? '' : 's'}, numbered from 0 as in metrics.jsonl${r}`);
    },
    epochStart(epoch, batches, lr) {
      if (interrupted) return;
      lastLog = performance.now();
      lastDecile = -1;
      if (tty) {
        bar = new cliProgress.SingleBar(
          {
            stream: log,
            format: `${epochName(epoch, epochs)} |{bar}| {value}/{total} batches | {sps} samples/s | loss {loss} | acc {acc} | ETA {eta_formatted}`,
            barsize: 24,
            hideCursor: true,
            etaBuffer: 50,
            fps: 5,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(batches, 0, { sps: '-', loss: '-', acc: '-' });
      } else {
        line(`${epochName(epoch, epochs)}: ${batches} batches, lr ${lr.toExponential(3)}`);
      }
    },
    batch(p) {
      if (interrupted) return; // the bar's line is ended; the checkpoint's line comes next
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
      if (what === 'test') testSamples = samples;
      line(`evaluating on ${samples} ${what === 'val' ? 'validation' : 'test'} samples`);
    },
    epochEnd(m) {
      line(epochSummary(m));
      const warning = silentWarning(m, testSamples);
      if (warning) err.write(`warning: ${warning}\n`); // on stderr: never inside --json's stdout
      if (o.json) out.write(JSON.stringify(warning ? { ...m, silent_output: true, warning } : m) + '\n');
    },
    checkpoint(path, why) {
      if (why !== 'epoch') line(`checkpoint (${why}): ${path}`);
    },
    note(message) {
      endBar();
      err.write(`note: ${message}\n`);
    },
    interrupt(message) {
      endBar();
      interrupted = true;
      err.write(`${message}\n`);
    },
  };
}
