// Every file of a run directory agrees with the others after a crash (issue 25, item 1): best.safetensors
// holds the epoch that last.safetensors names as the best, whatever moment a SIGKILL hit.
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeTinyFashionMnist } from '../training/fixtures.js';
import { checkpointParts, checkpointState, ensureBuilt, plif, plifRun } from './helpers.js';

let data: string;
/** An uninterrupted two-epoch run whose epoch 1 is the best (test accuracy 10% after epoch 0, higher after epoch 1). */
let reference: string;
beforeAll(async () => {
  ensureBuilt();
  data = writeTinyFashionMnist(800, 20);
  reference = join(tmp(), 'run');
  const r = await plifRun(trainArgs(reference, '--epochs', '2'));
  if (r.code !== 0) throw new Error(`the reference run failed:\n${r.out}${r.err}`);
}, 120_000);

const tmp = () => mkdtempSync(join(tmpdir(), 'plif-agree-'));
/** 160 samples in batches of 16 at --lr 0.005: epoch 0 ends silent (chance), epoch 1 learns the bars. */
const trainArgs = (out: string, ...more: string[]) => ['train', '--preset', 'fmnist-small', '--data-dir', data, '--limit-train', '160', '--limit-test', '20', '--eval-batch', '20', '--lr', '0.005', '--out', out, ...more];
const metricEpochs = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { epoch: number }).epoch);

/** best.safetensors holds what last.safetensors names as the best: that epoch and its score. */
function expectBestAgreesWithLast(dir: string): void {
  const named = checkpointState(join(dir, 'last.safetensors')).best;
  expect(named).not.toBeNull();
  const held = checkpointState(join(dir, 'best.safetensors'));
  expect(held.best).toEqual(named);
  expect(held.epoch).toBe(named!.epoch + 1);
}

describe('best.safetensors after a crash', () => {
  it('the reference run: epoch 1 is the best, best equals last byte for byte', () => {
    expect(checkpointState(join(reference, 'last.safetensors')).best?.epoch).toBe(1);
    expect(readFileSync(join(reference, 'best.safetensors'))).toEqual(readFileSync(join(reference, 'last.safetensors')));
  });

  it('an epoch-0 best left beside a last that names epoch 1 (a kill while best was written): --resume rewrites it from last', async () => {
    // the directory a SIGKILL between the two writes of epoch 1 left when last was written first
    const out = join(tmp(), 'run');
    expect((await plifRun(trainArgs(out, '--epochs', '1'))).code).toBe(0);
    const epoch0Best = join(tmp(), 'epoch0-best.safetensors');
    copyFileSync(join(out, 'best.safetensors'), epoch0Best);
    const second = await plifRun(['train', '--resume', out, '--epochs', '2']);
    expect(second.code, second.out + second.err).toBe(0);
    expect(checkpointState(join(out, 'last.safetensors')).best?.epoch).toBe(1);
    copyFileSync(epoch0Best, join(out, 'best.safetensors'));
    expect(checkpointState(join(out, 'best.safetensors')).best?.epoch).toBe(0);

    const r = await plifRun(['train', '--resume', out, '--epochs', '2']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.err).toMatch(/best\.safetensors held epoch 0 while the run's best is epoch 1: rewritten from \S+last\.safetensors/);
    expectBestAgreesWithLast(out);
    expect(readFileSync(join(out, 'best.safetensors'))).toEqual(readFileSync(join(out, 'last.safetensors')));
    expect(checkpointParts(join(out, 'best.safetensors')).tensors).toEqual(checkpointParts(join(reference, 'best.safetensors')).tensors);
    expect(readdirSync(out).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('a missing or unreadable best beside such a last is rewritten too', async () => {
    const out = join(tmp(), 'run');
    expect((await plifRun(trainArgs(out, '--epochs', '2'))).code).toBe(0);
    copyFileSync(join(data, 'train-labels-idx1-ubyte'), join(out, 'best.safetensors')); // not a checkpoint
    const r = await plifRun(['train', '--resume', out, '--epochs', '2']);
    expect(r.code, r.out + r.err).toBe(0);
    expect(r.err).toMatch(/best\.safetensors was unreadable .*rewritten from/);
    expectBestAgreesWithLast(out);
  });

  it.each([
    ['the moment epoch 1 writes its best checkpoint', /checkpoint \(best\)[^\n]*\n[\s\S]*checkpoint \(best\)/],
    ['while epoch 1 is evaluated', /epoch 1[^\n]*\n[\s\S]*evaluating on 20 test samples/],
  ])('SIGKILL %s, then --resume: best and last agree and hold the uninterrupted run\'s weights', async (_when, moment) => {
    const out = join(tmp(), 'run');
    const child = plif(trainArgs(out, '--epochs', '2'));
    await child.waitFor(moment);
    child.proc.kill('SIGKILL');
    expect((await child.exited).signal).toBe('SIGKILL');
    if (existsSync(join(out, 'last.safetensors')) && existsSync(join(out, 'best.safetensors'))) {
      // what the kill left: best never behind what last names
      const named = checkpointState(join(out, 'last.safetensors')).best?.epoch ?? -1;
      expect(checkpointState(join(out, 'best.safetensors')).best!.epoch).toBeGreaterThanOrEqual(named);
    }
    const r = await plifRun(['train', '--resume', out]);
    expect(r.code, r.out + r.err).toBe(0);
    expect(metricEpochs(out)).toEqual([0, 1]);
    expectBestAgreesWithLast(out);
    expect(checkpointState(join(out, 'best.safetensors')).best).toEqual(checkpointState(join(reference, 'best.safetensors')).best);
    expect(checkpointParts(join(out, 'best.safetensors')).tensors).toEqual(checkpointParts(join(reference, 'best.safetensors')).tensors);
    expect(checkpointParts(join(out, 'last.safetensors')).tensors).toEqual(checkpointParts(join(reference, 'last.safetensors')).tensors);
  });

  it('a best.safetensors without a last (a start killed between the two writes of epoch 0) is removed when the run starts over', async () => {
    const out = join(tmp(), 'run');
    expect((await plifRun(trainArgs(out, '--epochs', '1'))).code).toBe(0);
    const dir = join(tmp(), 'run');
    // a run directory of another start: config.json, no last; it diverges at once
    const first = await plifRun(trainArgs(dir, '--lr', '1e9'));
    expect(first.code).toBe(1);
    copyFileSync(join(out, 'best.safetensors'), join(dir, 'best.safetensors'));
    const again = await plifRun(trainArgs(dir, '--lr', '1e9'));
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/removed \S+best\.safetensors, left by a start of this run that stopped before its first checkpoint/);
    expect(existsSync(join(dir, 'best.safetensors'))).toBe(false);
    expect(readFileSync(join(dir, 'metrics.jsonl'), 'utf8')).toBe('');
  });
});
