// benny suite: one training step (forward over T + backward + Adam) on the CPU backend for the CPU-sized
// preset and the *MNIST structure with 32 channels. `npm run bench` (after `npm run build`).
import benny from 'benny';
import { cpuBackend } from '../backends/cpu/index.js';
import { Network } from '../core/network/network.js';
import { createAdam, trainStep } from '../core/network/train.js';
import { Rng } from '../core/rng.js';
import { benchConfig, syntheticBatch, type BenchSpec } from './step-timing.js';

function stepCase(title: string, spec: BenchSpec) {
  return benny.add(title, () => {
    const cfg = benchConfig(spec);
    const rng = Rng.seeded(spec.seed);
    const net = new Network(cpuBackend(), cfg, rng.split());
    const opt = createAdam(net);
    const batch = syntheticBatch(cfg, spec.batch, rng.split());
    return async () => {
      await trainStep(net, opt, batch, rng);
    };
  });
}

const base = { batch: 16, steps: 1, warmup: 1, seed: 0 };
void benny.suite(
  'training step, batch 16 (cpu backend)',
  stepCase('fmnist-small', { ...base, preset: 'fmnist-small' }),
  stepCase('*MNIST c32 T=8', { ...base, preset: 'fmnist', channels: 32, T: 8 }),
  benny.cycle(),
  benny.complete((summary) => {
    for (const r of summary.results) process.stdout.write(`${r.name}: ${(r.ops * 16).toFixed(1)} samples/s (+-${r.margin}%)\n`);
  }),
);
