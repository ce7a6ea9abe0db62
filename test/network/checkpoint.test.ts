import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { CheckpointError, decodeSafetensors, encodeSafetensors, loadCheckpoint, saveCheckpoint } from '../../core/checkpoint.js';
import { loadCheckpointFile, saveCheckpointFile } from '../../training/checkpoint-file.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { createAdam, inferBatch, trainStep } from '../../core/network/train.js';
import { Rng } from '../../core/rng.js';
import * as core from '../../core/index.js';
import * as checkpoints from '../../training/checkpoint-file.js';
import * as training from '../../training/index.js';

const madeDirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'plif-ckpt-'));
  madeDirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of madeDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// a function: built inside each test, not at collection (npm run mutate would count that code as static)
const config = () => networkConfig('c3k3s1-BN-PLIF-MPk2s2-DP-FC20-LIF-APk10s10', [1, 6, 6], 2, { T: 3, tau0: 3 });
const batch = (rng: Rng) => ({ x: Float32Array.from({ length: 4 * 36 }, () => rng.range(-1, 2)), labels: Int32Array.from({ length: 4 }, () => rng.int(2)) });

describe('checkpoints (safetensors)', () => {
  it('writes the safetensors layout: u64 LE header length, JSON header, LE float32 data', () => {
    const bytes = encodeSafetensors([{ name: 'w', shape: [2], data: Float32Array.of(1.5, -2) }], { k: 'v' });
    const hl = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(hl % 8).toBe(0);
    const h = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + hl)));
    expect(h).toEqual({ __metadata__: { k: 'v' }, w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } });
    const dv = new DataView(bytes.buffer, 8 + hl);
    expect([dv.getFloat32(0, true), dv.getFloat32(4, true)]).toEqual([1.5, -2]);
    expect(bytes.length).toBe(8 + hl + 8);
    expect(Array.from(decodeSafetensors(bytes).tensors.get('w')!.data)).toEqual([1.5, -2]);
  });

  it('round-trips a trained model: parameters, BN running statistics, tau, predictions', async () => {
    const b = cpuBackend();
    const rng = Rng.seeded(1);
    const net = new Network(b, config(), rng.split());
    const opt = createAdam(net, { lr: 0.05 });
    for (let i = 0; i < 3; i++) await trainStep(net, opt, batch(rng), rng);
    const bytes = saveCheckpoint(net);
    const meta = decodeSafetensors(bytes).metadata;
    expect(JSON.parse(meta.tau!)).toEqual([
      { layer: 2, tau: expect.closeTo(net.taus()[0]!.tau, 5) },
      { layer: 6, tau: 3 },
    ]);
    expect(net.taus()[0]!.tau).not.toBeCloseTo(3, 3); // a trained
    const b2 = cpuBackend();
    const loaded = loadCheckpoint(b2, bytes);
    expect(loaded.optimizer).toBeNull();
    expect(loaded.config).toEqual(config());
    const names = (n: Network, be: typeof b) => [...n.params(), ...n.buffers()].map((p) => [p.name, Array.from(be.download(p.value))]);
    expect(names(loaded.net, b2)).toEqual(names(net, b));
    const x = batch(Rng.seeded(5)).x;
    expect(Array.from(await inferBatch(loaded.net, x, 4))).toEqual(Array.from(await inferBatch(net, x, 4)));
  });

  it('with optimizer and RNG state, a resumed run equals the uninterrupted one bitwise', async () => {
    const steps = async (net: Network, opt: ReturnType<typeof createAdam>, rng: Rng, n: number) => {
      const l: number[] = [];
      for (let i = 0; i < n; i++) l.push((await trainStep(net, opt, batch(rng), rng)).loss);
      return l;
    };
    const b = cpuBackend();
    const rng = Rng.seeded(2);
    const net = new Network(b, config(), rng.split());
    const opt = createAdam(net);
    await steps(net, opt, rng, 2);
    const bytes = saveCheckpoint(net, { optimizer: opt, rng });
    const straight = await steps(net, opt, rng, 3);
    const b2 = cpuBackend();
    const r = loadCheckpoint(b2, bytes);
    expect(r.optimizer!.step).toBe(2);
    const resumed = await steps(r.net, r.optimizer!, Rng.fromState(r.rngState!), 3);
    expect(resumed).toEqual(straight);
    expect(r.net.params().map((p) => Array.from(b2.download(p.value)))).toEqual(net.params().map((p) => Array.from(b.download(p.value))));
  });

  it('writes files atomically and rejects truncated or foreign files with a clear error', async () => {
    const dir = tempDir();
    const b = cpuBackend();
    const net = new Network(b, config(), Rng.seeded(3));
    const path = join(dir, 'model.safetensors');
    await saveCheckpointFile(path, net, { optimizer: createAdam(net), rng: Rng.seeded(1) });
    expect(readdirSync(dir)).toEqual(['model.safetensors']);
    const ok = await loadCheckpointFile(cpuBackend(), path);
    expect(ok.optimizer).not.toBeNull();
    const full = readFileSync(path);
    for (const cut of [3, 20, full.length - 1]) {
      writeFileSync(join(dir, 'cut.safetensors'), full.subarray(0, cut));
      await expect(loadCheckpointFile(cpuBackend(), join(dir, 'cut.safetensors'))).rejects.toThrow(/cut\.safetensors: .*(truncated|shorter)/);
    }
    writeFileSync(join(dir, 'foreign.bin'), Buffer.from('{"hello": "world", "this is": "json"}'));
    await expect(loadCheckpointFile(cpuBackend(), join(dir, 'foreign.bin'))).rejects.toThrow(CheckpointError);
    const other = encodeSafetensors([{ name: 'x', shape: [1], data: Float32Array.of(1) }], { format: 'pt' });
    expect(() => loadCheckpoint(cpuBackend(), other)).toThrow(/not a plif-snn checkpoint/);
    const bad = new Uint8Array(full);
    bad[8] = 0x41; // break the JSON header
    expect(() => loadCheckpoint(cpuBackend(), bad)).toThrow(/header is not JSON/);
  });

  it('one API: the same loaders from every entry point, backend first; metadata comes back as objects from the same file format', async () => {
    expect(training.loadCheckpoint).toBe(core.loadCheckpoint);
    expect(training.saveCheckpoint).toBe(core.saveCheckpoint);
    expect(training.loadCheckpointFile).toBe(checkpoints.loadCheckpointFile);
    expect(training.saveCheckpointFile).toBe(checkpoints.saveCheckpointFile);
    expect(core.loadCheckpoint).toBe(loadCheckpoint);

    const b = cpuBackend();
    const net = new Network(b, config(), Rng.seeded(4));
    const opt = createAdam(net, { lr: 0.01 });
    const rng = Rng.seeded(9);
    // the file as every earlier version wrote it: __metadata__ of strings, JSON where the value is structured
    const cfg = JSON.stringify(net.config);
    const tau = JSON.stringify(net.taus().map((t) => ({ layer: t.index, tau: t.tau })));
    const optim = JSON.stringify({ kind: 'adam', step: 0, config: opt.config });
    const bytes = saveCheckpoint(net, { optimizer: opt, rng, extra: { library: '0.0.9', training: '{"x":1}' } });
    expect(decodeSafetensors(bytes).metadata).toEqual({ library: '0.0.9', training: '{"x":1}', format: 'plif-snn/1', config: cfg, tau, optimizer: optim, rng: JSON.stringify(rng.state()) });
    const { tensors } = decodeSafetensors(bytes);
    const earlier = encodeSafetensors([...tensors.values()], { format: 'plif-snn/1', config: cfg, tau, optimizer: optim, epoch: '3' });

    const dir = tempDir();
    writeFileSync(join(dir, 'earlier.safetensors'), earlier);
    for (const ck of [loadCheckpoint(b, bytes), loadCheckpoint(b, earlier), await loadCheckpointFile(b, join(dir, 'earlier.safetensors'))]) {
      expect(ck.metadata.format).toBe('plif-snn/1');
      expect(ck.metadata.config).toEqual(net.config);
      expect(ck.metadata.tau).toEqual(JSON.parse(tau));
      expect(ck.metadata.tau.map((t) => t.layer)).toEqual([2, 6]);
      expect(ck.metadata.optimizer).toEqual({ kind: 'adam', step: 0, config: { ...opt.config, lr: 0.01 } });
      expect(ck.metadata.rng === null || Array.isArray(ck.metadata.rng)).toBe(true);
      ck.net.dispose();
      core.disposeAdam(b, ck.optimizer!);
    }
    const back = loadCheckpoint(b, bytes);
    expect(back.metadata.rng).toEqual(rng.state());
    expect(back.metadata.extra).toEqual({ library: '0.0.9', training: '{"x":1}' });
    expect(loadCheckpoint(b, earlier).metadata.extra).toEqual({ epoch: '3' });
    // a tau that is not a list of { layer, tau } is named
    const badTau = encodeSafetensors([...tensors.values()], { format: 'plif-snn/1', config: cfg, tau: '{"layer":2}', optimizer: optim });
    expect(() => loadCheckpoint(b, badTau)).toThrow(new CheckpointError(`metadata field 'tau' is {"layer":2}, not a list of { layer, tau }`));
  });
});
