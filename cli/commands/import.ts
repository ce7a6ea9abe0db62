// plif import: a NIR graph of this library's shape (e.g. exported by plif export, then edited or trained
// elsewhere) into a checkpoint that plif eval, inspect and export read.
import { cpuBackend } from '../../backends/cpu/index.js';
import { saveCheckpointFile } from '../../training/checkpoint-file.js';
import { Network } from '../../core/network/network.js';
import { Rng } from '../../core/rng.js';
import { readNirFile } from '../../interop/nir/hdf5.js';
import { NirImportError, nirToNetwork } from '../../interop/nir/import.js';
import { checkOutputPaths, choiceFlag, intFlag, parseFlags, UsageError, withUsage } from '../args.js';
import { packageVersion } from '../version.js';

const HELP = `usage: plif import --format nir FILE.nir --out FILE.safetensors [--T N]

  --format nir        the input is a NIR graph (HDF5), a chain Input -> ... -> Output of Conv2d, LIF, IF,
                      SumPool2d + Threshold (spike max-pooling), AvgPool2d, Flatten, Linear / Affine
                      without bias, and a last Linear of weights 1/M (voting)
  --out FILE          the checkpoint to write
  --T N               time steps (default: the graph's metadata, else 8)

A conv bias becomes a BN (gamma 1, beta the bias). Evaluate with plif eval --checkpoint FILE --dataset NAME.
`;

export async function run(argv: string[]): Promise<number> {
  return withUsage('import', HELP, argv, async () => {
    const { values: f, positionals } = parseFlags(argv, { format: { type: 'string' }, out: { type: 'string' }, T: { type: 'string' } }, true);
    if (positionals.length !== 1) throw new UsageError(`give one NIR file to import (got ${positionals.length})`);
    if (f.out === undefined) throw new UsageError('--out FILE.safetensors is required');
    choiceFlag('format', f.format ?? 'nir', ['nir'] as const);
    const T = intFlag('T', f.T);
    await checkOutputPaths({ '--out': f.out });
    const path = positionals[0]!;
    const file = await readNirFile(path);
    let imported;
    try {
      imported = nirToNetwork(file, T !== undefined ? { T } : {});
    } catch (err) {
      // a graph that cannot be a checkpoint here is a fault of the file, as a corrupt checkpoint is (exit 1)
      if (err instanceof NirImportError) throw new NirImportError(`${path}: ${err.message}`);
      throw err;
    }
    const backend = cpuBackend({ threads: 1 });
    const net = new Network(backend, imported.config, Rng.seeded(0));
    try {
      for (const slot of [...net.params(), ...net.buffers()]) {
        const v = backend.upload(imported.tensors.get(slot.name)!, slot.value.shape);
        backend.dispose(slot.value);
        slot.value = v;
      }
      await saveCheckpointFile(f.out, net, { extra: { library: await packageVersion(), imported_from: path, nir_version: file.version } });
      process.stdout.write(`${f.out}: ${imported.config.structure} on [${imported.config.input.join(', ')}], ${imported.config.classes} classes, T = ${imported.config.T}\n`);
      return 0;
    } finally {
      net.dispose();
      backend.destroy();
    }
  });
}
