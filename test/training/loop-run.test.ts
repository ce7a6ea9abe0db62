// runTraining (training/loop.ts) in process, on a tiny Fashion-MNIST-shaped dataset: what it refuses and why,
// how --resume makes best.safetensors agree with last.safetensors, what it cleans up, the curve and metrics
// a resumed run truncates, every reporter hook with its values, and that nothing stays allocated after it.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import { decodeSafetensors } from '../../core/checkpoint.js';
import { estimateMemory } from '../../core/network/shapes.js';
import { loadTrainingCheckpoint, readTrainingState, saveTrainingCheckpoint, type TrainingState } from '../../training/checkpoint.js';
import { trainConfig, type TrainConfig } from '../../training/config.js';
import type { EpochMetrics, TrainRecord } from '../../training/engine.js';
import { checkTrainingFits, networkConfigOf, runTraining, yieldToEventLoop, type BatchProgress, type Reporter } from '../../training/loop.js';
import { memoryLimit, TooLargeError } from '../../training/memory.js';
import { trainNetworkConfig } from '../../training/recipe.js';
import { runPaths } from '../../training/rundir.js';
import type { SampleSource } from '../../training/sample-source.js';
import { withoutTimes, writeTinyFashionMnist } from './fixtures.js';

let dataDir: string;
const tmp = () => join(mkdtempSync(join(tmpdir(), 'plif-loop-run-')), 'run');
const lines = <T>(path: string): T[] => readFileSync(path, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);

/** 64 training samples: batch 16 gives 4 batches an epoch, batch 4 gives 16. */
const config = (o: Partial<TrainConfig> = {}) => trainConfig({ preset: 'fmnist-small', channels: 4, T: 2, batch: 16, epochs: 2, limitTest: 20, evalBatch: 20, lr: 0.01, dataDir, ...o });

interface Run {
  config?: TrainConfig;
  resume?: boolean;
  reporter?: Reporter;
  shouldStop?: () => boolean;
  backend?: ReturnType<typeof cpuBackend>;
}
const train = (outDir: string, r: Run = {}) =>
  runTraining({ config: r.config ?? config(), backend: r.backend ?? cpuBackend({ threads: 1 }), backendInfo: {}, outDir, resume: r.resume ?? false, version: 'test', ...(r.reporter ? { reporter: r.reporter } : {}), ...(r.shouldStop ? { shouldStop: r.shouldStop } : {}) });

/** Runs until `steps` training steps are done, then stops (Ctrl-C between batches). */
async function trainUntil(outDir: string, steps: number, c: TrainConfig): Promise<void> {
  let done = 0;
  const r = await train(outDir, { config: c, reporter: { batch: () => void done++ }, shouldStop: () => done >= steps });
  expect(r.status).toBe('interrupted');
}

/** Resumes with a reporter that records the notes and whether best.safetensors exists (and its bytes) when training starts. */
async function resume(outDir: string, epochs: number) {
  const notes: string[] = [];
  const p = runPaths(outDir);
  let bestAtStart: Buffer | null = null;
  const r = await train(outDir, { config: config({ epochs }), resume: true, reporter: { note: (m) => notes.push(m), start: () => void (bestAtStart = existsSync(p.best) ? readFileSync(p.best) : null) } });
  expect(r.status).toBe('done');
  return { notes, bestAtStart: bestAtStart as Buffer | null, outcome: r };
}

/** Rewrites checkpoint `from` to `to` with the same tensors and another training state. */
async function craft(from: string, to: string, state: (s: TrainingState) => TrainingState): Promise<void> {
  const b = cpuBackend({ threads: 1 });
  const ck = await loadTrainingCheckpoint(b, from);
  await saveTrainingCheckpoint(to, ck.net, ck.adam, { config: ck.config, state: state(ck.state), version: 'test' });
  ck.net.dispose();
  for (const t of [...ck.adam.m, ...ck.adam.v]) b.dispose(t);
}
const boundary = (epoch: number, best: TrainingState['best']): TrainingState => ({ epoch, batch: 0, lossSum: 0, correct: 0, seen: 0, dropoutRng: null, augmentRng: null, seconds: 0, best });

