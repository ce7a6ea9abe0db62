// plif train / eval as a user runs them: the built CLI in a child process, real signals, real files.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTinyFashionMnist } from '../training/fixtures.js';
import { alive, ensureBuilt, plif, plifRun, readOnlyDir, smallDisk, type Child } from './helpers.js';

let data: string;
/** A checkpoint of a finished one-epoch run, for plif eval. */
let evalCheckpoint: string;
beforeAll(async () => {
  ensureBuilt();
  data = writeTinyFashionMnist(800, 20);
  const out = join(mkdtempSync(join(tmpdir(), 'plif-rel-')), 'run');
  const r = await plifRun(['train', '--preset', 'fmnist-small', '--data-dir', data, '--limit-train', '32', '--limit-test', '20', '--out', out]);
  if (r.code !== 0) throw new Error(`the eval checkpoint's run failed:\n${r.out}${r.err}`);
  evalCheckpoint = join(out, 'best.safetensors');
}, 120_000);

const tmp = () => mkdtempSync(join(tmpdir(), 'plif-rel-'));
/** 800 samples of batch 16: 50 batches of about 0.05 s each, then a 20-sample test pass. */
const trainArgs = (out: string, ...more: string[]) => ['train', '--preset', 'fmnist-small', '--data-dir', data, '--limit-test', '20', '--eval-batch', '20', '--out', out, ...more];

/** The `__metadata__` of a checkpoint, read from its header without building anything. */
export function checkpointMetadata(path: string): Record<string, string> {
  const bytes = readFileSync(path);
  const len = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + len).toString('utf8')).__metadata__;
}
const trainingState = (path: string) => JSON.parse(checkpointMetadata(path)['training']!).state as { epoch: number; batch: number };
const metricLines = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { epoch: number });

/**
 * Waits for a progress line of epoch 0, then freezes the child (SIGSTOP) so that a fast machine cannot
 * finish the epoch before the test acts; `thaw` continues it (SIGCONT).
 */
async function freezeMidEpoch(child: Child, batches: number): Promise<{ thaw(): void }> {
  await child.waitFor(new RegExp(`epoch 0 batch \\d+/${batches}`));
  child.proc.kill('SIGSTOP');
  return { thaw: () => void child.proc.kill('SIGCONT') };
}

describe('Ctrl-C', () => {
  it('a SIGINT mid-epoch writes a checkpoint after the current batch and exits 130 within seconds; --resume continues', async () => {
    const out = join(tmp(), 'run');
    const child = plif(trainArgs(out));
    const frozen = await freezeMidEpoch(child, 50);
    child.proc.kill('SIGINT'); // delivered when it runs again
    const sent = performance.now();
    frozen.thaw();
    const r = await child.exited;
    const seconds = (performance.now() - sent) / 1000;
    expect(r.code, r.out + r.err).toBe(130);
    expect(seconds).toBeLessThan(5);
    expect(r.out).toMatch(/interrupted: checkpoint written to .*last\.safetensors; continue with plif train --resume/);
    const state = trainingState(join(out, 'last.safetensors'));
    expect(state.epoch).toBe(0);
    expect(state.batch).toBeGreaterThan(0);
    expect(state.batch).toBeLessThan(50);

    const resumed = await plifRun(['train', '--resume', out]);
    expect(resumed.code, resumed.out + resumed.err).toBe(0);
    expect(resumed.out).toMatch(new RegExp(`resumed at epoch 0, batch ${state.batch}`));
    expect(metricLines(out).map((m) => m.epoch)).toEqual([0]);
  });

  it('a second SIGINT quits at once with 130', async () => {
    const out = join(tmp(), 'run');
    const child = plif(trainArgs(out));
    const frozen = await freezeMidEpoch(child, 50);
    child.proc.kill('SIGINT');
    const sent = performance.now();
    frozen.thaw();
    await child.waitFor(/interrupt: writing a checkpoint/);
    child.proc.kill('SIGINT');
    const r = await child.exited;
    expect(r.code, r.out + r.err).toBe(130);
    expect((performance.now() - sent) / 1000).toBeLessThan(5);
    expect(existsSync(join(out, 'train.lock'))).toBe(false); // released by the exit handler
  });

  it('SIGTERM stops the same way, with exit 143', async () => {
    const out = join(tmp(), 'run');
    const child = plif(trainArgs(out));
    const frozen = await freezeMidEpoch(child, 50);
    child.proc.kill('SIGTERM');
    frozen.thaw();
    const r = await child.exited;
    expect(r.code, r.out + r.err).toBe(143);
    expect(trainingState(join(out, 'last.safetensors')).batch).toBeGreaterThan(0);
  });
});

