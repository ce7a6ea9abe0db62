// Messages of refusals (issue 25, item 7), from the built CLI as a child process on real files: what they
// quote is capped (a 3 MB string in a header or a training state field used to be echoed whole), JSON
// nested a million levels deep is refused naming the file (it used to end in "Maximum call stack size
// exceeded"), a run lock that is a directory or a FIFO is named (the FIFO used to hang), HDF5's "name not
// defined!" and its allocator's "Requested allocation ... exceeds maximum memory" name the file and the
// object and its C diagnostics stay off the terminal (unless PLIF_DEBUG is set), plif plot names the file
// and the field, and the same fault exits with the same code in every command.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import h5wasm from 'h5wasm/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeTinyFashionMnist } from '../training/fixtures.js';
import { ensureBuilt, plifRun } from './helpers.js';

let dir: string;
let data: string;
/** A finished one-epoch run of plif train. */
let run: string;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'plif-messages-'));
  data = writeTinyFashionMnist(64, 20);
  run = join(dir, 'run');
  const r = await plifRun(['train', '--preset', 'fmnist-small', '--data-dir', data, '--limit-train', '32', '--limit-test', '20', '--epochs', '1', '--out', run]);
  if (r.code !== 0) throw new Error(`the run failed:\n${r.out}${r.err}`);
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const BIG = 'A'.repeat(3_000_000);
const DEEP = '['.repeat(1_000_000) + ']'.repeat(1_000_000);

/** The run's last checkpoint as header (parsed) and data bytes. */
function parts(): { header: Record<string, unknown> & { __metadata__: Record<string, string> }; data: Buffer } {
  const bytes = readFileSync(join(run, 'last.safetensors'));
  const len = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')), data: bytes.subarray(8 + len) };
}

/** A checkpoint of the run's tensors under `header` (an object, or JSON text as it is). */
function checkpoint(name: string, header: object | string): string {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const h = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const p = join(dir, name);
  writeFileSync(p, Buffer.concat([len, h, parts().data]));
  return p;
}

/** The run's training metadata with `edit` applied, as the metadata string. */
function training(edit: (t: { config: Record<string, unknown>; state: Record<string, unknown> }) => unknown): string {
  return JSON.stringify(edit(JSON.parse(parts().header.__metadata__['training']!)));
}

/** A copy of the run directory. */
function runCopy(name: string): string {
  const d = join(dir, name);
  cpSync(run, d, { recursive: true });
  return d;
}

/**
 * The message is short, names `file`, quotes the first 200 characters of the 3 MB string as written (with
 * its opening quote mark: 199 letters) and says how long it was (with both quote marks).
 */
function capped(err: string, file: string): void {
  expect(err.length, err.slice(0, 300)).toBeLessThan(1000);
  expect(err).toContain(file);
  expect(err).toMatch(new RegExp(`["']A{199}…\\(3000002 chars\\)`));
  expect(err).not.toContain('A'.repeat(200));
}

describe('what a message quotes is capped', () => {
  it('a 3 MB dtype string in a checkpoint header: eval, inspect and export quote 200 characters, all exit 1', async () => {
    const { header } = parts();
    const first = Object.keys(header).find((k) => k !== '__metadata__')!;
    const f = checkpoint('big-dtype.safetensors', { ...header, [first]: { ...(header[first] as object), dtype: BIG } });
    for (const args of [['eval', '--checkpoint', f, '--data-dir', data], ['inspect', '--checkpoint', f], ['export', '--checkpoint', f, '--out', join(dir, 'x.nir')]]) {
      const r = await plifRun(args);
      expect(r.code, `${args[0]}: ${r.err.slice(0, 300)}`).toBe(1);
      capped(r.err, `${f}: tensor '${first}': dtype "`);
    }
    expect(existsSync(join(dir, 'x.nir'))).toBe(false);
  }, 60_000);

  it('a 3 MB string as the training state epoch: eval and train --resume quote 200 characters', async () => {
    const { header } = parts();
    const meta = { ...header.__metadata__, training: training((t) => ({ ...t, state: { ...t.state, epoch: BIG } })) };
    const f = checkpoint('big-state.safetensors', { ...header, __metadata__: meta });
    const e = await plifRun(['eval', '--checkpoint', f, '--data-dir', data]);
    expect(e.code).toBe(1);
    capped(e.err, `${f}: training state field 'epoch' must be an integer`);
    const d = runCopy('big-state-run');
    cpSync(f, join(d, 'last.safetensors'));
    const r = await plifRun(['train', '--resume', d, '--epochs', '2']);
    expect(r.code).toBe(1);
    capped(r.err, `${join(d, 'last.safetensors')}: training state field 'epoch'`);
  }, 60_000);

  it('a 3 MB preset name in the training config: the message of the preset lookup is capped too', async () => {
    const { header } = parts();
    const meta = { ...header.__metadata__, training: training((t) => ({ ...t, config: { ...t.config, preset: BIG } })) };
    const f = checkpoint('big-config.safetensors', { ...header, __metadata__: meta });
    const r = await plifRun(['eval', '--checkpoint', f, '--data-dir', data]);
    expect(r.code).toBe(1);
    capped(r.err, `${f}: training config: unknown preset '`);
  }, 60_000);
});

