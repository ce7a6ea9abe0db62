// A run's checkpoint in process: the training state's checks (every refusal with its message, every edge
// that passes), checkpoint files written and read back bit for bit, and what a truncated, corrupt or missing
// file is refused with. The CLI tests see some of these through child processes, where no mutant reaches.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { cpuBackend } from '../../backends/cpu/index.js';
import type { Backend } from '../../core/backend.js';
import * as core from '../../core/checkpoint.js';
import { CheckpointError, decodeSafetensors, loadCheckpoint, snapshotCheckpoint, type LoadedCheckpoint } from '../../core/checkpoint.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { createAdam, type AdamState } from '../../core/network/train.js';
import { Rng } from '../../core/rng.js';
import { FileIoError } from '../../data/file-io.js';
import * as ckpt from '../../training/checkpoint.js';
import { loadTrainingCheckpoint, readTrainingState, saveTrainingCheckpoint } from '../../training/checkpoint.js';
import * as files from '../../training/checkpoint-file.js';
import { loadCheckpointFile, readCheckpointBytes, saveCheckpointFile } from '../../training/checkpoint-file.js';
import * as stateModule from '../../training/checkpoint-state.js';
import {
  checkpointTraining,
  readTrainingMeta,
  trainingCheckpointBytes,
  trainingSaveOptions,
  validateTraining,
  type TrainingState,
} from '../../training/checkpoint-state.js';
import { trainConfig, type TrainConfig } from '../../training/config.js';

// open() of node:fs/promises passes through, unless a test wraps the handles it returns (short reads, a file
// that shrinks while read, read errors) through `fsHook.wrap`
const fsHook = vi.hoisted(() => ({ wrap: null as null | ((fh: FileHandle) => FileHandle), opened: 0, closed: 0 }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (...args: Parameters<typeof actual.open>) => {
    const fh = await actual.open(...args);
    const wrap = fsHook.wrap;
    if (!wrap) return fh;
    fsHook.opened++;
    return wrap(fh);
  };
  return { ...actual, open, default: { ...actual, open } };
});

/** A handle like fh whose reads go through `read` (given the real one) and whose closes are counted. */
function handle(fh: FileHandle, read: (real: FileHandle['read'], buf: Uint8Array, off: number, len: number, pos: number) => Promise<{ bytesRead: number; buffer: Uint8Array }>): FileHandle {
  return {
    stat: () => fh.stat(),
    read: (buf: Uint8Array, off: number, len: number, pos: number) => read(fh.read.bind(fh) as FileHandle['read'], buf, off, len, pos),
    close: async () => {
      fsHook.closed++;
      await fh.close();
    },
  } as unknown as FileHandle;
}

// functions: built inside each test, never at collection
const netConfig = () => networkConfig('c3k3s1-BN-PLIF-MPk2s2-DP-FC20-LIF-APk10s10', [1, 6, 6], 2, { T: 3, tau0: 3 });
const rawConfig = () => ({ preset: 'fmnist-small', batch: 4, epochs: 3, seed: 7 });
const midEpoch = (): TrainingState => ({
  epoch: 2,
  batch: 3,
  lossSum: 1.5,
  correct: 7,
  seen: 12,
  dropoutRng: [1, 2, 3, 4],
  augmentRng: [5, 6, 7, 8],
  seconds: 2.5,
  best: { epoch: 1, score: 0.5 },
});
const P = 'runs/a/last.safetensors';

/** A small network with non-trivial parameters (each a ramp), and its Adam state with non-zero moments and step. */
function model(b: Backend): { net: Network; adam: AdamState } {
  const net = new Network(b, netConfig(), Rng.seeded(1));
  const adam = createAdam(net, { lr: 0.01 });
  adam.step = 5;
  net.params().forEach((p, i) => {
    const shape = p.value.shape;
    const n = shape.reduce((a, c) => a * c, 1);
    const ramp = (f: (k: number) => number) => b.upload(Float32Array.from({ length: n }, (_, k) => f(k)), shape);
    b.dispose(adam.m[i]!);
    b.dispose(adam.v[i]!);
    adam.m[i] = ramp((k) => (k - i) / 7);
    adam.v[i] = ramp((k) => (k + i) / 9);
  });
  return { net, adam };
}

const tensorValues = (b: Backend, ts: readonly { name: string; value: Parameters<Backend['download']>[0] }[]) => ts.map((t) => [t.name, Array.from(b.download(t.value))]);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'plif-ckpt-'));
});
afterEach(() => {
  fsHook.wrap = null;
  fsHook.opened = 0;
  fsHook.closed = 0;
  rmSync(dir, { recursive: true, force: true });
});