/** Base runs, copied by each test: finished after 2 epochs; stopped at epoch 1 batch 2; stopped at epoch 0 batch 2. */
const base = { done: '', epoch1: '', epoch0: '' };
const copy = (dir: string) => {
  const to = tmp();
  cpSync(dir, to, { recursive: true });
  return runPaths(to);
};

beforeAll(() => {
  dataDir = writeTinyFashionMnist(64, 20);
});
// The base runs are made inside the first test that needs them, not in beforeAll: a mutation run counts
// code reached outside a test as static and would run every test against each of its mutants.
let made: Promise<typeof base> | null = null;
const bases = () =>
  (made ??= (async () => {
    base.done = tmp();
    expect((await train(base.done)).status).toBe('done');
    base.epoch1 = tmp();
    await trainUntil(base.epoch1, 6, config());
    base.epoch0 = tmp();
    await trainUntil(base.epoch0, 2, config());
    return base;
  })());
afterEach(() => vi.restoreAllMocks());

describe('yieldToEventLoop', () => {
  it('is a promise that resolves after callbacks already queued on the event loop', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('queued before'));
    const p = yieldToEventLoop();
    expect(p).toBeInstanceOf(Promise);
    await p;
    expect(order).toEqual(['queued before']);
  });
});

describe('checkTrainingFits', () => {
  /** The smallest batch whose estimate exceeds `limit` bytes. */
  function smallestBatchOver(limit: number, mode: 'train' | 'eval'): number {
    const net = trainNetworkConfig(config());
    let lo = 1;
    let hi = 1 << 20;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (estimateMemory(net, mid, mode).bytes > limit) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  it('refuses a training step that does not fit even when an evaluation batch of the same size would', () => {
    // 1 GiB of memory, whatever this machine has
    vi.spyOn(process as unknown as { constrainedMemory: () => number }, 'constrainedMemory').mockReturnValue(2 ** 30);
    expect(memoryLimit()).toBe(2 ** 30);
    const lo = smallestBatchOver(2 ** 30, 'train');
    expect(estimateMemory(trainNetworkConfig(config()), lo, 'eval').bytes).toBeLessThan(2 ** 30); // the eval formula would let it pass
    expect(() => checkTrainingFits(config({ batch: lo, evalBatch: 1 }))).toThrow(TooLargeError);
    expect(() => checkTrainingFits(config({ batch: lo, evalBatch: 1 }))).toThrow(new RegExp(`^training fmnist-small with 4 channels at T = 2, batch ${lo} needs about .*; use a smaller --T, --batch or --channels$`));
    expect(() => checkTrainingFits(config({ batch: lo - 1, evalBatch: 1 }))).not.toThrow();
  });

  it('refuses an evaluation batch that does not fit, naming it', () => {
    vi.spyOn(process as unknown as { constrainedMemory: () => number }, 'constrainedMemory').mockReturnValue(2 ** 30);
    const lo = smallestBatchOver(2 ** 30, 'eval');
    expect(() => checkTrainingFits(config({ batch: 1, evalBatch: lo }))).toThrow(new RegExp(`^training fmnist-small with 4 channels at T = 2, evaluation batch ${lo} needs about .*; use a smaller --eval-batch, --T or --channels$`));
    expect(() => checkTrainingFits(config({ batch: 1, evalBatch: lo - 1 }))).not.toThrow();
  });
});

describe('networkConfigOf', () => {
  const src = (shape: [number, number, number], isStatic: boolean, dataset: string) => ({ shape, static: isStatic, dataset }) as unknown as SampleSource;

  it('refuses a dataset of another sample shape, naming both shapes', () => {
    expect(() => networkConfigOf(config(), src([2, 34, 34], false, 'nmnist'))).toThrow(new RangeError("preset 'fmnist-small' takes 1x28x28 inputs but dataset 'nmnist' has 2x34x34 samples"));
  });

  it('refuses static images for an event preset and events for a static one', () => {
    expect(() => networkConfigOf(config(), src([1, 28, 28], false, 'fake-events'))).toThrow(new RangeError("preset 'fmnist-small' is for static images, dataset 'fake-events' has events"));
    const nmnist = trainConfig({ preset: 'nmnist', channels: 4, T: 2 });
    expect(() => networkConfigOf(nmnist, src([2, 34, 34], true, 'fake-images'))).toThrow(new RangeError("preset 'nmnist' is for event frames, dataset 'fake-images' has static images"));
  });

  it("gives the run's network for a matching dataset", () => {
    expect(networkConfigOf(config(), src([1, 28, 28], true, 'fashion-mnist'))).toEqual(trainNetworkConfig(config()));
  });
});

describe('starts that fail or are refused', () => {
  it('a failed start leaves no run directory it created, and keeps one that existed', async () => {
    const bad = config({ dataDir: join(tmpdir(), 'plif-no-such-data-dir-xyz') });
    const created = tmp();
    await expect(train(created, { config: bad })).rejects.toThrow(/not found/);
    expect(existsSync(created)).toBe(false);
    const existing = tmp();
    mkdirSync(existing, { recursive: true });
    await expect(train(existing, { config: bad })).rejects.toThrow(/not found/);
    expect(existsSync(existing)).toBe(true);
  });

  it('a new run into a directory with a checkpoint is refused', async () => {
    const out = tmp();
    mkdirSync(out, { recursive: true });
    writeFileSync(runPaths(out).last, 'x');
    await expect(train(out)).rejects.toThrow(`${out} already holds a run with a checkpoint; continue it with --resume ${out} or choose another directory`);
  });

  it('resume refusals: another network, a checkpoint beyond the epochs or the batches, metrics out of order; nothing stays allocated', async () => {
    const refused = async (dir: string, c: TrainConfig, message: string) => {
      const backend = cpuBackend({ threads: 1 });
      await expect(train(dir, { config: c, resume: true, backend })).rejects.toThrow(message);
      expect(backend.liveTensors()).toBe(0);
    };
    const done = copy((await bases()).done);
    await refused(done.dir, config({ channels: 6 }), `cannot resume ${done.dir}: its network differs from this configuration`);
    await refused(done.dir, config({ epochs: 1 }), `cannot resume ${done.dir}: ${done.last} stands at epoch 2, batch 0, beyond the run's 1 epochs (give --epochs 2 or more)`);
    const mid = copy((await bases()).epoch1);
    await refused(mid.dir, config({ epochs: 1 }), `cannot resume ${mid.dir}: ${mid.last} stands at epoch 1, batch 2, beyond the run's 1 epochs (give --epochs 2 or more)`);

    const m = lines<EpochMetrics>(done.metrics);
    writeFileSync(done.metrics, [m[1], m[0]].map((l) => JSON.stringify(l) + '\n').join(''));
    await refused(done.dir, config(), `cannot resume ${done.dir}: ${done.metrics} does not hold epochs 0..1 in order`);
    writeFileSync(done.metrics, [m[0], m[0]].map((l) => JSON.stringify(l) + '\n').join(''));
    await refused(done.dir, config(), `cannot resume ${done.dir}: ${done.metrics} does not hold epochs 0..1 in order`);
  });

  it('a checkpoint past the batches of an epoch of this batch size is refused; one at its last batch goes on', async () => {
    // batch 4: 16 batches an epoch; batch 16: 4
    const small = tmp();
    await trainUntil(small, 10, config({ batch: 4 }));
    const p = runPaths(small);
    await expect(train(small, { config: config({ batch: 16 }), resume: true })).rejects.toThrow(`cannot resume ${small}: ${p.last} stands at batch 10 of epoch 0, but an epoch of this run has 4 batches`);

    const atEnd = tmp();
    await trainUntil(atEnd, 4, config({ batch: 4 }));
    const r = await train(atEnd, { config: config({ batch: 16, epochs: 1 }), resume: true });
    expect(r.status).toBe('done');
    expect(r.metrics.map((x) => x.epoch)).toEqual([0]);
  });
});

describe("a run directory's leftovers", () => {
  it('temporary files of killed writers are removed, and named in a note', async () => {
    const out = tmp();
    mkdirSync(out, { recursive: true });
    const a = '.config.json.99999999.ab12.tmp';
    const b = `.metrics.jsonl.${process.pid}.cd34.tmp`;
    writeFileSync(join(out, a), 'half');
    writeFileSync(join(out, b), 'half');
    const notes: string[] = [];
    expect((await train(out, { config: config({ epochs: 1 }), reporter: { note: (n) => notes.push(n) } })).status).toBe('done');
    const head = 'removed 2 temporary file(s) left by a run that was killed: ';
    expect(notes).toHaveLength(1);
    expect([`${head}${a}, ${b}`, `${head}${b}, ${a}`]).toContain(notes[0]);
    expect(existsSync(join(out, a)) || existsSync(join(out, b))).toBe(false);
  });

  it('--resume of a run that never wrote a checkpoint starts it over, with fresh metrics and curve', async () => {
    const out = tmp();
    mkdirSync(out, { recursive: true });
    writeFileSync(runPaths(out).config, '{}\n');
    writeFileSync(runPaths(out).metrics, '{"epoch":7}\n');
    writeFileSync(runPaths(out).trainCurve, '{"epoch":7,"batch":1}\n');
    let resumedFrom: unknown = 'not called';
    const r = await train(out, { config: config({ epochs: 1 }), resume: true, reporter: { start: (i) => void (resumedFrom = i.resumedFrom) } });
    expect(r.status).toBe('done');
    expect(r.metrics.map((m) => m.epoch)).toEqual([0]);
    expect(resumedFrom).toBeNull();
    expect(JSON.parse(readFileSync(runPaths(out).config, 'utf8')).version).toBe('test');
    expect(lines<EpochMetrics>(runPaths(out).metrics).map((m) => m.epoch)).toEqual([0]);
    expect(lines<TrainRecord>(runPaths(out).trainCurve).map((r) => [r.epoch, r.batch])).toEqual([[0, 1], [0, 2], [0, 3], [0, 4]]);
  });

  it('notes are optional: a reporter without note() sees repairs and removals silently', async () => {
    const p = copy((await bases()).done);
    await craft(p.last, p.last, () => boundary(2, { epoch: 1, score: 0.5 }));
    rmSync(p.best);
    expect((await train(p.dir, { resume: true, reporter: {} })).status).toBe('done');
    expect(existsSync(p.best)).toBe(true);
    const q = runPaths(tmp());
    mkdirSync(q.dir, { recursive: true });
    writeFileSync(q.best, 'left by a killed start');
    writeFileSync(join(q.dir, '.last.safetensors.99999999.ef56.tmp'), 'half');
    expect((await train(q.dir, { config: config({ epochs: 1 }), reporter: {} })).status).toBe('done');
  });
});

describe('--resume makes best.safetensors agree with last.safetensors', () => {
  const rewritten = (p: ReturnType<typeof runPaths>, was: string, epoch: number) => `${p.best} ${was} while the run's best is epoch ${epoch}: rewritten from ${p.last}, the checkpoint of that epoch's end`;
  const kept = (p: ReturnType<typeof runPaths>, was: string, epoch: number) => `${p.best} ${was} while the run's best is epoch ${epoch}, whose weights no longer exist (a crash left them unwritten); it is kept as it is`;

  // last stands at the start of epoch 2 with epoch 1 as the best; best.safetensors holds another state
  it.each([
    ['an earlier epoch than last names', boundary(1, { epoch: 0, score: 0.5 }), 'held epoch 0'],
    ['the same epoch with another score', boundary(2, { epoch: 1, score: 0.25 }), 'held epoch 1'],
    ['a state that names no best epoch (noted as epoch ?)', boundary(0, null), 'held epoch ?'],
  ] as const)('a best of %s is rewritten from last', async (_what, bestState, was) => {
    const p = copy((await bases()).done);
    await craft(p.last, p.last, () => boundary(2, { epoch: 1, score: 0.5 }));
    await craft(p.last, p.best, () => bestState);
    const { notes } = await resume(p.dir, 2);
    expect(notes).toEqual([rewritten(p, was, 1)]);
    expect(readFileSync(p.best).equals(readFileSync(p.last))).toBe(true);
  });

  it('a best one epoch ahead of last (a crash between the two writes) is left for the run to rewrite', async () => {
    const p = copy((await bases()).done);
    await craft(p.last, p.last, () => boundary(1, { epoch: 0, score: 0.5 }));
    await craft(p.last, p.best, () => boundary(2, { epoch: 1, score: 0.75 }));
    const crafted = readFileSync(p.best);
    const { notes, bestAtStart } = await resume(p.dir, 2);
    expect(notes).toEqual([]);
    expect(bestAtStart?.equals(crafted)).toBe(true);
  });

  it('a best at or past the run\'s epochs is not ahead: it is rewritten', async () => {
    const p = copy((await bases()).done);
    await craft(p.last, p.last, () => boundary(1, { epoch: 0, score: 0.5 }));
    await craft(p.last, p.best, () => boundary(2, { epoch: 1, score: 0.75 }));
    const { notes } = await resume(p.dir, 1);
    expect(notes).toEqual([rewritten(p, 'held epoch 1', 0)]);
    expect(readFileSync(p.best).equals(readFileSync(p.last))).toBe(true);
  });

  it("an unreadable best is named by the note once: the reason is not prefixed with the best's path again", async () => {
    const p = copy((await bases()).done);
    await craft(p.last, p.last, () => boundary(2, { epoch: 1, score: 0.5 }));
    writeFileSync(p.best, 'not a checkpoint');
    const { notes } = await resume(p.dir, 2);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/ was unreadable \(cannot read its header \(a header of \d+ bytes\)\) while the run's best is epoch 1: rewritten from /);
    expect(notes[0]).not.toContain(`(${p.best}:`);
  });

  it('a last of a run that finished no epoch: a best is removed; without one nothing is written before training', async () => {
    const p = copy((await bases()).epoch0);
    writeFileSync(p.best, 'junk');
    const withJunk = await resume(p.dir, 1);
    expect(withJunk.notes).toHaveLength(1);
    expect(withJunk.notes[0]).toMatch(new RegExp(`^removed ${p.best}: it was unreadable \\(.*\\), and ${p.last} has finished no epoch yet$`));
    expect(withJunk.bestAtStart).toBeNull();

    const q = copy((await bases()).epoch0);
    expect(existsSync(q.best)).toBe(false);
    const without = await resume(q.dir, 1);
    expect(without.notes).toEqual([]);
    expect(without.bestAtStart).toBeNull();
  });

  it('a last mid-epoch: the best epoch\'s weights are gone, a missing or stale best is kept as it is', async () => {
    const p = copy((await bases()).epoch1); // last at epoch 1, batch 2; best epoch 0
    const bestEpoch = (await readTrainingState(p.last)).best!.epoch;
    expect(bestEpoch).toBe(0);
    rmSync(p.best);
    const missing = await resume(p.dir, 2);
    expect(missing.notes).toEqual([kept(p, 'was missing', 0)]);
    expect(missing.bestAtStart).toBeNull();

    const q = copy((await bases()).epoch1);
    await craft(q.best, q.best, (s) => ({ ...s, best: { epoch: 0, score: 0.125 } }));
    const stale = readFileSync(q.best);
    const held = await resume(q.dir, 2);
    expect(held.notes).toEqual([kept(q, 'held epoch 0', 0)]);
    expect(held.bestAtStart?.equals(stale)).toBe(true);
  });

  it('a last two epochs past the best: its weights are gone too, the missing best stays missing', async () => {
    const p = copy((await bases()).done);
    await craft(p.last, p.last, () => boundary(2, { epoch: 0, score: 0.5 }));
    rmSync(p.best);
    const { notes, bestAtStart } = await resume(p.dir, 2);
    expect(notes).toEqual([kept(p, 'was missing', 0)]);
    expect(bestAtStart).toBeNull();
    expect(existsSync(p.best)).toBe(false);
  });
});

describe('an interrupted run resumed to the end', () => {
  it('truncates the curve and metrics at its checkpoint, and ends with the files of an uninterrupted run', async () => {
    // batch 4: 16 batches an epoch, 10 curve points each (not one per batch)
    const c = config({ batch: 4 });
    const whole = tmp();
    expect((await train(whole, { config: c })).status).toBe('done');
    const w = runPaths(whole);
    const curve = lines<TrainRecord>(w.trainCurve);
    expect(curve.filter((r) => r.epoch === 1).map((r) => r.batch)).toEqual([2, 4, 5, 7, 8, 10, 12, 13, 15, 16]);

    const parted = tmp();
    await trainUntil(parted, 16 + 5, c); // stops at epoch 1, batch 5: a curve point stands there
    const p = runPaths(parted);
    expect((await readTrainingState(p.last))).toMatchObject({ epoch: 1, batch: 5 });
    // lines a killed run wrote past the checkpoint
    // (and one of a later epoch at an earlier batch: past the checkpoint too)
    const junk = (epoch: number, batch: number) => JSON.stringify({ ...curve.at(-1), epoch, batch, train_loss: 99 }) + '\n';
    writeFileSync(p.trainCurve, readFileSync(p.trainCurve, 'utf8') + junk(1, 7) + junk(1, 9) + junk(2, 1));
    writeFileSync(p.metrics, readFileSync(p.metrics, 'utf8') + JSON.stringify({ ...lines<EpochMetrics>(p.metrics)[0], epoch: 1 }) + '\n');

    let resumedFrom: unknown = null;
    const r = await train(parted, { config: c, resume: true, reporter: { start: (i) => void (resumedFrom = i.resumedFrom) } });
    expect(r.status).toBe('done');
    expect(resumedFrom).toEqual({ epoch: 1, batch: 5 });
    expect(readFileSync(p.trainCurve, 'utf8')).toBe(readFileSync(w.trainCurve, 'utf8'));
    expect(withoutTimes(lines<EpochMetrics>(p.metrics))).toEqual(withoutTimes(lines<EpochMetrics>(w.metrics)));
    expect(withoutTimes(r.metrics)).toEqual(withoutTimes(lines<EpochMetrics>(w.metrics)));
    const a = decodeSafetensors(readFileSync(w.last)).tensors;
    const b = decodeSafetensors(readFileSync(p.last)).tensors;
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, t] of a) expect(Array.from(b.get(name)!.data), name).toEqual(Array.from(t.data));
  });
});

