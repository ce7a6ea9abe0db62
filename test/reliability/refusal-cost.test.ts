// Refusals cost what the header costs, not what the file does: crafted files (sparse where they are large,
// so that they take no room on disk) handed to the built CLI as a child process, whose peak memory (its
// own maxRSS, written at exit by a preloaded module) and wall time are measured. Each refusal must come
// within 200 MB and 2 s. Before these checks: the 1.9 GB sparse checkpoint took 1.95 GB, the 60 MB header
// 0.97 GB, the NIR file declaring 1.5e8 values 3.5 GB and 13 s, the IDX gzip bomb GBs, and
// `plif bench --batch 100000` grew past 1 GB within 8 s. Also: tensors that share bytes are refused
// naming both, and a thread count out of range names where it came from.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import h5wasm from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../core/checkpoint.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { Rng } from '../../core/rng.js';
import { referenceBackend } from '../../reference/ops-backend.js';
import { idxBytes } from '../data/writers.js';
import { ensureBuilt, PLIF, ROOT } from './helpers.js';

const MB = 2 ** 20;
/** The goal of every refusal here. */
const MAX_RSS = 200 * MB;
const MAX_MS = 2000;

let dir: string;
let preload: string;

interface Measured {
  code: number | null;
  out: string;
  err: string;
  /** Peak resident memory of the CLI process, bytes. */
  rss: number;
  ms: number;
}

/** Runs `node dist/cli/plif.js ...args`; its maxRSS is written at exit by a preloaded module. */
function measure(args: string[], env: Record<string, string> = {}): Promise<Measured> {
  const rssFile = join(dir, `rss.${Math.random().toString(36).slice(2)}`);
  const t0 = performance.now();
  const proc = spawn(process.execPath, ['--import', pathToFileURL(preload).href, PLIF, ...args], {
    cwd: ROOT,
    env: { ...process.env, PLIF_THREADS: '1', ...env, PLIF_TEST_RSS_FILE: rssFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    proc.on('close', (code) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      const rss = existsSync(rssFile) ? Number(readFileSync(rssFile, 'utf8')) * 1024 : Number.POSITIVE_INFINITY;
      resolve({ code, out, err, rss, ms });
    }),
  );
}

/** The refusal came, and cheaply. */
function bounded(r: Measured): void {
  if (process.env['PLIF_TEST_VERBOSE']) console.log(`${(r.rss / MB).toFixed(0)} MB, ${(r.ms / 1000).toFixed(2)} s, exit ${r.code}: ${r.err.split('\n')[0]!.slice(0, 160)}`);
  expect(r.code, r.err).not.toBe(0);
  expect(r.code).not.toBeNull();
  expect(r.rss, `peak RSS ${(r.rss / MB).toFixed(0)} MB: ${r.err}`).toBeLessThan(MAX_RSS);
  expect(r.ms, r.err).toBeLessThan(MAX_MS);
}

/** A safetensors file: the header (padded with spaces to 8 bytes), then `dataBytes` bytes (a sparse hole past `data`). */
function safetensors(path: string, header: string | object, dataBytes: number, data: Uint8Array = new Uint8Array(0)): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const h = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, h);
    writeSync(fd, data);
  } finally {
    closeSync(fd);
  }
  truncateSync(path, 8 + h.length + dataBytes);
  return path;
}

/** A real checkpoint of a small network with a BN layer, as header and data. */
function smallCheckpoint(): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> & { __metadata__?: unknown }; data: Uint8Array } {
  const net = new Network(referenceBackend(), networkConfig('c2k3s1-BN-PLIF-FC4-PLIF', [1, 3, 3], 4, { T: 2 }), Rng.seeded(1));
  const bytes = saveCheckpoint(net);
  const len = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(Buffer.from(bytes.subarray(8, 8 + len)).toString('utf8')), data: bytes.subarray(8 + len) };
}

beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'plif-refusal-cost-'));
  preload = join(dir, 'rss.mjs');
  writeFileSync(
    preload,
    "import { writeFileSync } from 'node:fs';\nprocess.on('exit', () => writeFileSync(process.env.PLIF_TEST_RSS_FILE, String(process.resourceUsage().maxRSS)));\n",
  );
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('checkpoints: decided from the header and the sizes, before any tensor is read', () => {
  it('a 1.9 GB sparse checkpoint with a 16-byte header: refused from its size by eval, inspect and export', async () => {
    const f = safetensors(join(dir, 'sparse.safetensors'), `{}${' '.repeat(14)}`, 1.9e9);
    for (const args of [['eval', '--checkpoint', f], ['inspect', '--checkpoint', f], ['export', '--checkpoint', f, '--format', 'nir', '--out', join(dir, 'x.nir')]]) {
      const r = await measure(args);
      bounded(r);
      expect(r.err).toContain(`${f}: `);
      expect(r.err).toMatch(/corrupt file: 1900000000 data bytes but the tensors cover 0/);
    }
    expect(existsSync(join(dir, 'x.nir'))).toBe(false);
  }, 60_000);

  it('a 1.9 GB sparse checkpoint whose one tensor covers it: refused from the shapes its config implies', async () => {
    const { header } = smallCheckpoint();
    const n = 1.9e9 / 4;
    const f = safetensors(join(dir, 'big-tensor.safetensors'), { __metadata__: header.__metadata__, 'param.0.weight': { dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] } }, 4 * n);
    const r = await measure(['inspect', '--checkpoint', f]);
    bounded(r);
    expect(r.err).toContain(`${f}: tensor 'param.0.weight' has shape [${n}], the network needs [2,1,3,3]`);
  }, 60_000);

  it('a 60 MB header of a million empty tensors: refused from its length', async () => {
    const parts: string[] = [];
    for (let i = 0; i < 1_000_000; i++) parts.push(`"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`);
    const header = `{${parts.join(',')}}`;
    expect(header.length).toBeGreaterThan(55e6);
    const f = safetensors(join(dir, 'wide.safetensors'), header, 0);
    const r = await measure(['inspect', '--checkpoint', f]);
    bounded(r);
    expect(r.err).toMatch(new RegExp(`wide\\.safetensors: not a plif-snn checkpoint: a header of \\d{8} bytes, more than the ${4 * MB} read`));
  }, 60_000);

  it('a header just under the limit, all empty tensors: parsed and refused within the bound', async () => {
    const parts: string[] = [];
    let size = 2;
    for (let i = 0; size < 4 * MB - 100; i++) {
      const p = `"t${i}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`;
      parts.push(p);
      size += p.length + 1;
    }
    const f = safetensors(join(dir, 'under.safetensors'), `{${parts.join(',')}}`, 0);
    const r = await measure(['inspect', '--checkpoint', f]);
    bounded(r);
    expect(r.err).toContain(`${f}: not a plif-snn checkpoint: metadata format is undefined`);
  }, 60_000);
});