describe('validateTraining: what passes', () => {
  it('returns the filled config and exactly the nine state fields, extra ones dropped', () => {
    const r = validateTraining(P, { config: rawConfig(), state: { ...midEpoch(), extra: 1 }, other: 2 });
    expect(r.config).toEqual(trainConfig({ preset: 'fmnist-small', batch: 4, epochs: 3, seed: 7 }));
    expect(r.state).toStrictEqual(midEpoch());
    expect(Object.keys(r.state)).toEqual(['epoch', 'batch', 'lossSum', 'correct', 'seen', 'dropoutRng', 'augmentRng', 'seconds', 'best']);
    expect(Object.keys(r)).toEqual(['config', 'state']);
  });

  it('takes an epoch boundary: everything 0, no RNG states, no best', () => {
    const state = { epoch: 0, batch: 0, lossSum: 0, correct: 0, seen: 0, dropoutRng: null, augmentRng: null, seconds: 0, best: null };
    expect(validateTraining(P, { config: rawConfig(), state }).state).toStrictEqual(state);
  });

  it('takes RNG states at batch 0 too, and uint32 values from 0 to 2^32 - 1', () => {
    const state = { ...midEpoch(), batch: 0, seen: 0, correct: 0, dropoutRng: [0, 0, 0, 0], augmentRng: [4294967295, 0, 1, 4294967295] };
    expect(validateTraining(P, { config: rawConfig(), state }).state).toStrictEqual(state);
  });

  it('takes every integer at its bound: epoch 1e9, batch 1e12, seen the largest safe integer, correct = seen', () => {
    const top = { ...midEpoch(), epoch: 1e9, batch: 1e12, seen: 1e12, correct: 1e12, best: null };
    expect(validateTraining(P, { config: { ...rawConfig(), batch: 1 }, state: top }).state).toStrictEqual(top);
    // 2^53 - 1 = 20394401 x 441650591
    const safe = { ...midEpoch(), batch: 20394401, seen: Number.MAX_SAFE_INTEGER, correct: Number.MAX_SAFE_INTEGER };
    expect(validateTraining(P, { config: { ...rawConfig(), batch: 441650591 }, state: safe }).state).toStrictEqual(safe);
  });

  it('takes a best score of 0 or 1 from epoch 0 up to the epoch before this one, and fractional sums', () => {
    for (const best of [{ epoch: 0, score: 0 }, { epoch: 1, score: 1 }, { epoch: 4, score: 0.25 }]) {
      const state = { ...midEpoch(), epoch: 5, lossSum: 0.125, seconds: 1e-9, best };
      expect(validateTraining(P, { config: rawConfig(), state }).state.best).toStrictEqual(best);
    }
    // a copy holding only epoch and score
    const r = validateTraining(P, { config: rawConfig(), state: { ...midEpoch(), best: { epoch: 1, score: 0.5, note: 'x' } } });
    expect(r.state.best).toStrictEqual({ epoch: 1, score: 0.5 });
  });
});

