// plif plot RUN_DIR: accuracy (Fig. 6), the training loss, tau per layer (Fig. 7) against epochs trained, and
// firing-rate maps of the first spiking layer (Fig. S2), as SVG and PNG files in RUN_DIR/plots (or --out);
// SVG only, with a note, where resvg's platform binary is missing.
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseJsonBounded, quote } from '../../core/quote.js';
import { FileIoError, makeDirectory } from '../../data/file-io.js';
import { checkCurve, checkFiringMaps, checkMetrics, checkRunConfig, PlotDataError } from '../../training/plot-data.js';
import { accuracyChart, lossChart, tauChart } from '../../training/charts.js';
import { firingMapsChart, PngUnavailableError, svgToPng } from '../../training/plot.js';
import { readMetrics, runPaths } from '../../training/rundir.js';
import { confusionChart, validateConfusion } from '../../training/plot-confusion.js';
import { checkOutputPaths, parseFlags, UsageError, withUsage } from '../args.js';

const HELP = `usage: plif plot RUN_DIR [--out DIR] [--no-png] [--confusion FILE]

Writes accuracy.svg (test/validation accuracy after each epoch, running training accuracy), loss.svg
(running training loss), tau.svg (tau of each layer), all against epochs trained, and firing-maps.svg
(firing rates of the first spiking layer for a few test samples), each also as PNG, into RUN_DIR/plots or
--out DIR. Without resvg's platform binary (an install with --omit=optional) it writes the SVGs and says so.
confusion.svg: the confusion matrix of the last test pass (RUN_DIR/confusion.json) or of --confusion FILE
(written by plif eval --confusion FILE).
`;

export async function run(argv: string[]): Promise<number> {
  return withUsage('plot', HELP, argv, async () => {
    const { values: f, positionals } = parseFlags(argv, { out: { type: 'string' }, 'no-png': { type: 'boolean' }, confusion: { type: 'string' } }, true);
    if (positionals.length !== 1) throw new UsageError('give exactly one RUN_DIR');
    const paths = runPaths(positionals[0]!);
    await checkOutputPaths({ '--out': f.out });
    if (!existsSync(paths.metrics)) throw new UsageError(`${paths.dir}: no metrics.jsonl (not a run directory, or no epoch finished yet)`);
    const metrics = checkMetrics(paths.metrics, await readMetrics(paths.metrics));
    if (metrics.length === 0) throw new UsageError(`${paths.metrics} is empty: no epoch has finished yet`);
    const runConfig = existsSync(paths.config) ? checkRunConfig(paths.config, await readJson(paths.config)) : {};
    const classes = runConfig.dataset?.classes ?? [];
    const curve = checkCurve(paths.trainCurve, await readMetrics(paths.trainCurve));
    const figures: [string, string][] = [
      ['accuracy', accuracyChart(metrics, curve)],
      ['loss', lossChart(metrics, curve)],
      ['tau', tauChart(metrics, runConfig.network?.tau0, curve)],
    ];
    if (existsSync(paths.firingMaps)) {
      const maps = checkFiringMaps(paths.firingMaps, await readJson(paths.firingMaps));
      figures.push(['firing-maps', firingMapsChart(maps, classes)]);
    }
    const confusionFile = f.confusion ?? (existsSync(paths.confusion) ? paths.confusion : null);
    if (confusionFile !== null) figures.push(['confusion', await confusionFigure(confusionFile)]);
    // every input is read and checked before the first figure is written
    const outDir = f.out ?? join(paths.dir, 'plots');
    await makeDirectory(outDir);
    let png = !f['no-png'];
    for (const [name, svg] of figures) {
      await writeFile(join(outDir, `${name}.svg`), svg);
      if (png) {
        try {
          await writeFile(join(outDir, `${name}.png`), await svgToPng(svg));
        } catch (err) {
          if (!(err instanceof PngUnavailableError)) throw err;
          png = false;
          process.stderr.write(`plif plot: SVG only: ${err.message}\n`);
        }
      }
      process.stdout.write(`${join(outDir, name)}.svg${png ? ' (.png)' : ''}\n`);
    }
    return 0;
  });
}

/** The JSON of a file of the run, at most MAX_JSON_BYTES long and MAX_JSON_DEPTH deep; errors name the file. */
async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new PlotDataError(`${file}: not a regular file`);
    if (st.size > MAX_JSON_BYTES) throw new PlotDataError(`${file}: ${st.size} bytes, more than the ${MAX_JSON_BYTES} plif plot reads of a run's JSON file`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof PlotDataError) throw err;
    throw new FileIoError(file, 'read', err);
  }
  try {
    return parseJsonBounded(text);
  } catch (err) {
    throw new PlotDataError(`${file}: not JSON (${quote((err as Error).message)})`);
  }
}

/** A firing-maps.json of a 128-channel 128x128 layer for 8 samples is some 200 MB; more is not plif train's. */
const MAX_JSON_BYTES = 256 * 2 ** 20;

async function confusionFigure(file: string): Promise<string> {
  let raw: unknown;
  try {
    raw = await readJson(file);
  } catch (err) {
    throw new UsageError(`--confusion ${file}: ${(err as Error).message}`);
  }
  try {
    return confusionChart(validateConfusion(raw, file));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