describe('the run lock', () => {
  it('a second run into the same --out is refused while the first lives, naming its PID', async () => {
    const out = join(tmp(), 'run');
    const first = plif(trainArgs(out));
    const frozen = await freezeMidEpoch(first, 50); // alive, in the middle of epoch 0, whatever the machine's speed
    expect(readFileSync(join(out, 'train.lock'), 'utf8').trim()).toBe(String(first.proc.pid));
    const second = await plifRun(trainArgs(out));
    expect(second.code).toBe(1);
    expect(second.err).toMatch(new RegExp(`in use by another plif train \\(PID ${first.proc.pid}`));
    first.proc.kill('SIGINT');
    frozen.thaw();
    const r = await first.exited;
    expect(r.code, r.out + r.err).toBe(130);
    expect(existsSync(join(out, 'train.lock'))).toBe(false);
    // the refused runs touched nothing: one epoch-0 run, resumable
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8')).toBe('');
    expect(trainingState(join(out, 'last.safetensors')).epoch).toBe(0);
  });

  it('a stale lock (its PID no longer runs, e.g. after SIGKILL) is taken over', async () => {
    const out = join(tmp(), 'run');
    mkdirSync(out);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    expect(alive(dead)).toBe(false);
    writeFileSync(join(out, 'train.lock'), `${dead}\n`);
    const r = await plifRun(trainArgs(out, '--limit-train', '32'));
    expect(r.code, r.out + r.err).toBe(0);
    expect(existsSync(join(out, 'train.lock'))).toBe(false);
    expect(metricLines(out)).toHaveLength(1);
  });
});

describe('divergence', () => {
  it.each(['1e9', '1e38'])('--lr %s stops with epoch, batch, the parameter and a --lr hint, exit 1', async (lr) => {
    const out = join(tmp(), 'run');
    const r = await plifRun(trainArgs(out, '--limit-train', '32', '--lr', lr));
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.err).toMatch(new RegExp(`diverged at epoch 0, batch 1: parameter \\d+\\.\\w+ became .*; stopped, no checkpoint was written .*Try a smaller --lr \\(this run: --lr ${String(Number(lr)).replace('+', '\\+')}\\)`));
    expect(r.err).not.toMatch(/must be finite/);
    expect(existsSync(join(out, 'last.safetensors'))).toBe(false);
  });
});

describe('a run stopped before its first checkpoint', () => {
  it('diverged in epoch 0: --resume starts it over (and stops the same way), --out reuses the directory', async () => {
    const out = join(tmp(), 'run');
    const first = await plifRun(trainArgs(out, '--limit-train', '32', '--lr', '1e9'));
    expect(first.code).toBe(1);
    expect(existsSync(join(out, 'config.json'))).toBe(true);
    const again = await plifRun(['train', '--resume', out]);
    expect(again.code, again.out + again.err).toBe(1);
    expect(again.err).toMatch(/has no checkpoint yet .*starting it over from epoch 0/);
    expect(again.err).toMatch(/diverged at epoch 0, batch 1: parameter \d+\.\w+ became .*Try a smaller --lr \(this run: --lr 1000000000\)/);
    const fresh = await plifRun(trainArgs(out, '--limit-train', '32'));
    expect(fresh.code, fresh.out + fresh.err).toBe(0);
    expect(metricLines(out)).toHaveLength(1);
    // now it holds a checkpoint: --out refuses, --resume continues
    const refused = await plifRun(trainArgs(out, '--limit-train', '32'));
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/already holds a run; continue it with --resume/);
  });

  it('killed with SIGKILL in epoch 0: --resume takes over the stale lock and trains it from the start', async () => {
    const out = join(tmp(), 'run');
    const child = plif(trainArgs(out, '--limit-train', '160'));
    await freezeMidEpoch(child, 10);
    child.proc.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    expect(existsSync(join(out, 'train.lock'))).toBe(true);
    expect(existsSync(join(out, 'last.safetensors'))).toBe(false);
    const r = await plifRun(['train', '--resume', out]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(metricLines(out).map((m) => m.epoch)).toEqual([0]);
    expect(existsSync(join(out, 'train.lock'))).toBe(false);
  });
});

