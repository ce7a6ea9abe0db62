// The training loop (in process) against the failures of issue 10: divergence, interruptions while
// evaluating, run directories left by failures, stale temporary files, hostile checkpoints.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { main } from '../../cli/dispatch.js';
import type { Backend } from '../../core/backend.js';
import { CheckpointError } from '../../core/checkpoint.js';
import { Network, networkConfig, presetConfig } from '../../core/network/network.js';
import { parseStructure, StructureSyntaxError } from '../../core/network/parser.js';
import { PRESET_ALIASES, PRESETS, presetByName, withChannels } from '../../core/network/presets.js';
import { checkFits, formatBytes, memoryLimit } from '../../training/memory.js';
import { networkShapes } from '../../core/network/shapes.js';
import { Rng } from '../../core/rng.js';
import { loadCheckpointFile, loadTrainingCheckpoint } from '../../training/checkpoint.js';
import { trainConfig } from '../../training/config.js';
import { openBackend } from '../../cli/backend.js';
import type { EpochMetrics } from '../../training/engine.js';
import { runTraining, type RunOptions } from '../../training/loop.js';
import { runPaths } from '../../training/rundir.js';
import { setCacheWarningSink } from '../../data/cache.js';
import { withoutTimes, writeTinyFashionMnist, writeTinyNMnist } from '../training/fixtures.js';
import { readOnlyDir, smallDisk } from './helpers.js';

let dataDir: string;
let nmnist: string;
beforeAll(() => {
  dataDir = writeTinyFashionMnist(64, 20);
  nmnist = writeTinyNMnist(4, 2);
});


const tmp = () => mkdtempSync(join(tmpdir(), 'plif-rel-'));
afterEach(() => vi.restoreAllMocks());

/** Runs a plif command in process, capturing its output. */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(argv).catch((e: Error) => ((err += `plif: ${e.message}\n`), 1)), out, err };
  } finally {
    vi.restoreAllMocks();
  }
}
/** 64 samples of batch 16: 4 batches per epoch, 2 epochs; a CPU-sized network. */
const config = (more: Partial<Parameters<typeof trainConfig>[0]> = {}) =>
  trainConfig({ preset: 'fmnist-small', channels: 4, T: 2, batch: 16, epochs: 2, limitTest: 20, evalBatch: 20, dataDir, ...more });
const run = (o: Partial<RunOptions> & { outDir: string }) =>
  runTraining({ config: config(), backend: cpuBackend(), backendInfo: {}, resume: false, version: 'test', ...o });

/** The CPU backend with some methods replaced; each replacement gets the original. */
function wrap(over: { [K in keyof Backend]?: (orig: Backend[K], self: Backend) => Backend[K] }): Backend {
  const cpu = cpuBackend();
  const self: Backend = new Proxy(cpu, {
    get: (t, k, r) => (Object.hasOwn(over, k) ? (replaced as Record<string | symbol, unknown>)[k] : (Reflect.get(t, k, r) as unknown)),
  });
  const replaced = Object.fromEntries(
    Object.entries(over).map(([k, f]) => [k, (f as (o: unknown, s: Backend) => unknown)((cpu[k as keyof Backend] as (...a: unknown[]) => unknown).bind(cpu), self)]),
  );
  return self;
}

const finiteParams = async (path: string) => {
  const ck = await loadTrainingCheckpoint(cpuBackend(), path);
  return ck.net.params().every((p) => Array.from(ck.net.backend.download(p.value)).every(Number.isFinite));
};