describe('validateTraining: refusals, each naming the file and the field', () => {
  const bad = (raw: unknown) => () => validateTraining(P, raw);
  const withState = (patch: Record<string, unknown>) => bad({ config: rawConfig(), state: { ...midEpoch(), ...patch } });
  const without = (key: keyof TrainingState) => {
    const s: Record<string, unknown> = { ...midEpoch() };
    delete s[key];
    return bad({ config: rawConfig(), state: s });
  };

  it('refuses metadata, config and state that are not objects', () => {
    expect(bad(null)).toThrow(new CheckpointError(`${P}: training metadata must be an object, got null`));
    expect(bad([])).toThrow(`${P}: training metadata must be an object, got []`);
    expect(bad('x')).toThrow(`${P}: training metadata must be an object, got "x"`);
    expect(bad(undefined)).toThrow(`${P}: training metadata must be an object, got undefined`);
    expect(bad({ state: midEpoch() })).toThrow(`${P}: training metadata field 'config' must be an object, got undefined`);
    expect(bad({ config: null, state: midEpoch() })).toThrow(`${P}: training metadata field 'config' must be an object, got null`);
    expect(bad({ config: ['fmnist-small'], state: midEpoch() })).toThrow(`${P}: training metadata field 'config' must be an object, got ["fmnist-small"]`);
    expect(bad({ config: rawConfig() })).toThrow(`${P}: training metadata field 'state' must be an object, got undefined`);
    expect(bad({ config: rawConfig(), state: null })).toThrow(`${P}: training metadata field 'state' must be an object, got null`);
    expect(bad({ config: rawConfig(), state: [1] })).toThrow(`${P}: training metadata field 'state' must be an object, got [1]`);
    expect(bad(null)).toThrow(CheckpointError);
  });

  it("refuses a config trainConfig refuses, with trainConfig's message, long values cut", () => {
    expect(bad({ config: { ...rawConfig(), T: 0 }, state: midEpoch() })).toThrow(new CheckpointError(`${P}: training config: T must be a positive integer, got 0`));
    expect(bad({ config: { ...rawConfig(), lr: -1 }, state: midEpoch() })).toThrow(`${P}: training config: lr must be a number > 0, got -1`);
    // the config is checked before the state
    expect(bad({ config: { ...rawConfig(), T: 0 }, state: null })).toThrow(`${P}: training config: T must be a positive integer, got 0`);
    const long = 'x'.repeat(1500);
    let message = '';
    try {
      validateTraining(P, { config: { preset: long }, state: midEpoch() });
    } catch (e) {
      expect(e).toBeInstanceOf(CheckpointError);
      message = (e as Error).message;
    }
    expect(message.startsWith(`${P}: training config: unknown preset '${'x'.repeat(199)}…(1502 chars) (known: `)).toBe(true);
    expect(message).not.toContain('x'.repeat(200));
  });

  it('refuses integers out of range, fractions, strings and missing ones', () => {
    expect(withState({ epoch: -1 })).toThrow(new CheckpointError(`${P}: training state field 'epoch' must be an integer in [0, 1000000000], got -1`));
    expect(withState({ epoch: 1e9 + 1 })).toThrow(`${P}: training state field 'epoch' must be an integer in [0, 1000000000], got 1000000001`);
    expect(withState({ epoch: 1.5 })).toThrow(`${P}: training state field 'epoch' must be an integer in [0, 1000000000], got 1.5`);
    expect(withState({ epoch: '2' })).toThrow(`${P}: training state field 'epoch' must be an integer in [0, 1000000000], got "2"`);
    expect(without('epoch')).toThrow(`${P}: training state field 'epoch' must be an integer in [0, 1000000000], got undefined`);
    expect(withState({ batch: -1 })).toThrow(`${P}: training state field 'batch' must be an integer in [0, 1000000000000], got -1`);
    expect(withState({ batch: 1e12 + 1 })).toThrow(`${P}: training state field 'batch' must be an integer in [0, 1000000000000], got 1000000000001`);
    expect(withState({ seen: -1 })).toThrow(`${P}: training state field 'seen' must be an integer in [0, 9007199254740991], got -1`);
    expect(withState({ seen: 2 ** 53 })).toThrow(`${P}: training state field 'seen' must be an integer in [0, 9007199254740991], got 9007199254740992`);
    expect(withState({ correct: 13 })).toThrow(`${P}: training state field 'correct' must be an integer in [0, 12], got 13`);
    expect(withState({ correct: -1 })).toThrow(`${P}: training state field 'correct' must be an integer in [0, 12], got -1`);
    expect(withState({ correct: null })).toThrow(`${P}: training state field 'correct' must be an integer in [0, 12], got null`);
  });

  it('refuses sums that are negative, not finite or not numbers', () => {
    expect(withState({ lossSum: -1 })).toThrow(new CheckpointError(`${P}: training state field 'lossSum' must be a finite number >= 0, got -1`));
    expect(withState({ lossSum: -1e-9 })).toThrow(`${P}: training state field 'lossSum' must be a finite number >= 0, got -1e-9`);
    expect(withState({ lossSum: '1' })).toThrow(`${P}: training state field 'lossSum' must be a finite number >= 0, got "1"`);
    expect(withState({ lossSum: Number.NaN })).toThrow(`${P}: training state field 'lossSum' must be a finite number >= 0, got null`);
    expect(withState({ lossSum: Number.POSITIVE_INFINITY })).toThrow(`${P}: training state field 'lossSum' must be a finite number >= 0, got null`);
    expect(without('lossSum')).toThrow(`${P}: training state field 'lossSum' must be a finite number >= 0, got undefined`);
    expect(withState({ seconds: -0.5 })).toThrow(`${P}: training state field 'seconds' must be a finite number >= 0, got -0.5`);
    expect(withState({ seconds: null })).toThrow(`${P}: training state field 'seconds' must be a finite number >= 0, got null`);
  });

  it('refuses RNG states other than null or four uint32 values', () => {
    const msg = (k: string, got: string) => `${P}: training state field '${k}' must be null or 4 uint32 values, got ${got}`;
    expect(withState({ dropoutRng: [1, 2, 3] })).toThrow(new CheckpointError(msg('dropoutRng', '[1,2,3]')));
    expect(withState({ dropoutRng: [1, 2, 3, 4, 5] })).toThrow(msg('dropoutRng', '[1,2,3,4,5]'));
    expect(withState({ dropoutRng: [1, 2, 3, -1] })).toThrow(msg('dropoutRng', '[1,2,3,-1]'));
    expect(withState({ dropoutRng: [4294967296, 2, 3, 4] })).toThrow(msg('dropoutRng', '[4294967296,2,3,4]'));
    expect(withState({ dropoutRng: [1, 2.5, 3, 4] })).toThrow(msg('dropoutRng', '[1,2.5,3,4]'));
    expect(withState({ dropoutRng: ['1', 2, 3, 4] })).toThrow(msg('dropoutRng', '["1",2,3,4]'));
    expect(withState({ dropoutRng: { 0: 1, 1: 2, 2: 3, 3: 4, length: 4 } })).toThrow(msg('dropoutRng', '{"0":1,"1":2,"2":3,"3":4,"length":4}'));
    expect(withState({ dropoutRng: '1234' })).toThrow(msg('dropoutRng', '"1234"'));
    expect(without('dropoutRng')).toThrow(msg('dropoutRng', 'undefined'));
    expect(withState({ augmentRng: [1, 2, 3] })).toThrow(msg('augmentRng', '[1,2,3]'));
    expect(without('augmentRng')).toThrow(msg('augmentRng', 'undefined'));
  });

  it('refuses a seen count other than batch x batch size, and a mid-epoch state without both RNG states', () => {
    expect(withState({ seen: 13 })).toThrow(new CheckpointError(`${P}: training state field 'seen' must be batch x batch size = 3 x 4, got 13`));
    expect(withState({ seen: 11 })).toThrow(`${P}: training state field 'seen' must be batch x batch size = 3 x 4, got 11`);
    expect(withState({ batch: 0 })).toThrow(`${P}: training state field 'seen' must be batch x batch size = 0 x 4, got 12`);
    const fields = `${P}: training state fields 'dropoutRng', 'augmentRng' must be RNG states mid-epoch (batch 3), got`;
    expect(withState({ dropoutRng: null })).toThrow(new CheckpointError(`${fields} [null,[5,6,7,8]]`));
    expect(withState({ augmentRng: null })).toThrow(`${fields} [[1,2,3,4],null]`);
    expect(withState({ dropoutRng: null, augmentRng: null })).toThrow(`${fields} [null,null]`);
    // one batch done is mid-epoch
    expect(withState({ batch: 1, seen: 4, correct: 0, augmentRng: null })).toThrow(
      `${P}: training state fields 'dropoutRng', 'augmentRng' must be RNG states mid-epoch (batch 1), got [[1,2,3,4],null]`,
    );
  });

  it('refuses a best other than null or { epoch before this one, score in [0, 1] }', () => {
    const msg = (got: string, epoch = 2) => `${P}: training state field 'best' must be null or { epoch < ${epoch}, score in [0, 1] }, got ${got}`;
    expect(withState({ best: { epoch: 2, score: 0.5 } })).toThrow(new CheckpointError(msg('{"epoch":2,"score":0.5}')));
    expect(withState({ best: { epoch: 3, score: 0.5 } })).toThrow(msg('{"epoch":3,"score":0.5}'));
    expect(withState({ best: { epoch: -1, score: 0.5 } })).toThrow(msg('{"epoch":-1,"score":0.5}'));
    expect(withState({ best: { epoch: 0.5, score: 0.5 } })).toThrow(msg('{"epoch":0.5,"score":0.5}'));
    expect(withState({ best: { epoch: '0', score: 0.5 } })).toThrow(msg('{"epoch":"0","score":0.5}'));
    expect(withState({ best: { epoch: 2 ** 53, score: 0.5 }, epoch: 1e9 })).toThrow(msg('{"epoch":9007199254740992,"score":0.5}', 1e9));
    expect(withState({ best: { epoch: 0, score: -0.001 } })).toThrow(msg('{"epoch":0,"score":-0.001}'));
    expect(withState({ best: { epoch: 0, score: 1.001 } })).toThrow(msg('{"epoch":0,"score":1.001}'));
    expect(withState({ best: { epoch: 0, score: Number.NaN } })).toThrow(msg('{"epoch":0,"score":null}'));
    expect(withState({ best: { epoch: 0, score: '0.5' } })).toThrow(msg('{"epoch":0,"score":"0.5"}'));
    expect(withState({ best: { epoch: 0 } })).toThrow(msg('{"epoch":0}'));
    expect(withState({ best: [0, 0.5] })).toThrow(msg('[0,0.5]'));
    expect(withState({ best: 0.5 })).toThrow(msg('0.5'));
    expect(without('best')).toThrow(msg('undefined'));
    // at epoch 0 no best can exist yet
    expect(withState({ epoch: 0, best: { epoch: 0, score: 0.5 } })).toThrow(msg('{"epoch":0,"score":0.5}', 0));
  });
});

