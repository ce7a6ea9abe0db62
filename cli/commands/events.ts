// `plif events`: print the decoded events of an event file (or of one labelled DVS128 Gesture sample).
import { intFlag, parseFlags, withInputErrors, withUsage } from '../args.js';
import { describeSample, sampleFromFlags, SAMPLE_OPTIONS, SAMPLE_USAGE } from './frames.js';

const USAGE =
  `usage: plif events --format nmnist|cifar10dvs|dvs128 --file PATH [--labels CSV --sample K] [--head N]\n\n` +
  `Decodes an event file and prints a summary and its first events (x, y, polarity, t in µs), in file order.\n` +
  `For dvs128 without --sample, the whole recording is printed.\n\n` +
  SAMPLE_USAGE +
  `  --head N         number of events to print (default 20; 0 prints none)\n`;

export async function run(argv: string[]): Promise<number> {
  return withUsage('events', USAGE, argv, () =>
    withInputErrors('events', async () => {
      const { values: v } = parseFlags(argv, { ...SAMPLE_OPTIONS, head: { type: 'string' } });
      const head = intFlag('head', v.head, 0) ?? 20;
      const s = await sampleFromFlags(v, { wholeRecordingOk: true });
      const e = s.events;
      const n = e.t.length;
      let on = 0;
      for (let i = 0; i < n; i++) on += e.p[i]!;
      const lines = [describeSample(s), `sensor ${e.width}x${e.height}; ON (p=1) ${on}, OFF (p=0) ${n - on}`];
      for (const w of e.warnings) lines.push(`warning: byte offset ${w.offset}: ${w.message}`);
      if (head > 0 && n > 0) {
        lines.push(`${'#'.padStart(9)} ${'x'.padStart(4)} ${'y'.padStart(4)} p ${'t (µs)'.padStart(12)}`);
        for (let i = 0; i < Math.min(head, n); i++) {
          lines.push(`${String(i).padStart(9)} ${String(e.x[i]).padStart(4)} ${String(e.y[i]).padStart(4)} ${e.p[i]} ${String(e.t[i]).padStart(12)}`);
        }
        if (n > head) lines.push(`... ${n - head} more`);
      }
      process.stdout.write(lines.join('\n') + '\n');
      return 0;
    }),
  );
}