describe('divergence', () => {
  it('a non-finite gradient stops the run before the update, naming epoch, batch and parameter; the last good checkpoint is kept', async () => {
    let calls = 0;
    const backend = wrap({
      mseLossGrad: (orig, self) => (...args) => {
        const grad = orig(...args);
        if (++calls !== 6) return grad; // epoch 1, batch 1
        self.dispose(grad);
        return self.upload(new Float32Array(grad.size).fill(Number.NaN), grad.shape);
      },
    });
    const out = tmp();
    const r = await run({ outDir: out, backend });
    expect(r).toMatchObject({ status: 'diverged', epoch: 1, batch: 1, what: expect.stringMatching(/^the gradient of parameter \d+\.\w+$/) });
    expect(r.status === 'diverged' && Number.isNaN(r.value)).toBe(true);
    const ck = await loadTrainingCheckpoint(cpuBackend(), runPaths(out).last);
    expect(ck.state).toMatchObject({ epoch: 1, batch: 0 });
    expect(await finiteParams(runPaths(out).last)).toBe(true);
  });

  it('a parameter that becomes non-finite or runs away stops the run (the MSE of spike rates itself stays finite)', async () => {
    const out = tmp();
    const r = await run({ outDir: out, config: config({ lr: 1e9 }) });
    expect(r).toMatchObject({ status: 'diverged', epoch: 0, batch: 0, what: expect.stringMatching(/^parameter \d+\.\w+$/) });
    expect(r.status === 'diverged' && Math.abs(r.value)).toBeGreaterThan(1e6);

    // poisoned in the second step of epoch 1: the parameter itself becomes NaN
    let steps = 0;
    const backend = wrap({
      mseLossGrad: (orig) => (...args) => (steps++, orig(...args)),
      adam: (orig) => (p, g, m, v, o) => orig(p, g, m, v, steps === 6 ? { ...o, lr: Number.NaN } : o),
    });
    const out2 = tmp();
    const r2 = await run({ outDir: out2, backend });
    expect(r2).toMatchObject({ status: 'diverged', epoch: 1, batch: 1, what: expect.stringMatching(/^parameter \d+\.\w+$/) });
    expect(r2.status === 'diverged' && Number.isNaN(r2.value)).toBe(true);
    expect((await loadTrainingCheckpoint(cpuBackend(), runPaths(out2).last)).state).toMatchObject({ epoch: 1, batch: 0 });
    expect(await finiteParams(runPaths(out2).last)).toBe(true);
  });
});

/** Rewrites the JSON header of a safetensors file (the data section is kept as it is). */
function rewriteHeader(path: string, to: string, f: (h: Record<string, unknown>) => void): string {
  const bytes = readFileSync(path);
  const len = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')) as Record<string, unknown>;
  f(header);
  const json = Buffer.from(JSON.stringify(header));
  const lenBuf = Buffer.alloc(8);
  lenBuf.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(to, Buffer.concat([lenBuf, json, bytes.subarray(8 + len)]));
  return to;
}
const meta = (h: Record<string, unknown>) => h['__metadata__'] as Record<string, string>;

/** A backend that counts what it allocates. */
function counting() {
  const n = { allocations: 0 };
  const backend = wrap({
    upload: (orig) => (...a) => (n.allocations++, orig(...a)),
    zeros: (orig) => (...a) => (n.allocations++, orig(...a)),
  });
  return { n, backend };
}

