// A reader that goes away never turns an unfinished training into success (issue 25, item 4):
// `plif train ... | head -1` keeps training, its output going nowhere, and writes every checkpoint.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTinyFashionMnist } from '../training/fixtures.js';
import { checkpointState, ensureBuilt, PLIF, plifRun } from './helpers.js';

let data: string;
beforeAll(() => {
  ensureBuilt();
  data = writeTinyFashionMnist(64, 20);
});

const tmp = () => mkdtempSync(join(tmpdir(), 'plif-pipe-'));
const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Runs `node plif.js ARGS REDIRECT | head -1` in bash; returns plif's own exit status and what head printed. */
function throughHead(args: string[], redirect = ''): Promise<{ plifStatus: number; headOut: string; err: string }> {
  const script = `${[process.execPath, PLIF, ...args].map(quote).join(' ')} ${redirect} | head -1; echo "plif-status=\${PIPESTATUS[0]}" >&2`;
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', script], { env: { ...process.env, PLIF_THREADS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const status = /plif-status=(\d+)/.exec(err);
      if (!status) return reject(new Error(`no status from bash:\n${err}`));
      resolve({ plifStatus: Number(status[1]), headOut: out, err });
    });
  });
}

const trainArgs = (out: string, ...more: string[]) => ['train', '--preset', 'fmnist-small', '--data-dir', data, '--limit-train', '32', '--limit-test', '20', '--eval-batch', '20', '--epochs', '3', '--out', out, ...more];
const metricEpochs = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { epoch: number }).epoch);

describe('plif train with a reader that has gone', () => {
  it.each([
    ['plif train | head -1', [], ''],
    ['plif train --json | head -1', ['--json'], ''],
    ['plif train 2>&1 | head -1 (stdout and stderr closed)', [], '2>&1'],
  ])('%s: trains every epoch, writes its checkpoints, exits 0 as the run ends', async (_what, more, redirect) => {
    const out = join(tmp(), 'run');
    const r = await throughHead(trainArgs(out, ...more), redirect);
    expect(r.plifStatus, r.err).toBe(0);
    expect(r.headOut.trim().split('\n')).toHaveLength(1);
    if (more.includes('--json')) expect(JSON.parse(r.headOut)).toMatchObject({ epoch: 0 });
    expect(metricEpochs(out)).toEqual([0, 1, 2]);
    expect(checkpointState(join(out, 'last.safetensors'))).toMatchObject({ epoch: 3, batch: 0 });
    expect(checkpointState(join(out, 'best.safetensors')).best).not.toBeNull();
    expect(r.err).not.toMatch(/EPIPE|Error:/);
  });

  it('plif eval | head -1 still ends quietly with 0 (the reader took what it wanted)', async () => {
    const run = join(tmp(), 'run');
    expect((await plifRun(trainArgs(run, '--epochs', '1'))).code).toBe(0);
    const r = await throughHead(['eval', '--checkpoint', join(run, 'last.safetensors'), '--data-dir', data, '--limit-test', '20']);
    expect(r.plifStatus, r.err).toBe(0);
    expect(r.headOut).toMatch(/accuracy/);
    expect(r.err).not.toMatch(/EPIPE|Error/);
  });
});
