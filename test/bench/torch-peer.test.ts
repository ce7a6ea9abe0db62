import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { benchTorchPeer, PEER_MALLOC, resolvePython, runTorchScript, torchPeerInput } from '../../bench/peers/torch.js';
import { syntheticBatch } from '../../bench/step-timing.js';
import { Network, networkConfig, type NetworkOptions } from '../../core/network/network.js';
import { adamUpdate, createAdam, lossAndGradients } from '../../core/network/train.js';
import { writeHostState } from '../../bench/checkpoint-start.js';
import { Rng } from '../../core/rng.js';

const python = resolvePython();
const hasTorch = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
if (!hasTorch) console.warn(`skipping the PyTorch peer tests: no torch for ${python} (sudo apt-get install python3-torch, or set PLIF_PYTHON)`);

describe('PyTorch peer', () => {
  it.skipIf(!hasTorch)('times a tiny network: ok, samples/s > 0, one firing rate per neuron layer', async () => {
    const cfg = networkConfig('c4k3s1-BN-PLIF-MPk2s2-DP-FC20-PLIF-APk10s10', [1, 8, 8], 2, { T: 2 });
    new Network(cpuBackend(), cfg, Rng.seeded(0)).dispose(); // the library builds it
    const r = await benchTorchPeer(cfg, { batch: 2, steps: 1, warmup: 0, seed: 0 }, 1);
    if (!r.ok) throw new Error(r.reason);
    expect(r.samples_per_s).toBeGreaterThan(0);
    expect(r.ms_per_step).toBeGreaterThan(0);
    expect(r.threads).toBe(1);
    expect(r.torch_version).toMatch(/^\d+\.\d+/);
    expect(r.firing_rates).toHaveLength(2);
    for (const f of r.firing_rates) expect(f >= 0 && f <= 1).toBe(true);
    // the process ran with the peer's malloc settings, where this environment does not set its own
    const own = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('MALLOC_')));
    expect(r.malloc).toEqual({ ...PEER_MALLOC, ...own });
    expect(PEER_MALLOC.MALLOC_MMAP_MAX_).toBe('0');
  });

  it('says what is missing when the interpreter does not exist', async () => {
    const cfg = networkConfig('FC20-PLIF-APk10s10', [1, 2, 2], 2, { T: 2 });
    const r = await benchTorchPeer(cfg, { batch: 2, steps: 1, warmup: 0, seed: 0 }, 1, { python: '/nonexistent/python3' });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/python3-torch.*PLIF_PYTHON/);
  });

  const noSite = spawnSync(python, ['-S', '-c', 'import torch'], { stdio: 'ignore' }).status === 1; // -S: no site-packages
  it.skipIf(!noSite)('says how to get PyTorch when the interpreter has none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'plif-py-'));
    const wrapper = join(dir, 'python-without-torch');
    writeFileSync(wrapper, `#!/bin/sh\nexec '${python}' -S "$@"\n`, { mode: 0o755 });
    try {
      const cfg = networkConfig('FC20-PLIF-APk10s10', [1, 2, 2], 2, { T: 2 });
      const r = await benchTorchPeer(cfg, { batch: 2, steps: 1, warmup: 0, seed: 0 }, 1, { python: wrapper });
      expect(r).toEqual({ ok: false, reason: `PyTorch not found for ${wrapper}: on Debian/Ubuntu \`sudo apt-get install python3-torch\`, or set PLIF_PYTHON to a Python with torch` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const cases: { name: string; structure: string; input: [number, number, number]; opts: NetworkOptions }[] = [
    { name: 'static PLIF, rate loss', structure: 'c4k3s1-BN-PLIF-MPk2s2-FC20-BN-PLIF-APk10s10', input: [1, 8, 8], opts: { T: 4 } },
    {
      name: 'events, LIF, avg pool, soft reset not detached, per-step loss',
      structure: 'c4k3s2-BN-PLIF-MPk2s2-FC20-BN-PLIF-APk10s10',
      input: [2, 8, 8],
      opts: { T: 3, static: false, neuronKind: 'lif', pool: 'avg', vReset: null, detachReset: false, loss: 'per-step', tau0: 1.5 },
    },
    {
      // the second conv (8 -> 8 channels, 5×5) takes its input gradient by Winograd F(2×2, 3×3), odd edge tiles included
      name: 'two convs of 8 channels, the second on 5×5 (Winograd input gradient)',
      structure: '{c8k3s1-BN-PLIF-MPk2s2}*2-FC20-BN-PLIF-APk10s10',
      input: [1, 10, 10],
      opts: { T: 3 },
    },
    { name: 'static IF, sigmoid surrogate', structure: 'c4k3s1p0-BN-IF-FC20-BN-PLIF-APk10s10', input: [1, 6, 6], opts: { T: 3, surrogate: { name: 'sigmoid', alpha: 4 } } },
    {
      name: 'static PLIF, hard reset to -0.2 not detached, input not decayed',
      structure: 'c4k3s1-BN-PLIF-MPk2s2-FC20-BN-PLIF-APk10s10',
      input: [1, 8, 8],
      opts: { T: 4, vReset: -0.2, detachReset: false, decayInput: false },
    },
  ];
  // the timed neuron (its backward written out, "bptt") and the same equations differentiated by autograd
  const impls = ['bptt', 'autograd'] as const;
  const runs = cases.flatMap((c) => impls.map((impl) => ({ ...c, impl })));
  it.skipIf(!hasTorch).each(runs)('same loss and gradients as the cpu backend: $name ($impl neuron)', async ({ structure, input, opts, impl }) => {
    const cfg = networkConfig(structure, input, 2, opts);
    const b = cpuBackend();
    const rng = Rng.seeded(3);
    const net = new Network(b, cfg, rng.split());
    const batch = syntheticBatch(cfg, 4, rng.split());
    const params = net.params().map((p) => Array.from(b.download(p.value)));
    const lib = await lossAndGradients(net, batch, rng.split());
    const libGrads = net.params().map((p) => b.download(p.grad!));
    net.dispose();

    const input_ = { ...torchPeerInput(cfg, { batch: 4, steps: 1, warmup: 0, seed: 0 }, 1), neuron_impl: impl, dump: { x: Array.from(batch.x), labels: Array.from(batch.labels), params } };
    const r = await runTorchScript(input_);
    if (!r.ok) throw new Error(r.reason);
    const peer = r.value as { loss: number; grads: number[][]; firing_rates: number[] };

    expect(peer.firing_rates.at(-1)).toBeGreaterThan(0); // the output layer fires: the loss depends on the weights
    expect(Math.abs(peer.loss - lib.loss) / Math.abs(lib.loss)).toBeLessThan(1e-4);
    expect(peer.grads).toHaveLength(libGrads.length);
    peer.grads.forEach((g, i) => {
      const want = libGrads[i]!;
      expect(g).toHaveLength(want.length);
      let diff = 0;
      let norm = 0;
      for (let j = 0; j < g.length; j++) {
        diff += (g[j]! - want[j]!) ** 2;
        norm += want[j]! ** 2;
      }
      expect(Math.sqrt(diff), `gradient of parameter ${i}`).toBeLessThanOrEqual(1e-3 * Math.sqrt(norm) + 1e-7);
    });
  });

  it.skipIf(!hasTorch)('starts from a state file: trained weights give the library\'s loss and gradients, BN statistics are loaded', async () => {
    const cfg = networkConfig('c4k3s1-BN-PLIF-MPk2s2-FC20-BN-PLIF-APk10s10', [1, 8, 8], 2, { T: 4 });
    const b = cpuBackend({ threads: 1 });
    const rng = Rng.seeded(5);
    const net = new Network(b, cfg, rng.split());
    const opt = createAdam(net, { lr: 0.05 });
    const batch = syntheticBatch(cfg, 4, rng.split());
    for (let i = 0; i < 3; i++) {
      await lossAndGradients(net, batch, rng.split());
      adamUpdate(net, opt);
    }
    const dl = (t: Parameters<typeof b.download>[0]) => Float32Array.from(b.download(t));
    const host = { params: net.params().map((p) => dl(p.value)), buffers: net.buffers().map((t) => dl(t.value)), m: opt.m.map(dl), v: opt.v.map(dl), step: opt.step };
    const dir = mkdtempSync(join(tmpdir(), 'plif-peer-state-'));
    try {
      const file = join(dir, 'state.f32');
      writeHostState(file, host);
      const lib = await lossAndGradients(net, batch, rng.split());
      const libGrads = net.params().map((p) => b.download(p.grad!));
      const input = { ...torchPeerInput(cfg, { batch: 4, steps: 1, warmup: 0, seed: 0, state: { file, adamStep: opt.step, lr: 0.05 } }, 1), dump: { x: Array.from(batch.x), labels: Array.from(batch.labels) } };
      const r = await runTorchScript(input);
      if (!r.ok) throw new Error(r.reason);
      const peer = r.value as { loss: number; grads: number[][]; buffers: number[][] };
      expect(peer.buffers).toEqual(host.buffers.map((a) => Array.from(a)));
      expect(Math.abs(peer.loss - lib.loss) / Math.abs(lib.loss)).toBeLessThan(1e-4);
      peer.grads.forEach((g, i) => {
        const want = libGrads[i]!;
        let diff = 0;
        let norm = 0;
        for (let j = 0; j < g.length; j++) {
          diff += (g[j]! - want[j]!) ** 2;
          norm += want[j]! ** 2;
        }
        expect(Math.sqrt(diff), `gradient of parameter ${i}`).toBeLessThanOrEqual(1e-3 * Math.sqrt(norm) + 1e-7);
      });
      // a file of another size is refused, naming it
      writeFileSync(file, new Uint8Array(12));
      const bad = await runTorchScript(input);
      expect(bad.ok).toBe(false);
      if (!bad.ok) expect(bad.reason).toContain(`${file}: 12 bytes, expected`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      net.dispose();
      b.destroy();
    }
  });
});