describe('structures are bounded', () => {
  it.each([
    ['a million layers', '{{BN}*1000}*1000', /expands to 1000000 layers, more than 1000/],
    ['100000 layers', '{{c8k3s1}*100}*1000', /expands to 100000 layers, more than 1000/],
    ['1201 layers in a row', 'c8k3s1-'.repeat(1200) + 'FC10', /more than 1000/],
    ['20000 nested braces', '{'.repeat(20000) + 'BN' + '}'.repeat(20000), /braces nested more than 16 deep/],
    ['a padding of 1e20', 'c8k3s1p99999999999999999999', /padding must be an integer >= 0, got '99999999999999999999'/],
    ['a padding of 2e6', 'c8k3s1p2000000', /padding 2000000 exceeds 1000000/],
    ['FC99999999', 'FC99999999', /out features 99999999 exceeds 1000000/],
  ])('%s: fails at once with a syntax error', (_what, structure, message) => {
    const t0 = performance.now();
    expect(() => parseStructure(structure)).toThrow(StructureSyntaxError);
    expect(() => parseStructure(structure)).toThrow(message);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  it('the presets are within the bounds', () => {
    for (const p of Object.values(PRESETS)) expect(parseStructure(p.structure).length).toBeLessThan(100);
  });
});

describe('networkShapes: the shapes of a network without building it', () => {
  it.each([
    ['fmnist-small', null],
    ['cifar10', 4],
    ['nmnist', 4],
    ['dvs128', 2],
  ] as const)('%s (channels %s): the parameters and buffers Network builds, by name and shape', (preset, channels) => {
    const p = presetByName(preset);
    const cfg = channels ? networkConfig(withChannels(p.structure, channels), p.input, p.classes, { T: p.T, static: p.static }) : presetConfig(preset);
    const shapes = networkShapes(cfg);
    const net = new Network(cpuBackend(), cfg, Rng.seeded(0));
    expect(shapes.flatMap((l) => l.params)).toEqual(net.params().map((q) => ({ name: q.name, shape: [...q.value.shape] })));
    expect(shapes.flatMap((l) => l.buffers)).toEqual(net.buffers().map((q) => ({ name: q.name, shape: [...q.value.shape] })));
    expect(shapes.map((l) => [l.inShape, l.outShape, l.encoder])).toEqual(net.describe().map((l) => [[...l.inShape], [...l.outShape], l.encoder]));
    net.dispose();
  });

  it('gives the errors Network gives', () => {
    const cfg = networkConfig('c8k3s1-BN-PLIF-FC100-PLIF-APk10s10', [1, 28, 28], 12);
    expect(() => networkShapes(cfg)).toThrow(/network output is \[10\] per step, expected \[12\]/);
    expect(() => networkShapes(networkConfig('c8k30s1p0-FC10', [1, 28, 28], 10))).toThrow(/layer 0 \(c8k30s1p0\) on input \[1, 28, 28\]: kernel larger than the padded input/);
  });
});

describe('the checkpoint loader checks its header before building anything', () => {
  let ckpt: string;
  let dir: string;
  beforeAll(async () => {
    dir = tmp();
    const r = await run({ outDir: join(dir, 'run'), config: config({ epochs: 1 }) });
    expect(r.status).toBe('done');
    ckpt = runPaths(join(dir, 'run')).last;
  });

  it('a config asking for FC400000 fails on the shapes at once, allocating nothing', async () => {
    const bad = rewriteHeader(ckpt, join(dir, 'big.safetensors'), (h) => {
      const c = JSON.parse(meta(h)['config']!);
      c.structure = c.structure.replace('FC128', 'FC400000');
      meta(h)['config'] = JSON.stringify(c);
    });
    const { n, backend } = counting();
    const t0 = performance.now();
    await expect(loadCheckpointFile(backend, bad)).rejects.toThrow(/big\.safetensors: tensor 'param\.\d+\.weight' has shape \[128,196\], the network needs \[400000,196\]/);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(n.allocations).toBe(0);
  });

  it.each([
    ['a structure of a million layers', (h: Record<string, unknown>) => (meta(h)['config'] = JSON.stringify({ ...JSON.parse(meta(h)['config']!), structure: '{{BN}*1000}*1000' })), /metadata field 'config': .*expands to 1000000 layers/],
    ['bad optimizer JSON', (h: Record<string, unknown>) => (meta(h)['optimizer'] = '{"step": 3,'), /metadata field 'optimizer' is not JSON/],
    ['an optimizer step of -1', (h: Record<string, unknown>) => (meta(h)['optimizer'] = JSON.stringify({ ...JSON.parse(meta(h)['optimizer']!), step: -1 })), /metadata field 'optimizer': step must be an integer >= 0, got -1/],
    ['a null tensor entry', (h: Record<string, unknown>) => (h['param.0.weight'] = null), /tensor 'param\.0\.weight': its header entry is null, not an object/],
    ['a metadata value that is not a string', (h: Record<string, unknown>) => (meta(h)['config'] = 5 as unknown as string), /metadata field 'config' is 5, not a string/],
    ['bad RNG metadata', (h: Record<string, unknown>) => (meta(h)['rng'] = '[1,2]'), /metadata field 'rng': RNG state must be 4 uint32 values/],
  ])('%s: an error naming the file and the field', async (_what, edit, message) => {
    const bad = rewriteHeader(ckpt, join(dir, 'bad.safetensors'), edit);
    const { n, backend } = counting();
    const err = await loadCheckpointFile(backend, bad).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err!.message).toMatch(/bad\.safetensors: /);
    expect(err!.message).toMatch(message);
    expect(n.allocations).toBe(0);
  });

  it('a non-finite parameter in a checkpoint is refused, naming the tensor', async () => {
    const bytes = readFileSync(ckpt);
    const len = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + len).toString('utf8'));
    const a = Object.keys(header).find((k) => /^param\.\d+\.a$/.test(k))!;
    const copy = Buffer.from(bytes);
    copy.writeFloatLE(Number.NaN, 8 + len + header[a].data_offsets[0]);
    const bad = join(dir, 'nan.safetensors');
    writeFileSync(bad, copy);
    await expect(loadCheckpointFile(cpuBackend(), bad)).rejects.toThrow(new RegExp(`nan\\.safetensors: tensor '${a.replace('.', '\\.')}' holds NaN at index 0`));
  });

  it('a directory as --checkpoint: an error naming it, from plif eval and plif inspect', async () => {
    await expect(loadCheckpointFile(cpuBackend(), dir)).rejects.toThrow(`${dir}: is a directory, not a checkpoint file`);
    const e = await cli(['eval', '--checkpoint', dir, '--data-dir', dataDir]);
    expect(e.code).toBe(1);
    expect(e.err).toContain(`${dir}: is a directory, not a checkpoint file`);
    const i = await cli(['inspect', '--checkpoint', dir]);
    expect(i.code).toBe(1);
    expect(i.err).toContain(`${dir}: is a directory, not a checkpoint file`);
  });

  it("a training state with epoch 'x' and batch -5 is refused before any file is touched", async () => {
    const run0 = join(dir, 'run');
    const metricsBefore = readFileSync(runPaths(run0).metrics, 'utf8');
    expect(metricsBefore.trim().split('\n')).toHaveLength(1);
    const good = readFileSync(runPaths(run0).last);
    for (const [state, message] of [
      [{ epoch: 'x', batch: -5 }, /training state field 'epoch' must be an integer in \[0, 1000000000\], got "x"/],
      [{ batch: -5 }, /training state field 'batch' must be an integer in \[0, 1000000000000\], got -5/],
      [{ epoch: 7 }, /stands at epoch 7, batch 0, beyond the run's 1 epochs \(give --epochs 7 or more\)/],
      [{ epoch: 0, batch: 40, seen: 640, best: null, dropoutRng: [1, 2, 3, 4], augmentRng: [1, 2, 3, 4] }, /stands at batch 40 of epoch 0, but an epoch of this run has 4 batches/],
      [{ seen: 3 }, /training state field 'seen' must be batch x batch size = 0 x 16, got 3/],
      [{ best: { epoch: 5, score: 2 } }, /training state field 'best' must be null or/],
    ] as const) {
      rewriteHeader(runPaths(run0).last, runPaths(run0).last, (h) => {
        const t = JSON.parse(meta(h)['training']!);
        t.state = { ...t.state, ...state };
        meta(h)['training'] = JSON.stringify(t);
      });
      await expect(run({ outDir: run0, config: config({ epochs: 1 }), resume: true })).rejects.toThrow(message);
      expect(readFileSync(runPaths(run0).metrics, 'utf8')).toBe(metricsBefore);
      writeFileSync(runPaths(run0).last, good);
    }
    // the untouched checkpoint still resumes (nothing left to do: the run's one epoch is done)
    const r = await run({ outDir: run0, config: config({ epochs: 1 }), resume: true });
    expect(r.status).toBe('done');
    expect(readFileSync(runPaths(run0).metrics, 'utf8')).toBe(metricsBefore);
  });
});