describe('JSON nested a million levels deep is refused naming the file', () => {
  const noStackOverflow = (err: string) => expect(err).not.toMatch(/call stack/i);

  it('in a checkpoint header, a metadata field and the training state', async () => {
    const { header } = parts();
    const inHeader = checkpoint('deep-header.safetensors', `${JSON.stringify(header).slice(0, -1)},"deep":${DEEP}}`);
    const inConfig = checkpoint('deep-config.safetensors', { ...header, __metadata__: { ...header.__metadata__, config: DEEP } });
    const inState = checkpoint('deep-state.safetensors', { ...header, __metadata__: { ...header.__metadata__, training: training((t) => ({ ...t, state: 0 })).replace('"state":0', `"state":${DEEP}`) } });
    for (const [f, message] of [
      [inHeader, 'not a safetensors file: the header is not JSON (JSON nested more than 64 levels deep)'],
      [inConfig, "metadata field 'config' is not JSON (JSON nested more than 64 levels deep)"],
      [inState, 'its training metadata is not JSON (JSON nested more than 64 levels deep)'],
    ] as const) {
      const r = await plifRun(['eval', '--checkpoint', f, '--data-dir', data]);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(`${f}: ${message}`);
      noStackOverflow(r.err);
    }
    const i = await plifRun(['inspect', '--checkpoint', inHeader]);
    expect(i.code).toBe(1);
    expect(i.err).toContain(`${inHeader}: not a safetensors file`);
    const d = runCopy('deep-state-run');
    cpSync(inState, join(d, 'last.safetensors'));
    const r = await plifRun(['train', '--resume', d, '--epochs', '2']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(d, 'last.safetensors')}: its training metadata is not JSON (JSON nested more than 64 levels deep)`);
    noStackOverflow(r.err);
  }, 60_000);

  it("in a run's config.json: train --resume names it and exits 1, as for a corrupt checkpoint", async () => {
    const d = runCopy('deep-run-config');
    const config = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...config, config: { ...config.config, preset: 0 } }).replace('"preset":0', `"preset":${DEEP}`));
    const r = await plifRun(['train', '--resume', d, '--epochs', '2']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`--resume ${d}: ${join(d, 'config.json')} is not a run's config.json (JSON nested more than 64 levels deep)`);
    noStackOverflow(r.err);
  }, 60_000);

  it('in firing-maps.json and metrics.jsonl: plif plot names the file (and the line) and writes no figure', async () => {
    const maps = runCopy('deep-maps');
    writeFileSync(join(maps, 'firing-maps.json'), DEEP);
    const m = await plifRun(['plot', maps, '--no-png']);
    expect(m.code).toBe(1);
    expect(m.err).toContain(`${join(maps, 'firing-maps.json')}: not JSON (JSON nested more than 64 levels deep)`);
    noStackOverflow(m.err);
    expect(existsSync(join(maps, 'plots'))).toBe(false);
    const metrics = runCopy('deep-metrics');
    writeFileSync(join(metrics, 'metrics.jsonl'), `${DEEP}\n`);
    const r = await plifRun(['plot', metrics, '--no-png']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(metrics, 'metrics.jsonl')}:1: not a JSON line (JSON nested more than 64 levels deep)`);
    noStackOverflow(r.err);
  }, 60_000);
});

describe('plif plot names the file and the field', () => {
  it('a firing-maps.json cut short', async () => {
    const d = runCopy('broken-maps');
    writeFileSync(join(d, 'firing-maps.json'), readFileSync(join(run, 'firing-maps.json'), 'utf8').slice(0, 200));
    const r = await plifRun(['plot', d, '--no-png']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(new RegExp(`^plif: ${join(d, 'firing-maps.json')}: not JSON \\(`));
    expect(existsSync(join(d, 'plots'))).toBe(false);
  }, 60_000);

  it("a firing-maps.json whose rates do not fit its shape, and a string test_acc in metrics.jsonl", async () => {
    const d = runCopy('bad-rates');
    const maps = JSON.parse(readFileSync(join(run, 'firing-maps.json'), 'utf8'));
    maps.samples[1].rates = maps.samples[1].rates.slice(1);
    writeFileSync(join(d, 'firing-maps.json'), JSON.stringify(maps));
    const r = await plifRun(['plot', d, '--no-png']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${join(d, 'firing-maps.json')}: samples[1]: field 'rates' must be 12544 firing rates in [0, 1] (the shape [16, 28, 28]), got "a list of 12543 values"`);

    const s = runCopy('string-acc');
    const lines = readFileSync(join(run, 'metrics.jsonl'), 'utf8').trim().split('\n');
    writeFileSync(join(s, 'metrics.jsonl'), lines.map((l) => JSON.stringify({ ...JSON.parse(l), test_acc: 'high' })).join('\n') + '\n');
    const p = await plifRun(['plot', s, '--no-png']);
    expect(p.code).toBe(1);
    expect(p.err).toContain(`${join(s, 'metrics.jsonl')}:1: field 'test_acc' must be a number in [0, 1], got "high"`);
    expect(existsSync(join(s, 'plots'))).toBe(false);
    // the run itself plots
    const ok = await plifRun(['plot', runCopy('plots-ok'), '--no-png']);
    expect(ok.code, ok.err).toBe(0);
  }, 60_000);
});