describe('checkpoints whose tensors share bytes', () => {
  it("beta reading gamma's bytes is refused by eval and inspect, naming both; the untouched file loads", async () => {
    const { header, data } = smallCheckpoint();
    const good = safetensors(join(dir, 'good.safetensors'), header, data.length, data);
    const ok = await measure(['inspect', '--checkpoint', good]);
    expect(ok.code, ok.err).toBe(0);
    const gamma = header['param.1.gamma']!.data_offsets;
    const beta = header['param.1.beta']!;
    const shared = safetensors(join(dir, 'shared.safetensors'), { ...header, 'param.1.beta': { ...beta, data_offsets: [...gamma] } }, data.length, data);
    const msg = `${shared}: corrupt file: tensors 'param.1.gamma' (data bytes ${gamma[0]}..${gamma[1]}) and 'param.1.beta' (data bytes ${gamma[0]}..${gamma[1]}) share bytes ${gamma[0]}..${gamma[1]}`;
    for (const args of [['inspect', '--checkpoint', shared], ['eval', '--checkpoint', shared]]) {
      const r = await measure(args);
      expect(r.code).not.toBe(0);
      expect(r.err).toContain(msg);
    }
    // a partial overlap: beta starts 4 bytes into gamma
    const partial = safetensors(join(dir, 'partial.safetensors'), { ...header, 'param.1.beta': { ...beta, data_offsets: [gamma[0] + 4, gamma[1] + 4] } }, data.length, data);
    const r = await measure(['inspect', '--checkpoint', partial]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain(`tensors 'param.1.gamma' (data bytes ${gamma[0]}..${gamma[1]}) and 'param.1.beta' (data bytes ${gamma[0] + 4}..${gamma[1] + 4}) share bytes ${gamma[0] + 4}..${gamma[1]}`);
  }, 60_000);
});

describe('IDX gzip bombs: the magic checked on the first inflated bytes, the inflated size bounded by the header', () => {
  /** A data directory of Fashion-MNIST whose training images are `images` (written as given). */
  const dataDir = (name: string, images: (path: string) => void): string => {
    const d = join(dir, name);
    mkdirSync(d);
    images(join(d, 'train-images-idx3-ubyte.gz'));
    writeFileSync(join(d, 'train-labels-idx1-ubyte.gz'), idxBytes([10], new Array(10).fill(1), true));
    writeFileSync(join(d, 't10k-images-idx3-ubyte.gz'), idxBytes([10, 28, 28], new Array(7840).fill(3), true));
    writeFileSync(join(d, 't10k-labels-idx1-ubyte.gz'), idxBytes([10], new Array(10).fill(2), true));
    return d;
  };
  /** gzip members that inflate to `head` then `gib` GiB of zeros (a member of 64 MiB of zeros, repeated). */
  const bomb = (path: string, head: Uint8Array, gib: number) => {
    const zeros = gzipSync(Buffer.alloc(64 * MB), { level: 9 });
    const fd = openSync(path, 'w');
    try {
      writeSync(fd, gzipSync(head));
      for (let i = 0; i < gib * 16; i++) writeSync(fd, zeros);
    } finally {
      closeSync(fd);
    }
  };
  const train = (d: string) => measure(['train', '--preset', 'fmnist-small', '--data-dir', d, '--epochs', '1', '--limit-train', '10', '--limit-test', '10', '--out', join(d, 'run')]);

  it('a bad magic: "bad IDX magic" after the first bytes, not after inflating 2 GiB', async () => {
    const d = dataDir('bad-magic', (p) => bomb(p, Buffer.from('BAD!'), 2));
    const r = await train(d);
    bounded(r);
    expect(r.err).toMatch(/train-images-idx3-ubyte\.gz \(byte offset 0\): bad IDX magic 0x42414421, expected 0x00000803/);
  }, 120_000);

  it('a good header of [10, 28, 28] followed by 1 GiB: refused once the inflated data passes what it declares', async () => {
    const d = dataDir('long-tail', (p) => bomb(p, idxBytes([10, 28, 28], new Array(7840).fill(5)), 1));
    const r = await train(d);
    bounded(r);
    expect(r.err).toMatch(/train-images-idx3-ubyte\.gz \(byte offset 7856\): at least \d+ unexpected byte\(s\) after the IDX data of dimensions \[10, 28, 28\]/);
  }, 120_000);

  it('a raw 1.9 GB sparse file with a bad magic: refused from its first bytes', async () => {
    const d = dataDir('raw', () => undefined);
    const raw = join(d, 'train-images-idx3-ubyte');
    writeFileSync(raw, Buffer.from('BAD!'));
    truncateSync(raw, 1.9e9);
    const r = await train(d);
    bounded(r);
    expect(r.err).toMatch(/train-images-idx3-ubyte \(byte offset 0\): bad IDX magic 0x42414421/);
  }, 60_000);
});

describe('NIR files: declared sizes checked against the file before any value is read', () => {
  it('a 13 kB NIR file declaring 1.5e8 values (compressed, mostly unwritten chunks) is refused, naming the dataset', async () => {
    await h5wasm.ready;
    const f = join(dir, 'bomb.nir');
    const h = new h5wasm.File(f, 'w');
    h.create_dataset({ name: 'version', data: '0.5.0' });
    const node = h.create_group('node');
    node.create_dataset({ name: 'type', data: 'NIRGraph' });
    const fc = node.create_group('nodes').create_group('fc');
    fc.create_dataset({ name: 'type', data: 'Linear' });
    const w = fc.create_dataset({ name: 'weight', data: new Float32Array(1024), shape: [1, 1024], dtype: '<f', maxshape: [null, 1024], chunks: [1, 1024], compression: 9 });
    w.resize([150_000, 1024]);
    h.close();
    const out = join(dir, 'bomb.safetensors');
    const r = await measure(['import', '--format', 'nir', f, '--out', out]);
    bounded(r);
    expect(r.err).toContain(`${f}: /node/nodes/fc/weight declares 1.536e+8 values of shape [150000, 1024] (614400000 bytes)`);
    expect(existsSync(out)).toBe(false);
  }, 60_000);
});

describe('plif bench: the size check of plif train before anything is allocated', () => {
  it.each([
    [['--batch', '100000'], /plif bench: benchmarking fmnist-small at T = 4, batch 100000 needs the output of layer \d+ \(PLIF\) \[4, 100000, 16, 28, 28\]: 5\.018e\+9 values, more than the 4294967296 a typed array can hold; use a smaller --T, --batch or --channels/],
    [['--channels', '1000000'], /plif bench: benchmarking fmnist-small with 1000000 channels at T = 4, batch 16 needs parameter \d+\.weight \[1000000, 1000000, 3, 3\]: 9\.000e\+12 values, more than the 4294967296 a typed array can hold/],
  ])('plif bench %s: exit 2 with the figure and the limit', async (flags, message) => {
    const r = await measure(['bench', '--no-tfjs', '--steps', '1', ...flags]);
    bounded(r);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
  }, 60_000);

  it('plif train refuses the same size with the same kind of message and exit code', async () => {
    const r = await measure(['train', '--preset', 'fmnist-small', '--batch', '100000', '--out', join(dir, 'big-run')]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/training fmnist-small at T = 4, batch 100000 needs the output of layer \d+ \(PLIF\) \[4, 100000, 16, 28, 28\]: 5\.018e\+9 values, more than the 4294967296 a typed array can hold/);
  }, 60_000);
});

describe('a thread count out of range names where it came from', () => {
  it.each([
    ['PLIF_THREADS=1000', ['eval', '--checkpoint', 'x.safetensors'], { PLIF_THREADS: '1000' }, 'PLIF_THREADS=1000 (the environment variable): threads must be an integer in 1..256, got 1000'],
    ['PLIF_THREADS=1000', ['train', '--preset', 'fmnist-small', '--out', 'never'], { PLIF_THREADS: '1000' }, 'PLIF_THREADS=1000 (the environment variable): threads must be an integer in 1..256, got 1000'],
    ['PLIF_THREADS=1000', ['bench', '--no-tfjs', '--steps', '1'], { PLIF_THREADS: '1000' }, 'PLIF_THREADS=1000 (the environment variable): threads must be an integer in 1..256, got 1000'],
    ['--threads 300', ['eval', '--threads', '300', '--checkpoint', 'x.safetensors'], {}, '--threads 300: threads must be an integer in 1..256, got 300'],
    ['--threads 300', ['train', '--preset', 'fmnist-small', '--threads', '300', '--out', 'never'], {}, '--threads 300: threads must be an integer in 1..256, got 300'],
  ])('%s: plif %s', async (_what, args, env, message) => {
    const r = await measure(args as string[], env as Record<string, string>);
    expect(r.code).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err).not.toContain('--backend');
    expect(existsSync(join(ROOT, 'never'))).toBe(false);
  }, 60_000);
});