describe('I/O errors say which file and what was being done', () => {
  const noTemps = (dir: string) => expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);

  it('a write that fails mid-run (file size limit: EFBIG) names the file; the directory stays restartable', async () => {
    const out = join(tmp(), 'run');
    const r = await plifRun(trainArgs(out, '--limit-train', '32'), { fileLimitKb: 64 });
    expect(r.code, r.out + r.err).toBe(1);
    expect(r.err).toMatch(/plif: cannot write \S+(last\.safetensors|firing-maps\.json): file too large for the file system or the process limit \(EFBIG\)/);
    noTemps(out);
    const again = await plifRun(['train', '--resume', out]);
    expect(again.code, again.out + again.err).toBe(0);
    expect(metricLines(out)).toHaveLength(1);
  });

  it('a full disk (ENOSPC, a 256 KiB tmpfs) names the file and says the disk is full', async (ctx) => {
    const disk = smallDisk(256);
    if (!disk) return ctx.skip(); // mounting a tmpfs needs root
    try {
      const out = join(disk.dir, 'run');
      const r = await plifRun(trainArgs(out, '--limit-train', '32'));
      expect(r.code, r.out + r.err).toBe(1);
      expect(r.err).toMatch(/plif: cannot write \S+(last\.safetensors|firing-maps\.json): no space left on the device \(disk full\) \(ENOSPC\)/);
      noTemps(out);
      expect(existsSync(join(out, 'train.lock'))).toBe(false);
    } finally {
      disk.done();
    }
  });

  it('a directory where a data file should be is named', async () => {
    const bad = tmp();
    copyFileSync(join(data, 'train-images-idx3-ubyte'), join(bad, 'train-images-idx3-ubyte'));
    mkdirSync(join(bad, 'train-labels-idx1-ubyte'));
    for (const f of ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']) copyFileSync(join(data, f), join(bad, f));
    const r = await plifRun(['train', '--preset', 'fmnist-small', '--data-dir', bad, '--out', join(tmp(), 'run')]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`plif: cannot read the data file ${join(bad, 'train-labels-idx1-ubyte')}: it is a directory, not a data file`);
  });

  it('a read-only --out parent is reported as such, before any data is loaded', async (ctx) => {
    const ro = readOnlyDir();
    if (!ro) return ctx.skip(); // root without a read-only tmpfs
    try {
      const out = join(ro.dir, 'sub', 'run');
      const r = await plifRun(['train', '--preset', 'fmnist-small', '--data-dir', '/nonexistent/data', '--out', out]);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(new RegExp(`plif: cannot create the run directory ${out}: ${ro.dir} is not writable: (read-only file system \\(EROFS\\)|permission denied \\(EACCES\\))`));
      expect(r.err).not.toMatch(/ENOENT|not found/);
    } finally {
      ro.done();
    }
  });

  it.each([
    ['inspect', () => ['inspect', '--preset', 'cifar10']],
    ['eval', () => ['eval', '--checkpoint', evalCheckpoint, '--data-dir', data]],
  ])('plif %s | (a reader that has gone): exits quietly, no EPIPE stack trace', async (_what, argv) => {
    const child = plif(argv());
    child.proc.stdout!.destroy(); // the reader is gone before the first write
    const r = await child.exited;
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
  });

  it('a start that fails before writing anything (the dataset is missing) leaves no run directory behind; an existing directory stays', async () => {
    const parent = tmp();
    const out = join(parent, 'run');
    const r = await plifRun(['train', '--preset', 'cifar10', '--channels', '4', '--data-dir', join(parent, 'no-data'), '--out', out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cifar10/);
    expect(existsSync(out), 'the run directory made for this start is gone').toBe(false);
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    const again = await plifRun(['train', '--preset', 'cifar10', '--channels', '4', '--data-dir', join(parent, 'no-data'), '--out', out]);
    expect(again.code).toBe(1);
    expect(readdirSync(out)).toEqual(['notes.txt']); // the user's directory and files are left as they were
  });
});
