// Benchmark (not part of CI: runs only with PLIF_GPUJS_BENCH=1, under xvfb-run for headlessgl): training
// steps of the *MNIST structure (T = 8, batch 16) at the given channel counts on the CPU backend and on
// gpu.js webasm and headlessgl in the same process, with the renderer string. Each backend's first-step
// loss from the same seed must equal the first backend's (a full-size parity check). PLIF_BENCH_STEPS=0 times
// only the first step (for 128 channels, where a step on llvmpipe takes many minutes).
//   PLIF_GPUJS_BENCH=1 PLIF_BENCH_CHANNELS=32,128 PLIF_BENCH_STEPS=2 xvfb-run -a npx vitest run test/gpujs/bench-mnist.test.ts
import { expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import type { Backend } from '../../core/backend.js';
import { Network } from '../../core/network/index.js';
import { createAdam, disposeAdam, trainStep } from '../../core/network/train.js';
import { Rng } from '../../core/rng.js';
import { benchConfig, syntheticBatch } from '../../bench/step-timing.js';
import { modeEnv } from './env.js';

const on = process.env['PLIF_GPUJS_BENCH'] === '1';
const channels = (process.env['PLIF_BENCH_CHANNELS'] ?? '32').split(',').map(Number);
const steps = Number(process.env['PLIF_BENCH_STEPS'] ?? '2');
const modes = (process.env['PLIF_BENCH_MODES'] ?? 'cpu-backend,webasm,headlessgl').split(',');

async function bench(b: Backend, ch: number) {
  const cfg = benchConfig({ preset: 'fashion-mnist', channels: ch, T: 8, batch: 16, steps, warmup: 1, seed: 1 });
  const rng = Rng.seeded(1);
  const net = new Network(b, cfg, rng.split());
  const opt = createAdam(net);
  const data = syntheticBatch(cfg, 16, rng.split());
  const stepRng = rng.split();
  let t = performance.now();
  const first = (await trainStep(net, opt, data, stepRng)).loss; // warm-up: kernel compilation happens here
  const warm = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < steps; i++) await trainStep(net, opt, data, stepRng);
  // PLIF_BENCH_STEPS=0: time the first step only (kernel compilation is a few seconds of it)
  const ms = steps > 0 ? (performance.now() - t) / steps : warm;
  disposeAdam(b, opt);
  net.dispose();
  return { first, warm, ms };
}

it.skipIf(!on)('bench *MNIST structure, T = 8, batch 16', async () => {
  const rows: string[] = [];
  for (const ch of channels) {
    const firsts: { label: string; loss: number }[] = [];
    for (const m of modes) {
      let b: Backend;
      let label: string;
      if (m === 'cpu-backend') {
        b = cpuBackend();
        label = 'cpu backend (TypeScript, 1 thread)';
      } else {
        const env = await modeEnv(m as 'webasm' | 'headlessgl');
        if (!env.backend) {
          rows.push(`${ch} ch | gpujs:${m} | unavailable: ${env.why}`);
          continue;
        }
        b = env.backend;
        label = `gpujs:${m} (${env.backend.info.renderer}${env.backend.info.software ? ', software' : ''})`;
      }
      const r = await bench(b, ch);
      const line = `${ch} ch | ${label} | first-step loss ${r.first.toFixed(6)} | warm-up step ${(r.warm / 1000).toFixed(1)} s | ${(r.ms / 1000).toFixed(2)} s/step | ${((16 * 1000) / r.ms).toFixed(2)} samples/s`;
      console.log(line);
      rows.push(line);
      firsts.push({ label, loss: r.first });
    }
    // Same seed, same weights, same batch: the float32 backends agree on the loss to rounding (a spike that
    // rounding flips moves one firing rate by 1/T of one class of 16 samples: far above this bound).
    for (const f of firsts.slice(1)) expect(Math.abs(f.loss - firsts[0]!.loss), `${ch} ch: ${f.label} vs ${firsts[0]!.label}`).toBeLessThanOrEqual(1e-4 * Math.max(1, firsts[0]!.loss));
    expect(firsts.length, `${ch} ch: at least two backends ran`).toBeGreaterThanOrEqual(2);
  }
  console.log(rows.join('\n'));
}, 3_600_000);
