// A run's files agree after a crash, in process (test/reliability/run-files-agree.test.ts does the same with
// real SIGKILLs to the built CLI, which the mutation runs cannot see): --resume makes best.safetensors hold
// the epoch last.safetensors names as the best, and says what it did; a start over removes a best left
// without a last.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { readTrainingState } from '../../training/checkpoint.js';
import { trainConfig } from '../../training/config.js';
import { runTraining } from '../../training/loop.js';
import { runPaths } from '../../training/rundir.js';
import { writeTinyFashionMnist } from './fixtures.js';

let dataDir: string;
beforeAll(() => {
  dataDir = writeTinyFashionMnist(64, 20);
});

const tmp = () => join(mkdtempSync(join(tmpdir(), 'plif-agree-in-')), 'run');
const config = (epochs: number) => trainConfig({ preset: 'fmnist-small', channels: 4, T: 2, batch: 16, epochs, limitTest: 20, evalBatch: 20, lr: 0.01, dataDir });
async function train(outDir: string, epochs: number, resume: boolean): Promise<string[]> {
  const notes: string[] = [];
  const r = await runTraining({ config: config(epochs), backend: cpuBackend({ threads: 1 }), backendInfo: {}, outDir, resume, version: 'test', reporter: { note: (m) => notes.push(m) } });
  expect(r.status).toBe('done');
  return notes;
}

describe("a run's files after a crash, resumed in process", () => {
  /** A one-epoch run (its best is epoch 0) and the same run's epoch-0 files kept aside. */
  async function oneEpoch(): Promise<ReturnType<typeof runPaths>> {
    const out = tmp();
    await train(out, 1, false);
    return runPaths(out);
  }

  it('best holding another epoch than last names: rewritten from last when last is that epoch\'s end', async () => {
    const p = await oneEpoch();
    const last = readFileSync(p.last);
    writeFileSync(p.best, Buffer.from('not a checkpoint'));
    const notes = await train(p.dir, 1, true);
    expect(readFileSync(p.best).equals(last)).toBe(true);
    expect(notes.join('\n')).toMatch(/best\.safetensors was unreadable \(.*\) while the run's best is epoch 0: rewritten from .*last\.safetensors, the checkpoint of that epoch's end/);
  });

  it('a missing best is rewritten from last too', async () => {
    const p = await oneEpoch();
    const last = readFileSync(p.last);
    rmSync(p.best);
    const notes = await train(p.dir, 1, true);
    expect(readFileSync(p.best).equals(last)).toBe(true);
    expect(notes.join('\n')).toMatch(/best\.safetensors was missing while the run's best is epoch 0: rewritten/);
  });

  it('files that agree are left alone, with no note', async () => {
    const p = await oneEpoch();
    const best = readFileSync(p.best);
    const notes = await train(p.dir, 1, true);
    expect(readFileSync(p.best).equals(best)).toBe(true);
    expect(notes).toEqual([]);
  });

  it('a best without a last (a start that stopped before its first checkpoint) is removed when the run starts over', async () => {
    const out = tmp();
    const p = runPaths(out);
    mkdirSync(out, { recursive: true });
    writeFileSync(p.best, Buffer.from('left by a killed start'));
    const notes = await train(out, 1, false);
    expect(notes.join('\n')).toContain(`removed ${p.best}, left by a start of this run that stopped before its first checkpoint`);
    expect((await readTrainingState(p.best)).best!.epoch).toBe(0);
    expect(existsSync(p.last)).toBe(true);
  });
});