describe('training metadata of a checkpoint', () => {
  it('trainingSaveOptions: the Adam state, and the version and the training state as metadata strings', () => {
    const adam = { config: { lr: 1 }, step: 3, m: [], v: [] } as unknown as AdamState;
    const config = trainConfig(rawConfig());
    const opts = trainingSaveOptions(adam, { config, state: midEpoch(), version: '9.9.9' });
    expect(opts).toStrictEqual({ optimizer: adam, extra: { library: '9.9.9', training: JSON.stringify({ config, state: midEpoch() }) } });
    expect(opts.optimizer).toBe(adam);
    expect(JSON.parse(opts.extra!.training!)).toEqual({ config, state: midEpoch() });
  });

  it('trainingCheckpointBytes: the model, the Adam state and the training state, read back as they were', async () => {
    const b = cpuBackend();
    const { net, adam } = model(b);
    const config = trainConfig(rawConfig());
    const bytes = await trainingCheckpointBytes(net, adam, { config, state: midEpoch(), version: '1.2.3' });
    expect(bytes).toEqual(await snapshotCheckpoint(net, trainingSaveOptions(adam, { config, state: midEpoch(), version: '1.2.3' })));
    const { metadata } = decodeSafetensors(bytes);
    expect(metadata.library).toBe('1.2.3');
    expect(JSON.parse(metadata.optimizer!)).toMatchObject({ kind: 'adam', step: 5 });
    const ck = loadCheckpoint(cpuBackend(), bytes);
    expect(checkpointTraining(ck, 'x')).toEqual({ config, state: midEpoch() });
  });

  it('checkpointTraining: null without training metadata, else the checked state; JSON errors name the checkpoint', () => {
    const ck = (extra: Record<string, string>) => ({ metadata: { extra } }) as unknown as Pick<LoadedCheckpoint, 'metadata'>;
    expect(checkpointTraining(ck({ library: '1' }), 'a.safetensors')).toBeNull();
    const good = { config: rawConfig(), state: midEpoch() };
    expect(checkpointTraining(ck({ training: JSON.stringify(good) }), 'a')).toEqual(validateTraining('a', good));
    let parseError = '';
    try {
      JSON.parse('not json');
    } catch (e) {
      parseError = (e as Error).message;
    }
    expect(() => checkpointTraining(ck({ training: 'not json' }), 'a.safetensors')).toThrow(
      new CheckpointError(`a.safetensors: its training metadata is not JSON (${parseError})`),
    );
    // nesting deeper than 64 levels is refused before it is parsed; 64 levels parse (and then fail the checks)
    expect(() => checkpointTraining(ck({ training: '['.repeat(65) + ']'.repeat(65) }), 'b')).toThrow(
      new CheckpointError('b: its training metadata is not JSON (JSON nested more than 64 levels deep)'),
    );
    expect(() => checkpointTraining(ck({ training: '['.repeat(64) + ']'.repeat(64) }), 'b')).toThrow(
      new CheckpointError(`b: training metadata must be an object, got ${'['.repeat(64)}${']'.repeat(64)}`),
    );
    expect(() => checkpointTraining(ck({ training: '{"config":{"preset":"fmnist-small"}}' }), 'c')).toThrow(
      `c: training metadata field 'state' must be an object, got undefined`,
    );
  });

  it('readTrainingMeta: the network, taus, library and training state of a loaded checkpoint', async () => {
    const b = cpuBackend();
    const { net, adam } = model(b);
    const config = trainConfig(rawConfig());
    const ck = loadCheckpoint(b, await trainingCheckpointBytes(net, adam, { config, state: midEpoch(), version: '0.4.2' }));
    const { ck: same, meta } = readTrainingMeta(ck, 'p', b);
    expect(same).toBe(ck);
    expect(meta).toStrictEqual({
      network: netConfig(),
      taus: ck.net.taus().map((t) => ({ layer: t.index, tau: t.tau })),
      library: '0.4.2',
      training: { config, state: midEpoch() },
    });
    expect(meta.taus.map((t) => t.layer)).toEqual([2, 6]);
    for (const t of meta.taus) expect(t.tau).toBeCloseTo(3, 6);
    expect(meta.network).toBe(ck.config);
  });

  it("readTrainingMeta: a bare model has no 'training' key and library 'unknown'", async () => {
    const b = cpuBackend();
    const { net } = model(b);
    const ck = loadCheckpoint(b, await snapshotCheckpoint(net));
    const { meta } = readTrainingMeta(ck, 'p', b);
    expect(meta.library).toBe('unknown');
    expect(Object.keys(meta)).toEqual(['network', 'taus', 'library']);
  });

  it('readTrainingMeta: on bad training metadata frees the network and the optimizer state, then rethrows', async () => {
    const b = cpuBackend();
    const { net, adam } = model(b);
    const bytes = await snapshotCheckpoint(net, { optimizer: adam, extra: { training: '{"state":{}}' } });
    const before = b.liveTensors();
    const ck = loadCheckpoint(b, bytes);
    expect(b.liveTensors()).toBeGreaterThan(before + 2 * adam.m.length);
    expect(() => readTrainingMeta(ck, 'q.safetensors', b)).toThrow(new CheckpointError(`q.safetensors: training metadata field 'config' must be an object, got undefined`));
    expect(b.liveTensors()).toBe(before);
    // without optimizer state: the network alone is freed
    const bare = loadCheckpoint(b, await snapshotCheckpoint(net, { extra: { training: 'nope' } }));
    expect(bare.optimizer).toBeNull();
    expect(() => readTrainingMeta(bare, 'r', b)).toThrow(/^r: its training metadata is not JSON \(/);
    expect(b.liveTensors()).toBe(before);
  });
});

describe('checkpoint files', () => {
  it('saveCheckpointFile writes the checkpoint bytes atomically: no temporary file left, an old file replaced', async () => {
    const b = cpuBackend();
    const { net, adam } = model(b);
    const path = join(dir, 'm.safetensors');
    writeFileSync(path, 'old contents');
    const opts = { optimizer: adam, rng: Rng.seeded(4), extra: { note: 'n' } };
    await saveCheckpointFile(path, net, opts);
    expect(new Uint8Array(readFileSync(path))).toEqual(await snapshotCheckpoint(net, opts));
    expect(readdirSync(dir)).toEqual(['m.safetensors']);
    // no options: the model alone
    await saveCheckpointFile(path, net);
    const meta = decodeSafetensors(new Uint8Array(readFileSync(path))).metadata;
    expect(Object.keys(meta).sort()).toEqual(['config', 'format', 'tau']);
    expect(readdirSync(dir)).toEqual(['m.safetensors']);
  });

  it('saveCheckpointFile creates missing directories, and refuses a path under a file (FileIoError)', async () => {
    const b = cpuBackend();
    const { net } = model(b);
    await saveCheckpointFile(join(dir, 'a', 'b', 'm.safetensors'), net);
    expect(readdirSync(join(dir, 'a', 'b'))).toEqual(['m.safetensors']);
    writeFileSync(join(dir, 'f'), '');
    await expect(saveCheckpointFile(join(dir, 'f', 'm.safetensors'), net)).rejects.toBeInstanceOf(FileIoError);
  });

  it('round-trips a model with Adam and RNG state bit for bit', async () => {
    const b = cpuBackend();
    const { net, adam } = model(b);
    const rng = Rng.seeded(11);
    rng.nextUint32();
    const path = join(dir, 'm.safetensors');
    await saveCheckpointFile(path, net, { optimizer: adam, rng, extra: { library: 'v' } });
    const b2 = cpuBackend();
    const ck = await loadCheckpointFile(b2, path);
    expect(ck.config).toEqual(netConfig());
    expect(tensorValues(b2, [...ck.net.params(), ...ck.net.buffers()])).toEqual(tensorValues(b, [...net.params(), ...net.buffers()]));
    expect(ck.optimizer!.step).toBe(5);
    expect(ck.optimizer!.config).toEqual(adam.config);
    expect(ck.optimizer!.m.map((t) => Array.from(b2.download(t)))).toEqual(adam.m.map((t) => Array.from(b.download(t))));
    expect(ck.optimizer!.v.map((t) => Array.from(b2.download(t)))).toEqual(adam.v.map((t) => Array.from(b.download(t))));
    expect(ck.rngState).toEqual(rng.state());
    expect(ck.metadata.extra).toEqual({ library: 'v' });
    // saved again, the same bytes
    await saveCheckpointFile(join(dir, 'again.safetensors'), ck.net, { optimizer: ck.optimizer!, rng, extra: { library: 'v' } });
    expect(readFileSync(join(dir, 'again.safetensors'))).toEqual(readFileSync(path));
  });

  it('readCheckpointBytes: the bytes of the file, as a plain Uint8Array', async () => {
    const path = join(dir, 'x.bin');
    writeFileSync(path, Uint8Array.of(1, 2, 3, 250));
    const bytes = await readCheckpointBytes(path);
    expect(bytes.constructor).toBe(Uint8Array);
    expect(Array.from(bytes)).toEqual([1, 2, 3, 250]);
    expect(bytes.byteLength).toBe(4);
  });

  it('readCheckpointBytes and loadCheckpointFile refuse a directory, a device, a missing file and a path under a file', async () => {
    const b = cpuBackend();
    writeFileSync(join(dir, 'f'), '');
    const cases: Array<[string, string]> = [
      [dir, `${dir}: is a directory, not a checkpoint file`],
      ['/dev/null', '/dev/null: is not a regular file'],
      [join(dir, 'none.safetensors'), `${join(dir, 'none.safetensors')}: no such file`],
      [join(dir, 'f', 'x'), `${join(dir, 'f', 'x')}: cannot read it (ENOTDIR: not a directory, stat '${join(dir, 'f', 'x')}')`],
    ];
    for (const [path, message] of cases) {
      await expect(readCheckpointBytes(path)).rejects.toThrow(new CheckpointError(message));
      await expect(loadCheckpointFile(b, path)).rejects.toThrow(new CheckpointError(message));
    }
    await expect(readCheckpointBytes(dir)).rejects.toBeInstanceOf(CheckpointError);
    await expect(loadCheckpointFile(b, join(dir, 'f', 'x'))).rejects.toBeInstanceOf(CheckpointError);
  });

  it('loadCheckpointFile refuses files too short for the header length, with core’s message and the path', async () => {
    const b = cpuBackend();
    const path = join(dir, 'short.safetensors');
    for (const n of [0, 3, 7]) {
      writeFileSync(path, new Uint8Array(n));
      await expect(loadCheckpointFile(b, path)).rejects.toThrow(new CheckpointError(`${path}: not a safetensors file: ${n} bytes, shorter than the 8-byte header length`));
    }
    // 8 bytes of a zero header length: read, then an empty header that is no JSON
    writeFileSync(path, new Uint8Array(8));
    await expect(loadCheckpointFile(b, path)).rejects.toThrow(/^\S+short\.safetensors: not a safetensors file: the header is not JSON \(/);
    // a header length past the end of the file
    const len = new Uint8Array(12);
    new DataView(len.buffer).setBigUint64(0, 100n, true);
    writeFileSync(path, len);
    await expect(loadCheckpointFile(b, path)).rejects.toThrow(
      new CheckpointError(`${path}: truncated or not a safetensors file: header length 100 exceeds the 4 bytes that follow`),
    );
  });

  it('loadCheckpointFile refuses a file cut in its data, or corrupt, as loadCheckpoint does, naming the file', async () => {
    const b = cpuBackend();
    const { net } = model(b);
    const whole = await snapshotCheckpoint(net);
    const hl = Number(new DataView(whole.buffer, whole.byteOffset).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(whole.subarray(8, 8 + hl))) as Record<string, { data_offsets: [number, number] }>;
    const [lastName, lastEntry] = Object.entries(header).filter(([k]) => k !== '__metadata__').sort((x, y) => y[1].data_offsets[1] - x[1].data_offsets[1])[0]!;
    const dataLen = whole.length - 8 - hl;
    expect(lastEntry.data_offsets[1]).toBe(dataLen);
    const path = join(dir, 'cut.safetensors');
    writeFileSync(path, whole.subarray(0, whole.length - 4));
    await expect(loadCheckpointFile(b, path)).rejects.toThrow(
      new CheckpointError(`${path}: truncated file: tensor '${lastName}' ends at byte ${dataLen} of the data, which has only ${dataLen - 4} bytes`),
    );
    // a byte more than the tensors cover
    const longer = new Uint8Array(whole.length + 4);
    longer.set(whole);
    writeFileSync(path, longer);
    await expect(loadCheckpointFile(b, path)).rejects.toThrow(new CheckpointError(`${path}: corrupt file: ${dataLen + 4} data bytes but the tensors cover ${dataLen}`));
    // a NaN in the data: refused after the values are read, by the same check as loadCheckpoint's
    const nan = whole.slice();
    new DataView(nan.buffer).setFloat32(8 + hl, Number.NaN, true);
    writeFileSync(path, nan);
    let coreMessage = '';
    try {
      loadCheckpoint(cpuBackend(), nan);
    } catch (e) {
      coreMessage = (e as Error).message;
    }
    expect(coreMessage).not.toBe('');
    await expect(loadCheckpointFile(b, path)).rejects.toThrow(new CheckpointError(`${path}: ${coreMessage}`));
  });

  it('loadCheckpointFile reads through short reads, and refuses a file that ends while it is read', async () => {
    const b = cpuBackend();
    const { net, adam } = model(b);
    const path = join(dir, 'm.safetensors');
    await saveCheckpointFile(path, net, { optimizer: adam });
    const whole = readFileSync(path);
    // at most 5 bytes a read: every byte still lands where it belongs
    fsHook.wrap = (fh) => handle(fh, (read, buf, off, len, pos) => read(buf, off, Math.min(len, 5), pos));
    const ck = await loadCheckpointFile(cpuBackend(), path);
    expect(ck.optimizer!.m.map((t) => Array.from(ck.net.backend.download(t)))).toEqual(adam.m.map((t) => Array.from(b.download(t))));
    expect(tensorValues(ck.net.backend, ck.net.params())).toEqual(tensorValues(b, net.params()));
    expect([fsHook.opened, fsHook.closed]).toEqual([1, 1]);
    // the file "ends" at byte `end` (it shrank after its size was read): reads from there return nothing
    const hl = Number(whole.readBigUInt64LE(0));
    const header = JSON.parse(whole.subarray(8, 8 + hl).toString()) as Record<string, { data_offsets: [number, number] }>;
    const [name, entry] = Object.entries(header).find(([, e]) => e.data_offsets?.[1] - e.data_offsets?.[0] > 40)!;
    const begin = 8 + hl + entry.data_offsets[0];
    const end = begin + 13;
    fsHook.wrap = (fh) => handle(fh, (read, buf, off, len, pos) => read(buf, off, Math.max(0, Math.min(len, 7, end - pos)), pos));
    await expect(loadCheckpointFile(cpuBackend(), path)).rejects.toThrow(
      new CheckpointError(
        `${path}: truncated file: it ended at byte ${end} while reading ${entry.data_offsets[1] - entry.data_offsets[0]} bytes from byte ${begin} (was it cut while being read?)`,
      ),
    );
    expect(name).toMatch(/^(param|buffer|optim)\./);
    expect([fsHook.opened, fsHook.closed]).toEqual([2, 2]);
    // cut inside the header
    fsHook.wrap = (fh) => handle(fh, (read, buf, off, len, pos) => read(buf, off, Math.max(0, Math.min(len, 20 - pos)), pos));
    await expect(loadCheckpointFile(cpuBackend(), path)).rejects.toThrow(
      new CheckpointError(`${path}: truncated file: it ended at byte 20 while reading ${hl} bytes from byte 8 (was it cut while being read?)`),
    );
    expect(fsHook.closed).toBe(3);
  });

  it('loadCheckpointFile: an I/O error while reading names the file; any other error passes through as it is', async () => {
    const path = join(dir, 'm.safetensors');
    await saveCheckpointFile(path, model(cpuBackend()).net);
    fsHook.wrap = (fh) =>
      handle(fh, () => Promise.reject(Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })));
    await expect(loadCheckpointFile(cpuBackend(), path)).rejects.toThrow(new CheckpointError(`${path}: cannot read it (EIO: i/o error, read)`));
    const boom = new TypeError('boom');
    fsHook.wrap = (fh) => handle(fh, () => Promise.reject(boom));
    await expect(loadCheckpointFile(cpuBackend(), path)).rejects.toBe(boom);
    expect([fsHook.opened, fsHook.closed]).toEqual([2, 2]);
  });
});

