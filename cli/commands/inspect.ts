// plif inspect: the layer list of a network (preset, structure string or checkpoint) with per-sample
// shapes, parameter counts, the static-encoder flag and each neuron layer's tau.
import { cpuBackend } from '../../backends/cpu/index.js';
import type { Backend } from '../../core/backend.js';
import { loadCheckpointFile } from '../../training/checkpoint-file.js';
import { Network, networkConfig, presetConfig, type NetworkConfig } from '../../core/network/network.js';
import { checkFits } from '../../training/memory.js';
import { presetByName, withChannels } from '../../core/network/presets.js';
import { estimateMemory } from '../../core/network/shapes.js';
import { Rng } from '../../core/rng.js';
import { choiceFlag, intFlag, numFlag, parseFlags, UsageError, withUsage } from '../args.js';

const HELP = `usage: plif inspect (--preset NAME | --checkpoint FILE) [--structure S] [--channels N] [--T T]
                    [--neuron plif|lif|if] [--tau0 X] [--pool max|avg] [--json]

Prints the layers of a network with per-sample input/output shapes and parameter counts.
`;

export async function run(argv: string[]): Promise<number> {
  return withUsage('inspect', HELP, argv, async () => {
    const { values: f } = parseFlags(argv, {
      preset: { type: 'string' },
      checkpoint: { type: 'string' },
      structure: { type: 'string' },
      channels: { type: 'string' },
      T: { type: 'string' },
      neuron: { type: 'string' },
      tau0: { type: 'string' },
      pool: { type: 'string' },
      json: { type: 'boolean' },
    });
    return describeNetwork(f.json === true, () => {
      const b = cpuBackend();
      // a checkpoint that cannot be read is a fault of the file: exit 1, as in plif eval and export
      if (f.checkpoint) return loadCheckpointFile(b, f.checkpoint).then((ck) => ck.net);
      if (!f.preset && !f.structure) throw new UsageError('give --preset NAME, --structure S or --checkpoint FILE');
      try {
        return networkFromFlags(b, f);
      } catch (err) {
        // a network the flags describe badly is a fault of the command line: exit 2
        if (err instanceof UsageError) throw err;
        throw new UsageError((err as Error).message);
      }
    });
  });
}

/** The network --preset / --structure and the other flags describe (a UsageError for what cannot be). */
function networkFromFlags(b: Backend, f: Partial<Record<'preset' | 'structure' | 'channels' | 'T' | 'neuron' | 'tau0' | 'pool', string>>): Network {
  const preset = presetByName(f.preset ?? 'fmnist-small');
  const ch = intFlag('channels', f.channels);
  const structure = ch !== undefined ? withChannels(f.structure ?? preset.structure, ch) : (f.structure ?? preset.structure);
  const neuron = choiceFlag('neuron', f.neuron, ['plif', 'lif', 'if'] as const);
  const pool = choiceFlag('pool', f.pool, ['max', 'avg'] as const);
  const tau0 = numFlag('tau0', f.tau0, (n) => n > 1, 'a number > 1');
  const T = intFlag('T', f.T);
  const opts = { ...(T !== undefined ? { T } : {}), ...(neuron ? { neuronKind: neuron } : {}), ...(pool ? { pool } : {}), ...(tau0 !== undefined ? { tau0 } : {}) };
  const cfg: NetworkConfig =
    f.preset && !f.structure && ch === undefined ? presetConfig(f.preset, opts) : networkConfig(structure, preset.input, preset.classes, { T: preset.T, static: preset.static, ...opts });
  const need = estimateMemory(cfg, 1, 'eval');
  checkFits(`the network ${cfg.structure} (${need.params} parameters)`, need.bytes, need.largest, 'use a smaller --channels');
  return new Network(b, cfg, Rng.seeded(0));
}

async function describeNetwork(json: boolean, make: () => Network | Promise<Network>): Promise<number> {
  const net = await make();
  const cfg = net.config;
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
  process.stdout.write(`${cfg.structure}\ninput ${shape(cfg.input)} ${cfg.encoder !== 'direct' ? `static, ${cfg.encoder} encoder (spikes at every step)` : cfg.static ? 'static (encoder computed once per sample)' : 'frames'}, T = ${cfg.T}, ${cfg.classes} classes, loss ${cfg.loss}\n\n`);
  process.stdout.write(`${line(head)}\n${rows.map(line).join('\n')}\n\ntotal parameters: ${total}\n`);
  return 0;
}
