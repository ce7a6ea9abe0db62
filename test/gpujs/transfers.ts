// What a training step must move between host and device (test/gpujs/cost.test.ts, test/browser/page.test.ts).
import { cpuBackend } from '../../backends/cpu/index.js';
import { DropoutLayer } from '../../core/network/layers.js';
import { Network, type NetworkConfig } from '../../core/network/network.js';
import { Rng } from '../../core/rng.js';

/**
 * Bytes a training step must upload (the batch, its labels, the dropout masks) and read back (the output
 * [T, n, classes], two health counts, one parameter a per PLIF layer) at batch n: float32 values.
 */
export function expectedTransfers(cfg: NetworkConfig, n: number): { up: number; down: number } {
  const b = cpuBackend();
  const net = new Network(b, cfg, Rng.seeded(0));
  const masks = net.layers.filter((l) => l instanceof DropoutLayer && l.p > 0).reduce((s, l) => s + n * l.inShape.reduce((a, d) => a * d, 1), 0);
  const plif = net.tauTensors().length;
  net.dispose();
  b.destroy();
  const input = n * cfg.input.reduce((a, d) => a * d, 1) * (cfg.static ? 1 : cfg.T);
  return { up: 4 * (input + n + masks), down: 4 * (cfg.T * n * cfg.classes + 2 + plif) };
}