describe('the reporter', () => {
  it('start, epochStart, batch, evalStart and epochEnd report what the run files hold', async () => {
    const out = tmp();
    const calls = { start: [] as Parameters<NonNullable<Reporter['start']>>[0][], epochStart: [] as number[][], batch: [] as BatchProgress[], evalStart: [] as [string, number][], epochEnd: [] as EpochMetrics[], confusion: [] as string[] };
    const times: { epochStart: number; batch: number[] }[] = [];
    const backend = cpuBackend({ threads: 1 });
    const p = runPaths(out);
    const r = await train(out, {
      config: config({ val: 0.25 }),
      backend,
      reporter: {
        start: (i) => calls.start.push(i),
        epochStart: (e, n, lr) => (calls.epochStart.push([e, n, lr]), times.push({ epochStart: performance.now(), batch: [] })),
        batch: (b) => (calls.batch.push(b), times.at(-1)!.batch.push(performance.now())),
        evalStart: (what, n) => calls.evalStart.push([what, n]),
        epochEnd: (m) => (calls.epochEnd.push(m), calls.confusion.push(JSON.parse(readFileSync(p.confusion, 'utf8')).source)),
      },
    });
    expect(r.status).toBe('done');
    expect(backend.liveTensors()).toBe(0); // the network and Adam's moments are freed

    const saved = JSON.parse(readFileSync(p.config, 'utf8')) as { dataset: { train: number; val: number; test: number } };
    expect(saved.dataset.val).toBeGreaterThan(0);
    expect(saved.dataset.train + saved.dataset.val).toBe(64);
    expect(calls.start).toHaveLength(1);
    expect(calls.start[0]).toMatchObject({ trainSamples: saved.dataset.train, valSamples: saved.dataset.val, testSamples: 20, resumedFrom: null, dataDir });
    const perEpoch = Math.floor(saved.dataset.train / 16);
    expect(calls.epochStart).toEqual([[0, perEpoch, r.metrics[0]!.lr], [1, perEpoch, r.metrics[1]!.lr]]);
    expect(calls.evalStart).toEqual([['val', saved.dataset.val], ['test', 20], ['val', saved.dataset.val], ['test', 20]]);
    expect(withoutTimes(calls.epochEnd)).toEqual(withoutTimes(r.metrics));
    expect(calls.confusion).toEqual(['test pass of epoch 0', 'test pass of epoch 1']);

    // every batch report holds the running loss and accuracy, as the curve (a point per batch here) does
    const curve = lines<TrainRecord>(p.trainCurve);
    expect(calls.batch.map((b) => [b.epoch, b.batch, b.batches, b.samples])).toEqual(curve.map((q) => [q.epoch, q.batch, q.batches, q.samples]));
    calls.batch.forEach((b, i) => {
      expect(b.loss).toBe(curve[i]!.train_loss);
      expect(b.acc).toBe(curve[i]!.train_acc);
      // samples per second of training so far: at least the samples over the wall-clock time since the epoch started
      const t = times[b.epoch]!;
      const elapsed = (t.batch[b.batch - 1]! - t.epochStart) / 1000;
      expect(Number.isFinite(b.samplesPerS)).toBe(true);
      expect(b.samplesPerS).toBeGreaterThanOrEqual(b.samples / elapsed);
    });
    for (const e of [0, 1]) {
      const last = calls.batch.filter((b) => b.epoch === e).at(-1)!;
      expect([last.loss, last.acc]).toEqual([r.metrics[e]!.train_loss, r.metrics[e]!.train_acc]);
    }
  });

  it("checkpoints: 'best' only at an epoch that is best, 'epoch' at each, 'interrupt' on a stop", async () => {
    // lr 0: every epoch scores the same, and a tie keeps the earlier epoch
    const out = tmp();
    const p = runPaths(out);
    const whys: [string, string][] = [];
    const backend = cpuBackend({ threads: 1 });
    const r = await train(out, { config: { ...config(), lr: 0 }, backend, reporter: { checkpoint: (path, why) => whys.push([path, why]) } });
    expect(r.status).toBe('done');
    expect(r.metrics[1]!.test_acc).toBe(r.metrics[0]!.test_acc);
    expect(whys).toEqual([[p.best, 'best'], [p.last, 'epoch'], [p.last, 'epoch']]);
    // (readTrainingState refuses lr 0, so the state is read from the header as it is)
    const stateOf = (path: string) => (JSON.parse(decodeSafetensors(readFileSync(path)).metadata.training!) as { state: TrainingState }).state;
    expect(stateOf(p.best)).toMatchObject({ epoch: 1, best: { epoch: 0 } });
    expect(stateOf(p.last)).toMatchObject({ epoch: 2, best: { epoch: 0 } });

    const stopped = tmp();
    const s = runPaths(stopped);
    const stops: [string, string][] = [];
    let steps = 0;
    const stopBackend = cpuBackend({ threads: 1 });
    // Ctrl-C after the last batch of epoch 0 (4 batches of 16) stops the evaluation too, before the epoch ends
    const i = await train(stopped, { backend: stopBackend, reporter: { batch: () => void steps++, checkpoint: (path, why) => stops.push([path, why]) }, shouldStop: () => steps >= 4 });
    expect(i).toEqual({ status: 'interrupted', metrics: [], checkpoint: s.last });
    expect(stops).toEqual([[s.last, 'interrupt']]);
    expect(stopBackend.liveTensors()).toBe(0);
    expect(await readTrainingState(s.last)).toMatchObject({ epoch: 0, batch: 4, best: null });
    expect(existsSync(s.metrics) && readFileSync(s.metrics, 'utf8')).toBe('');
  });
});
