// plif inspect: the layer list of a network (preset, structure string or checkpoint) with per-sample
// shapes, parameter counts, the static-encoder flag and each neuron layer's tau.
import { readFile } from 'node:fs/promises';
import { cpuBackend } from '../../backends/cpu/index.js';
import { loadCheckpoint } from '../../core/checkpoint.js';
import { Network, networkConfig, presetConfig, type NetworkConfig } from '../../core/network/network.js';
import { presetByName, withChannels } from '../../core/network/presets.js';
import { Rng } from '../../core/rng.js';
import { intArg, parseArgs } from './bench.js';

const HELP = `usage: plif inspect (--preset NAME | --checkpoint FILE) [--structure S] [--channels N] [--T T]
                    [--neuron plif|lif|if] [--tau0 X] [--pool max|avg] [--json]

Prints the layers of a network with per-sample input/output shapes and parameter counts.
`;

export async function run(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    return 0;
  }
  let net: Network;
  let cfg: NetworkConfig;
  let json = false;
  try {
    const p = parseArgs(argv, ['preset', 'checkpoint', 'structure', 'channels', 'T', 'neuron', 'tau0', 'pool'], ['json']);
    json = p.flags.has('json');
    const b = cpuBackend();
    const ck = p.values.get('checkpoint');
    if (ck) {
      const bytes = await readFile(ck);
      net = loadCheckpoint(b, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).net;
      cfg = net.config;
    } else {
      const name = p.values.get('preset');
      if (!name && !p.values.get('structure')) throw new Error('give --preset NAME, --structure S or --checkpoint FILE');
      const preset = presetByName(name ?? 'fmnist-small');
      let structure = p.values.get('structure') ?? preset.structure;
      const ch = intArg(p, 'channels', undefined);
      if (ch !== undefined) structure = withChannels(structure, ch);
      const neuron = p.values.get('neuron');
      if (neuron !== undefined && !['plif', 'lif', 'if'].includes(neuron)) throw new Error(`--neuron must be plif, lif or if`);
      const pool = p.values.get('pool');
      if (pool !== undefined && pool !== 'max' && pool !== 'avg') throw new Error(`--pool must be max or avg`);
      const tau0 = p.values.get('tau0');
      const opts = {
        ...(intArg(p, 'T', undefined) !== undefined ? { T: intArg(p, 'T', undefined)! } : {}),
        ...(neuron ? { neuronKind: neuron as 'plif' | 'lif' | 'if' } : {}),
        ...(pool ? { pool: pool as 'max' | 'avg' } : {}),
        ...(tau0 !== undefined ? { tau0: Number(tau0) } : {}),
      };
      cfg = name && !p.values.get('structure') && ch === undefined ? presetConfig(name, opts) : networkConfig(structure, preset.input, preset.classes, { T: preset.T, static: preset.static, ...opts });
      net = new Network(b, cfg, Rng.seeded(0));
    }
  } catch (e) {
    process.stderr.write(`plif inspect: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const layers = net.describe();
  const total = layers.reduce((s, l) => s + l.params, 0);
  if (json) {
    process.stdout.write(`${JSON.stringify({ config: cfg, layers, total_params: total })}\n`);
    return 0;
  }
  const shape = (s: readonly number[]) => `[${s.join(', ')}]`;
  const rows = layers.map((l) => [String(l.index), l.token, shape(l.inShape), shape(l.outShape), String(l.params), l.encoder ? 'once' : `x${cfg.T}`, l.tau !== undefined ? (Number.isFinite(l.tau) ? l.tau.toFixed(3) : 'inf') : '']);
  const head = ['#', 'layer', 'input', 'output', 'params', 'steps', 'tau'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i >= 4 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  process.stdout.write(`${cfg.structure}\ninput ${shape(cfg.input)} ${cfg.static ? 'static (encoder computed once per sample)' : 'frames'}, T = ${cfg.T}, ${cfg.classes} classes, loss ${cfg.loss}\n\n`);
  process.stdout.write(`${line(head)}\n${rows.map(line).join('\n')}\n\ntotal parameters: ${total}\n`);
  return 0;
}