describe('temporary files left by a killed run', () => {
  it('are removed on start and on resume when their PID is dead; a live PID\'s and other files are kept', async () => {
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    const out = tmp();
    const plant = () => {
      writeFileSync(join(out, `.last.safetensors.${dead}.1a2b3c4d.tmp`), 'half a checkpoint');
      writeFileSync(join(out, `.metrics.jsonl.${dead}.00ff00ff.tmp`), '{"epoch": 0');
      writeFileSync(join(out, '.config.json.1.deadbeef.tmp'), 'PID 1 (init) always runs');
      writeFileSync(join(out, 'notes.txt'), 'mine');
    };
    plant();
    const notes: string[] = [];
    const r = await run({ outDir: out, config: config({ epochs: 1 }), reporter: { note: (m) => notes.push(m) } });
    expect(r.status).toBe('done');
    const left = () => readdirSync(out).sort();
    expect(left()).toEqual(['.config.json.1.deadbeef.tmp', 'best.safetensors', 'config.json', 'confusion.json', 'firing-maps.json', 'last.safetensors', 'metrics.jsonl', 'notes.txt', 'train-curve.jsonl']);
    expect(notes.join('\n')).toMatch(/removed 2 temporary file\(s\) left by a run that was killed/);
    plant();
    const again = await run({ outDir: out, config: config({ epochs: 2 }), resume: true });
    expect(again.status).toBe('done');
    expect(left()).toEqual(['.config.json.1.deadbeef.tmp', 'best.safetensors', 'config.json', 'confusion.json', 'firing-maps.json', 'last.safetensors', 'metrics.jsonl', 'notes.txt', 'train-curve.jsonl']);
  });
});