describe('a run’s checkpoint (training/checkpoint.ts)', () => {
  it('re-exports one API: the same functions as their modules', () => {
    expect(ckpt.validateTraining).toBe(stateModule.validateTraining);
    expect(ckpt.checkpointTraining).toBe(stateModule.checkpointTraining);
    expect(ckpt.readTrainingMeta).toBe(stateModule.readTrainingMeta);
    expect(ckpt.loadCheckpoint).toBe(core.loadCheckpoint);
    expect(ckpt.saveCheckpoint).toBe(core.saveCheckpoint);
    expect(ckpt.snapshotCheckpoint).toBe(core.snapshotCheckpoint);
    expect(ckpt.CheckpointError).toBe(core.CheckpointError);
    expect(ckpt.loadCheckpointFile).toBe(files.loadCheckpointFile);
    expect(ckpt.saveCheckpointFile).toBe(files.saveCheckpointFile);
    expect(ckpt.readCheckpointBytes).toBe(files.readCheckpointBytes);
  });

  it('saveTrainingCheckpoint then loadTrainingCheckpoint: the model, Adam state, training state and config as saved', async () => {
    const b = cpuBackend();
    const { net, adam } = model(b);
    const config: TrainConfig = trainConfig(rawConfig());
    const path = join(dir, 'last.safetensors');
    await saveTrainingCheckpoint(path, net, adam, { config, state: midEpoch(), version: '2.0.0' });
    expect(new Uint8Array(readFileSync(path))).toEqual(await trainingCheckpointBytes(net, adam, { config, state: midEpoch(), version: '2.0.0' }));
    expect(readdirSync(dir)).toEqual(['last.safetensors']);
    const b2 = cpuBackend();
    const r = await loadTrainingCheckpoint(b2, path);
    expect(Object.keys(r)).toEqual(['net', 'adam', 'state', 'network', 'config']);
    expect(r.state).toEqual(midEpoch());
    expect(r.config).toEqual(config);
    expect(r.network).toEqual(netConfig());
    expect(r.network).toBe(r.net.config);
    expect(r.adam.step).toBe(5);
    expect(r.adam.m.map((t) => Array.from(b2.download(t)))).toEqual(adam.m.map((t) => Array.from(b.download(t))));
    expect(r.adam.v.map((t) => Array.from(b2.download(t)))).toEqual(adam.v.map((t) => Array.from(b.download(t))));
    expect(tensorValues(b2, [...r.net.params(), ...r.net.buffers()])).toEqual(tensorValues(b, [...net.params(), ...net.buffers()]));
    expect(await readTrainingState(path)).toStrictEqual(midEpoch());
  });

  it('loadTrainingCheckpoint refuses a model without training or optimizer state, freeing what it loaded', async () => {
    const b = cpuBackend();
    const { net, adam } = model(b);
    const training = JSON.stringify({ config: rawConfig(), state: midEpoch() });
    const cases: Array<[string, Parameters<typeof saveCheckpointFile>[2]]> = [
      ['no-training.safetensors', { optimizer: adam }],
      ['no-optimizer.safetensors', { extra: { training } }],
      ['bare.safetensors', {}],
    ];
    const before = b.liveTensors();
    for (const [name, opts] of cases) {
      const path = join(dir, name);
      await saveCheckpointFile(path, net, opts);
      await expect(loadTrainingCheckpoint(b, path)).rejects.toThrow(new CheckpointError(`${path}: holds a model but no training state (not written by plif train)`));
      expect(b.liveTensors()).toBe(before);
    }
    // bad training metadata: refused by its checks, and freed too
    const path = join(dir, 'bad.safetensors');
    await saveCheckpointFile(path, net, { optimizer: adam, extra: { training: JSON.stringify({ config: rawConfig(), state: { ...midEpoch(), epoch: -1 } }) } });
    await expect(loadTrainingCheckpoint(b, path)).rejects.toThrow(
      new CheckpointError(`${path}: training state field 'epoch' must be an integer in [0, 1000000000], got -1`),
    );
    expect(b.liveTensors()).toBe(before);
    await expect(loadTrainingCheckpoint(b, join(dir, 'none'))).rejects.toThrow(new CheckpointError(`${join(dir, 'none')}: no such file`));
  });
});

