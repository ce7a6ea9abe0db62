// plif bench: times one training step (forward over T + backward + Adam) of a network on the CPU
// backend with synthetic data, and the same network written with TensorFlow.js (CPU backend), and
// prints samples/s and the ratio.
import { cpuBackend } from '../../backends/cpu/index.js';
import { benchConfig, benchTfjs, benchTrainStep, type BenchSpec } from '../../bench/train-step.js';
import { formatStructure, parseStructure } from '../../core/network/parser.js';

const HELP = `usage: plif bench [--preset NAME] [--structure S] [--channels N] [--T T] [--batch N]
                  [--steps N] [--warmup N] [--seed N] [--no-tfjs] [--tfjs-steps N] [--json]

Times training steps (forward over T, backward, Adam) on the CPU backend with synthetic inputs and,
unless --no-tfjs, the same network written with TensorFlow.js (CPU backend); prints samples/s and the
speed ratio. Defaults: --preset fmnist-small, the preset's T, --batch 16, --steps 5, --warmup 1, --tfjs-steps 2.
samples_per_s is wall-clock; samples_per_cpu_s divides by the process CPU time (robust to a busy machine).
`;

interface Parsed {
  flags: Set<string>;
  values: Map<string, string>;
}

export function parseArgs(argv: string[], valued: readonly string[], boolean: readonly string[]): Parsed {
  const flags = new Set<string>();
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    const name = a.slice(2, eq < 0 ? undefined : eq);
    if (boolean.includes(name)) flags.add(name);
    else if (valued.includes(name)) {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new Error(`--${name} needs a value`);
      values.set(name, v);
    } else throw new Error(`unknown option --${name}`);
  }
  return { flags, values };
}

export function intArg(p: Parsed, name: string, dflt: number | undefined, min = 1): number | undefined {
  const v = p.values.get(name);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got '${v}'`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  let p: Parsed;
  let spec: BenchSpec;
  let tfjsSteps: number;
  try {
    p = parseArgs(argv, ['preset', 'structure', 'channels', 'T', 'batch', 'steps', 'warmup', 'seed', 'tfjs-steps'], ['json', 'no-tfjs']);
    const structure = p.values.get('structure');
    if (structure !== undefined) parseStructure(structure);
    const channels = intArg(p, 'channels', undefined);
    const T = intArg(p, 'T', undefined);
    spec = {
      preset: p.values.get('preset') ?? 'fmnist-small',
      ...(structure !== undefined ? { structure } : {}),
      ...(channels !== undefined ? { channels } : {}),
      ...(T !== undefined ? { T } : {}),
      batch: intArg(p, 'batch', 16)!,
      steps: intArg(p, 'steps', 5)!,
      warmup: intArg(p, 'warmup', 1, 0)!,
      seed: intArg(p, 'seed', 0, 0)!,
    };
    tfjsSteps = intArg(p, 'tfjs-steps', 2)!;
  } catch (e) {
    process.stderr.write(`plif bench: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const cfg = benchConfig(spec);
  const cpu = benchTrainStep(cpuBackend(), cfg, spec);
  const out: Record<string, unknown> = {
    preset: spec.preset,
    structure: formatStructure(parseStructure(cfg.structure)) === cfg.structure ? cfg.structure : cfg.structure,
    input: cfg.input,
    T: cfg.T,
    batch: spec.batch,
    backend: 'cpu',
    samples_per_s: cpu.samples_per_s,
    samples_per_cpu_s: cpu.samples_per_cpu_s,
    ms_per_step: cpu.ms_per_step,
    steps: cpu.steps,
  };
  if (!p.flags.has('no-tfjs')) {
    const tf = await benchTfjs(cfg, spec, tfjsSteps);
    out.tfjs = { samples_per_s: tf.samples_per_s, samples_per_cpu_s: tf.samples_per_cpu_s, ms_per_step: tf.ms_per_step, steps: tf.steps };
    out.speedup_vs_tfjs = cpu.samples_per_s / tf.samples_per_s;
    out.speedup_vs_tfjs_cpu_time = cpu.samples_per_cpu_s / tf.samples_per_cpu_s;
  }
  if (p.flags.has('json')) process.stdout.write(`${JSON.stringify(out)}\n`);
  else {
    process.stdout.write(`${cfg.structure}  input ${cfg.input.join('x')}  T ${cfg.T}  batch ${spec.batch}\n`);
    process.stdout.write(`cpu backend : ${cpu.samples_per_s.toFixed(1)} samples/s (${cpu.ms_per_step.toFixed(0)} ms/step, ${cpu.samples_per_cpu_s.toFixed(1)} samples per CPU-second)\n`);
    const tf = out.tfjs as { samples_per_s: number; ms_per_step: number; samples_per_cpu_s: number } | undefined;
    if (tf) {
      process.stdout.write(`tfjs (cpu)  : ${tf.samples_per_s.toFixed(2)} samples/s (${tf.ms_per_step.toFixed(0)} ms/step, ${tf.samples_per_cpu_s.toFixed(2)} samples per CPU-second)\n`);
      process.stdout.write(`ratio       : ${(out.speedup_vs_tfjs as number).toFixed(1)}x wall-clock, ${(out.speedup_vs_tfjs_cpu_time as number).toFixed(1)}x CPU time\n`);
    }
  }
  return 0;
}