describe('a run lock that is not a file', () => {
  it('a directory, or a FIFO (which must not hang the run): refused naming the lock file, exit 1', async () => {
    const d1 = runCopy('lock-dir');
    mkdirSync(join(d1, 'train.lock'));
    const d2 = runCopy('lock-fifo');
    expect(spawnSync('mkfifo', [join(d2, 'train.lock')]).status).toBe(0);
    for (const [d, kind] of [[d1, 'a directory'], [d2, 'a named pipe (FIFO)']] as const) {
      const r = await plifRun(['train', '--resume', d, '--epochs', '2']);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(`cannot take the lock ${join(d, 'train.lock')}: it is ${kind}, not the lock file plif train writes (a PID); remove it if no run is using ${d}`);
      expect(readFileSync(join(d, 'metrics.jsonl'), 'utf8')).toBe(readFileSync(join(run, 'metrics.jsonl'), 'utf8'));
    }
  }, 60_000);
});

describe('HDF5 failures name the file and the object, its diagnostics stay off the terminal', () => {
  /** A NIR graph whose Linear weight is a soft link to nothing (h5wasm: "error - name not defined!"). */
  async function danglingLink(): Promise<string> {
    await h5wasm.ready;
    const f = join(dir, 'dangling.nir');
    const h = new h5wasm.File(f, 'w');
    h.create_dataset({ name: 'version', data: '0.5.0' });
    const node = h.create_group('node');
    node.create_dataset({ name: 'type', data: 'NIRGraph' });
    const fc = node.create_group('nodes').create_group('fc');
    fc.create_dataset({ name: 'type', data: 'Linear' });
    fc.create_soft_link('/nowhere/at/all', 'weight');
    h.close();
    return f;
  }

  it('a link to nothing and a truncated file: the file and the object named, no HDF5-DIAG lines', async () => {
    const dangling = await danglingLink();
    const r = await plifRun(['import', '--format', 'nir', dangling, '--out', join(dir, 'd.safetensors')]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`plif: cannot read the NIR file ${dangling}: /node/nodes/fc/weight cannot be opened (a link to nothing, or a damaged or truncated file)\n`);
    expect(r.out).toBe('');

    const full = join(dir, 'full.nir');
    const ck = checkpoint('plain.safetensors', parts().header);
    expect((await plifRun(['export', '--checkpoint', ck, '--out', full])).code).toBe(0);
    const cut = join(dir, 'cut.nir');
    writeFileSync(cut, readFileSync(full).subarray(0, readFileSync(full).length >> 1));
    const t = await plifRun(['import', '--format', 'nir', cut, '--out', join(dir, 'c.safetensors')]);
    expect(t.code).toBe(1);
    expect(t.err.trim().split('\n')).toHaveLength(1);
    expect(t.err).toContain(`cannot read the NIR file ${cut}: `);
    expect(t.err).toContain('cannot be opened (a link to nothing, or a damaged or truncated file)');
    expect(t.err + t.out).not.toMatch(/HDF5-DIAG|name not defined/);
    expect(existsSync(join(dir, 'c.safetensors'))).toBe(false);
  }, 60_000);

  it('PLIF_DEBUG=1 lets the library diagnostics through, beside the same message', async () => {
    const dangling = await danglingLink();
    const r = await plifRun(['import', '--format', 'nir', dangling, '--out', join(dir, 'd.safetensors')], { env: { PLIF_DEBUG: '1' } });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/HDF5-DIAG/);
    expect(r.err).toContain(`cannot read the NIR file ${dangling}: /node/nodes/fc/weight cannot be opened`);
  }, 60_000);

  it('a dataset beyond the HDF5 library memory (2 GiB) in a 160 MB (sparse) file: named, not "Requested allocation"', async () => {
    await h5wasm.ready;
    const f = join(dir, 'alloc.nir');
    const h = new h5wasm.File(f, 'w');
    h.create_dataset({ name: 'version', data: '0.5.0' });
    const node = h.create_group('node');
    node.create_dataset({ name: 'type', data: 'NIRGraph' });
    const fc = node.create_group('nodes').create_group('fc');
    fc.create_dataset({ name: 'type', data: 'Linear' });
    const w = fc.create_dataset({ name: 'weight', data: new Float32Array(1024), shape: [1, 1024], dtype: '<f', maxshape: [null, 1024], chunks: [1, 1024], compression: 9 });
    w.resize([600_000, 1024]);
    h.close();
    // a file this large may declare 2.5 GB (16 times its size), more than the library's memory
    truncateSync(f, 160 * 2 ** 20);
    const r = await plifRun(['import', '--format', 'nir', f, '--out', join(dir, 'a.safetensors')]);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`plif: cannot read the NIR file ${f}: /node/nodes/fc/weight needs 2457600000 bytes, more than the 2147483648 bytes the HDF5 library (WebAssembly) can hold\n`);
  }, 60_000);
});