describe('the frame cache is best-effort', () => {
  const notADir = () => {
    const d = mkdtempSync(join(tmpdir(), 'plif-rel-'));
    writeFileSync(join(d, 'not-a-dir'), '');
    return { dir: join(d, 'not-a-dir', 'cache'), done: () => {} };
  };
  it.each([
    ['a file, not a directory', notADir, /not-a-dir is not a directory/],
    ['on a full disk', () => smallDisk(16), /no space left on the device \(disk full\) \(ENOSPC\)/],
    ['read-only', readOnlyDir, /is not writable: (read-only file system \(EROFS\)|permission denied \(EACCES\))/],
  ] as const)('a cache dir that is %s: one warning, training carries on uncached', async (_what, make, errno) => {
    const where = make();
    if (where === null) return; // no tmpfs here (not root): the other cases still run
    const warnings: string[] = [];
    const prev = setCacheWarningSink((m) => warnings.push(m));
    const env = process.env['PLIF_CACHE'];
    process.env['PLIF_CACHE'] = where.dir;
    try {
      const r = await runTraining({
        config: trainConfig({ preset: 'nmnist', dataDir: nmnist, T: 3, channels: 2, epochs: 2, batch: 8, evalBatch: 10 }),
        backend: cpuBackend(),
        backendInfo: {},
        outDir: tmp(),
        resume: false,
        version: 'test',
      });
      expect(r.status).toBe('done');
      expect(r.metrics).toHaveLength(2);
    } finally {
      setCacheWarningSink(prev);
      if (env === undefined) delete process.env['PLIF_CACHE'];
      else process.env['PLIF_CACHE'] = env;
      where.done();
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`the frame cache ${where.dir} cannot be written: cannot .*${errno.source}.*; carrying on without caching frames`));
  });
});

