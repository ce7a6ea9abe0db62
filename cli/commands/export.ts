// plif export: a checkpoint as a NIR graph (HDF5), for other SNN frameworks and neuromorphic hardware.
import { networkToNir, NirExportError, NIR_VERSION } from '../../interop/nir/export.js';
import { writeNirFile } from '../../interop/nir/hdf5.js';
import { cpuBackend } from '../../backends/cpu/index.js';
import { loadCheckpointFile } from '../../training/checkpoint.js';
import { disposeAdam } from '../../core/network/train.js';
import { checkOutputPaths, choiceFlag, numFlag, parseFlags, UsageError, withUsage } from '../args.js';
import { packageVersion } from '../version.js';

const HELP = `usage: plif export --checkpoint FILE --format nir --out FILE.nir

  --checkpoint FILE   a checkpoint written by plif train (or plif import)
  --format nir        NIR ${NIR_VERSION} (Neuromorphic Intermediate Representation, HDF5), read by snnTorch,
                      SpikingJelly, Norse, Lava-dl, Sinabs and hardware toolchains
  --out FILE          where to write it
  --dt X              the time step the graph is written for, in the units of tau (default 1: tau in
                      steps); e.g. --dt 1e-4 for importers that assume dt = 0.1 ms (tau = steps * dt,
                      an IF's r = 1/dt)

BN is folded into the conv before it; each PLIF/LIF layer becomes a LIF node (tau the learned tau,
dt = 1), spike max-pooling a SumPool2d and a Threshold at 0.5 (docs/nir.md).
`;

export async function run(argv: string[]): Promise<number> {
  return withUsage('export', HELP, argv, async () => {
    const { values: f } = parseFlags(argv, { checkpoint: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, dt: { type: 'string' } });
    const dt = numFlag('dt', f.dt, (x) => x > 0, 'a number > 0') ?? 1;
    if (f.checkpoint === undefined) throw new UsageError('--checkpoint FILE is required');
    if (f.out === undefined) throw new UsageError('--out FILE is required');
    choiceFlag('format', f.format ?? 'nir', ['nir'] as const);
    await checkOutputPaths({ '--out': f.out });
    const backend = cpuBackend({ threads: 1 });
    const { net, optimizer } = await loadCheckpointFile(backend, f.checkpoint);
    if (optimizer) disposeAdam(backend, optimizer);
    try {
      let file;
      try {
        file = networkToNir(net, { source: `plif-snn ${await packageVersion()}`, dt });
      } catch (err) {
        // a network NIR cannot represent: the file cannot be converted (exit 1, as plif import's refusals)
        if (err instanceof NirExportError) throw new NirExportError(`${f.checkpoint}: ${err.message}`);
        throw err;
      }
      await writeNirFile(f.out, file);
      const nodes = Object.keys(file.node.nodes as object).length;
      process.stdout.write(`${f.out}: NIR ${NIR_VERSION} graph of ${nodes} nodes (${net.config.structure}, T = ${net.config.T}, encoder ${net.config.encoder}, dt = ${dt})\n`);
      return 0;
    } finally {
      net.dispose();
      backend.destroy();
    }
  });
}