describe('one exit code per fault', () => {
  it('a corrupt checkpoint: eval, inspect and export all exit 1; a bad flag exits 2; plif --help says so', async () => {
    const f = join(dir, 'corrupt.safetensors');
    writeFileSync(f, readFileSync(join(run, 'last.safetensors')).subarray(0, 5000));
    for (const args of [['eval', '--checkpoint', f, '--data-dir', data], ['inspect', '--checkpoint', f], ['export', '--checkpoint', f, '--out', join(dir, 'y.nir')]]) {
      const r = await plifRun(args);
      expect(r.code, `${args[0]}: ${r.err}`).toBe(1);
      expect(r.err).toContain(f);
    }
    for (const args of [['eval', '--checkpoint', f, '--eval-batch', '0'], ['inspect', '--preset', 'no-such-preset'], ['export', '--checkpoint', f, '--dt', '-1']]) {
      expect((await plifRun(args)).code, args.join(' ')).toBe(2);
    }
    const help = await plifRun(['--help']);
    expect(help.out).toMatch(/exit status \(every command\):\n {2}0 {2}done\n {2}1 {2}a file could not be used/);
  }, 60_000);

  it("a training state's header is read within the checkpoint reader's bound: a 100 MB header length is refused at once", async () => {
    const d = runCopy('long-header');
    const last = join(d, 'last.safetensors');
    const bytes = readFileSync(last);
    bytes.writeBigUInt64LE(100n * 2n ** 20n, 0);
    writeFileSync(last, bytes);
    truncateSync(last, 300 * 2 ** 20); // sparse: the header length fits in the file
    const r = await plifRun(['train', '--resume', d, '--epochs', '2']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${last}: not a plif-snn checkpoint: a header of 104857600 bytes, more than the 4194304 read`);
  }, 60_000);
});