describe('sizes that cannot fit are refused up front with the figure and the limit', () => {
  it.each([
    ['train --T 100000000', ['train', '--preset', 'fmnist-small', '--T', '100000000'], /training fmnist-small at T = 100000000, batch 16 needs the output of layer \d+ \(\w+\) \[100000000, 16, .*\]: 2\.007e\+13 values, more than the 4294967296 a typed array can hold; use a smaller --T/],
    ['train --channels 100000', ['train', '--preset', 'fmnist-small', '--channels', '100000'], /with 100000 channels .* needs parameter \d+\.weight \[100000, 100000, 3, 3\]: 9\.000e\+10 values, more than the 4294967296/],
    ['train --eval-batch 10000000', ['train', '--preset', 'fmnist-small', '--eval-batch', '10000000'], /evaluation batch 10000000 needs .* values, more than the 4294967296 .*; use a smaller --eval-batch/],
    ['inspect --channels 100000', ['inspect', '--preset', 'cifar10', '--channels', '100000'], /needs parameter \d+\.weight \[100000, 100000, 3, 3\]: 9\.000e\+10 values, more than the 4294967296/],
    ['frames --T 1000000000', ['frames', '--format', 'nmnist', '--file', '/nonexistent.bin', '--T', '1000000000', '--out', '/nonexistent/x.npy'], /integrating 1000000000 frames needs frames \[1000000000, 2, 34, 34\]: 2\.312e\+12 values, more than the 4294967296/],
  ])('%s: exit 2 before anything is read, allocated or written', async (_what, argv, message) => {
    const out = join(tmp(), 'run');
    const args = argv[0] === 'train' ? [...argv, '--data-dir', dataDir, '--out', out] : argv;
    const t0 = performance.now();
    const r = await cli(args);
    expect(r.code, r.err).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err).not.toMatch(/Invalid typed array length/);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(existsSync(out)).toBe(false);
  });

  it('eval --eval-batch too large for the checkpoint', async () => {
    const dir = tmp();
    expect((await run({ outDir: dir, config: config({ epochs: 1 }) })).status).toBe('done');
    const r = await cli(['eval', '--checkpoint', runPaths(dir).last, '--data-dir', dataDir, '--eval-batch', '100000000']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/evaluating .*last\.safetensors \(T = 2\) in batches of 100000000 needs .*: .* values, more than the 4294967296 a typed array can hold; use a smaller --eval-batch/);
  });

  it('a total beyond the machine\'s memory names both figures', () => {
    expect(() => checkFits('training X', 2 * memoryLimit(), null, 'use a smaller --T')).toThrow(
      new RegExp(`training X needs about ${formatBytes(2 * memoryLimit()).replace('.', '\\.')} of memory, more than the ${formatBytes(memoryLimit()).replace('.', '\\.')} of this machine \\(.* free\\); use a smaller --T`),
    );
    expect(() => checkFits('a small run', 1024, { what: 'x', values: 256 })).not.toThrow();
  });
});

describe('preset names on the command line are those of core', () => {
  it('--preset FMNIST-SMALL trains fmnist-small (presets are case-insensitive)', async () => {
    const out = join(tmp(), 'run');
    const r = await cli(['train', '--preset', 'FMNIST-SMALL', '--data-dir', dataDir, '--channels', '2', '--T', '2', '--limit-train', '16', '--limit-test', '10', '--out', out, '--threads', '1']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(readFileSync(runPaths(out).config, 'utf8')).config.preset).toBe('fmnist-small');
  });

  it('--preset n-mnist trains nmnist', async () => {
    const out = join(tmp(), 'run');
    const r = await cli(['train', '--preset', 'n-mnist', '--data-dir', nmnist, '--channels', '2', '--T', '2', '--batch', '8', '--out', out, '--threads', '1']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(readFileSync(runPaths(out).config, 'utf8')).config).toMatchObject({ preset: 'nmnist', dataset: 'nmnist' });
  });

  it.each(Object.keys(PRESET_ALIASES).flatMap((a) => [a, a.toUpperCase()]))('--preset %s is accepted by plif train and plif inspect', async (alias) => {
    const t = await cli(['train', '--preset', alias, '--channels', '2', '--T', '2', '--data-dir', '/nonexistent/data', '--out', join(tmp(), 'run')]);
    expect(t.err).not.toMatch(/unknown preset/);
    expect(t.err).toMatch(/dataset '[\w-]+' not found/);
    expect((await cli(['inspect', '--preset', alias])).code).toBe(0);
  });

  it('an unknown preset lists the names and the aliases; no inherited property is a preset', async () => {
    for (const name of ['nope', 'constructor', '__proto__']) {
      const r = await cli(['train', '--preset', name]);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/unknown preset '.*' \(known: mnist, .*fmnist-small; also fmnist, .*dvsgesture\)/);
    }
  });
});

