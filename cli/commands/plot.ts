// plif plot RUN_DIR: accuracy (Fig. 6), the training loss, tau per layer (Fig. 7) against epochs trained, and
// firing-rate maps of the first spiking layer (Fig. S2), as SVG and PNG files in RUN_DIR/plots (or --out);
// SVG only, with a note, where resvg's platform binary is missing.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FiringMaps } from '../../training/evaluate.js';
import type { EpochMetrics, TrainRecord } from '../../training/engine.js';
import { accuracyChart, lossChart, tauChart } from '../../training/charts.js';
import { firingMapsChart, PngUnavailableError, svgToPng } from '../../training/plot.js';
import { readMetrics, runPaths } from '../../training/rundir.js';
import { confusionChart, validateConfusion } from '../../training/plot-confusion.js';
import { parseFlags, UsageError, withUsage } from '../args.js';

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
    if (!existsSync(paths.metrics)) throw new UsageError(`${paths.dir}: no metrics.jsonl (not a run directory, or no epoch finished yet)`);
    const metrics = (await readMetrics(paths.metrics)) as unknown as EpochMetrics[];
    if (metrics.length === 0) throw new UsageError(`${paths.metrics} is empty: no epoch has finished yet`);
    const outDir = f.out ?? join(paths.dir, 'plots');
    await mkdir(outDir, { recursive: true });
    const runConfig = existsSync(paths.config) ? (JSON.parse(await readFile(paths.config, 'utf8')) as { dataset?: { classes?: string[] }; network?: { tau0?: number } }) : {};
    const classes = runConfig.dataset?.classes ?? [];
    const curve = (await readMetrics(paths.trainCurve)) as unknown as TrainRecord[];
    const figures: [string, string][] = [
      ['accuracy', accuracyChart(metrics, curve)],
      ['loss', lossChart(metrics, curve)],
      ['tau', tauChart(metrics, runConfig.network?.tau0, curve)],
    ];
    if (existsSync(paths.firingMaps)) {
      const maps = JSON.parse(await readFile(paths.firingMaps, 'utf8')) as FiringMaps;
      figures.push(['firing-maps', firingMapsChart(maps, classes)]);
    }
    const confusionFile = f.confusion ?? (existsSync(paths.confusion) ? paths.confusion : null);
    if (confusionFile !== null) figures.push(['confusion', await confusionFigure(confusionFile)]);
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

async function confusionFigure(file: string): Promise<string> {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--confusion ${file}: ${(err as Error).message}`);
  }
  try {
    return confusionChart(validateConfusion(raw, file));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