describe('readTrainingState: from the header alone', () => {
  /** A file of an 8-byte header length `n` followed by `body`. */
  const file = (name: string, n: number | bigint, body: Uint8Array | string = '') => {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const out = new Uint8Array(8 + bytes.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
    out.set(bytes, 8);
    const path = join(dir, name);
    writeFileSync(path, out);
    return path;
  };
  const header = (meta: unknown) => JSON.stringify({ __metadata__: meta });

  it('reads the state of a header, whatever follows it, and closes the file', async () => {
    fsHook.wrap = (fh) => handle(fh, (read, buf, off, len, pos) => read(buf, off, len, pos));
    const h = header({ training: JSON.stringify({ config: rawConfig(), state: midEpoch() }) });
    const path = file('h.safetensors', h.length, `${h}trailing bytes`);
    expect(await readTrainingState(path)).toStrictEqual(midEpoch());
    expect([fsHook.opened, fsHook.closed]).toEqual([1, 1]);
    // a failed read closes it too
    await expect(readTrainingState(file('s', 0, ''))).rejects.toThrow(CheckpointError);
    expect([fsHook.opened, fsHook.closed]).toEqual([2, 2]);
  });

  it('refuses what it cannot read, naming the file and why', async () => {
    const cannot = (path: string, why: string) => new CheckpointError(`${path}: cannot read its header (${why})`);
    const short = join(dir, 'short');
    writeFileSync(short, Uint8Array.of(1, 0, 0, 0, 0, 0, 0));
    await expect(readTrainingState(short)).rejects.toThrow(cannot(short, 'shorter than the 8-byte header length'));
    const p1 = file('a', 100, 'x'.repeat(99));
    await expect(readTrainingState(p1)).rejects.toThrow(cannot(p1, 'truncated header'));
    // up to 16 MiB is read (this one is cut), longer is refused unread
    const p2 = file('b', 16 * 1024 * 1024, '{}');
    await expect(readTrainingState(p2)).rejects.toThrow(cannot(p2, 'truncated header'));
    const p3 = file('c', 16 * 1024 * 1024 + 1, '{}');
    await expect(readTrainingState(p3)).rejects.toThrow(cannot(p3, 'a header of 16777217 bytes'));
    const p4 = file('d', 2n ** 63n, '{}');
    await expect(readTrainingState(p4)).rejects.toThrow(cannot(p4, 'a header of 9223372036854776000 bytes'));
    const p5 = file('e', 3, Uint8Array.of(0x7b, 0xff, 0x7d));
    await expect(readTrainingState(p5)).rejects.toThrow(cannot(p5, 'The encoded data was not valid for encoding utf-8'));
    const missing = join(dir, 'missing');
    await expect(readTrainingState(missing)).rejects.toThrow(cannot(missing, `ENOENT: no such file or directory, open '${missing}'`));
    await expect(readTrainingState(dir)).rejects.toThrow(cannot(dir, 'EISDIR: illegal operation on a directory, read'));
  });

  it('refuses a header without a training state, and checks the one it holds', async () => {
    const none = (path: string) => new CheckpointError(`${path}: holds no training state`);
    const cases = ['', 'not json', '{}', 'null', header({ library: '1' }), header({ training: 'not json' })];
    for (const [i, h] of cases.entries()) {
      const path = file(`n${i}`, h.length, h);
      await expect(readTrainingState(path)).rejects.toThrow(none(path));
    }
    const b = cpuBackend();
    const bare = join(dir, 'bare.safetensors');
    await saveCheckpointFile(bare, model(b).net);
    await expect(readTrainingState(bare)).rejects.toThrow(none(bare));
    const bad = header({ training: JSON.stringify({ config: rawConfig(), state: { ...midEpoch(), seen: 5, correct: 0 } }) });
    const path = file('bad', bad.length, bad);
    await expect(readTrainingState(path)).rejects.toThrow(new CheckpointError(`${path}: training state field 'seen' must be batch x batch size = 3 x 4, got 5`));
  });
});