describe('--threads', () => {
  // dataDir is written in beforeAll: a placeholder here, replaced when a test runs
  const small = ['--preset', 'fmnist-small', '--data-dir', '__DATA__', '--channels', '2', '--T', '2', '--limit-train', '16', '--limit-test', '10'];
  const withData = (argv: string[]) => argv.map((a) => (a === '__DATA__' ? dataDir : a));

  it('is listed in the help of train and eval, recorded in config.json, defaults to PLIF_THREADS; bad values are usage errors', async () => {
    for (const c of ['train', 'eval']) expect((await cli([c, '--help'])).out).toMatch(/--threads N\s+CPU backend threads/);
    const out = join(tmp(), 'run');
    expect((await cli(['train', ...withData(small), '--out', out, '--threads', '2'])).code).toBe(0);
    expect(JSON.parse(readFileSync(runPaths(out).config, 'utf8')).backend).toMatchObject({ name: 'cpu', threads: 2 });
    const env = process.env['PLIF_THREADS'];
    process.env['PLIF_THREADS'] = '3';
    try {
      const out3 = join(tmp(), 'run');
      expect((await cli(['train', ...withData(small), '--out', out3])).code).toBe(0);
      expect(JSON.parse(readFileSync(runPaths(out3).config, 'utf8')).backend.threads).toBe(3);
    } finally {
      if (env === undefined) delete process.env['PLIF_THREADS'];
      else process.env['PLIF_THREADS'] = env;
    }
    for (const argv of [['train', ...withData(small), '--threads', '0'], ['eval', '--checkpoint', runPaths(out).last, '--threads', 'many']]) {
      const r = await cli(argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/--threads must be an integer >= 1/);
    }
    const e = await cli(['eval', '--checkpoint', runPaths(out).last, '--data-dir', dataDir, '--threads', '2', '--json']);
    expect(e.code, e.err).toBe(0);
    expect(JSON.parse(e.out).backend).toMatchObject({ name: 'cpu', threads: 2 });
  });

  it('a run resumed with another thread count ends with the metrics and weights of an uninterrupted one', async () => {
    const withThreads = async <T>(threads: number, f: (b: Backend, info: Record<string, unknown>) => Promise<T>) => {
      const o = await openBackend('cpu', { threads });
      try {
        return await f(o.backend, o.info);
      } finally {
        o.close();
      }
    };
    const a = tmp();
    const full = await withThreads(1, (backend, backendInfo) => run({ outDir: a, backend, backendInfo }));
    const b = tmp();
    let n = 0;
    const first = await withThreads(2, (backend, backendInfo) => run({ outDir: b, backend, backendInfo, shouldStop: () => n++ === 6 }));
    expect(first.status).toBe('interrupted');
    const rest = await withThreads(3, (backend, backendInfo) => run({ outDir: b, backend, backendInfo, resume: true }));
    expect(withoutTimes(rest.metrics)).toEqual(withoutTimes(full.metrics));
    const pa = await loadTrainingCheckpoint(cpuBackend(), runPaths(a).last);
    const pb = await loadTrainingCheckpoint(cpuBackend(), runPaths(b).last);
    expect(pb.net.params().map((p) => Array.from(pb.net.backend.download(p.value)))).toEqual(pa.net.params().map((p) => Array.from(pa.net.backend.download(p.value))));
  });
});

describe('interruptions and the lock, in process', () => {
  it('a stop while evaluating checkpoints the finished training of the epoch; the resume evaluates it and matches an uninterrupted run', async () => {
    const full = await run({ outDir: tmp() });
    const out = tmp();
    let polls = 0;
    const first = await run({ outDir: out, shouldStop: () => ++polls === 5 }); // 4 batch polls, then the test pass
    expect(first.status).toBe('interrupted');
    expect(first.metrics).toHaveLength(0);
    expect((await loadTrainingCheckpoint(cpuBackend(), runPaths(out).last)).state).toMatchObject({ epoch: 0, batch: 4 });
    const rest = await run({ outDir: out, resume: true });
    expect(withoutTimes(rest.metrics)).toEqual(withoutTimes(full.metrics));
  });

  it('a second run into a directory this process trains in is refused too', async () => {
    const out = tmp();
    let second: Promise<unknown> | null = null;
    const r = await run({
      outDir: out,
      shouldStop: () => {
        second ??= run({ outDir: out }).then(
          () => 'trained',
          (e: Error) => e.message,
        );
        return false;
      },
    });
    expect(r.status).toBe('done');
    expect(await second).toMatch(new RegExp(`is in use by another plif train \\(PID ${process.pid}`));
    expect(existsSync(join(out, 'train.lock'))).toBe(false);
  });
});
