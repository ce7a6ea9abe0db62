// One flag framework for every command (cli/args.ts): an unknown flag is a usage error (exit code 2) that
// names the flag, suggests the nearest real one, and points at --help. Checked on the built CLI as a
// user runs it (node dist/cli/plif.js ...), for every command of the dispatcher.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { editDistance, nearestFlags } from '../cli/args.js';
import { COMMANDS } from '../cli/dispatch.js';
import { ensureBuilt, plifRun } from './reliability/helpers.js';
import { nmnistBytes, randomEvents } from './data/writers.js';

const dir = mkdtempSync(join(tmpdir(), 'plif-flags-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(() => ensureBuilt(), 300_000);

describe('nearestFlags', () => {
  it('counts insertions, deletions, substitutions and adjacent swaps, ignoring case', () => {
    expect(editDistance('limt-train', 'limit-train')).toBe(1);
    expect(editDistance('stpes', 'steps')).toBe(1); // one swap, not two substitutions
    expect(editDistance('t', 'T')).toBe(0);
    expect(editDistance('', 'port')).toBe(4);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  it('suggests the nearest flags within 2 edits, else the one flag the typed one begins', () => {
    const known = ['limit-train', 'limit-test', 'eval-batch', 'T', 'tau0', 'seed'];
    expect(nearestFlags('limt-train', known)).toEqual(['limit-train']);
    expect(nearestFlags('limit-tst', known)).toEqual(['limit-test']);
    expect(nearestFlags('t', known)).toEqual(['T']);
    expect(nearestFlags('eval', known)).toEqual(['eval-batch']); // a unique prefix
    expect(nearestFlags('limit', known)).toEqual([]); // a prefix of two: no guess
    expect(nearestFlags('x', known)).toEqual([]); // 1 edit from 'T', but that is all of it
    expect(nearestFlags('frobnicate', known)).toEqual([]);
    expect(nearestFlags('sed', ['seed', 'sea'])).toEqual(['seed', 'sea']); // ties: both
  });
});

describe('an unknown flag, on the built CLI', () => {
  // a typo of one real flag of each command, and what it should suggest
  const typos: Record<string, [string, string]> = {
    train: ['--limt-train', '--limit-train'],
    eval: ['--chekpoint', '--checkpoint'],
    bench: ['--stpes', '--steps'],
    plot: ['--confuson', '--confusion'],
    frames: ['--split-bi', '--split-by'],
    events: ['--haed', '--head'],
    inspect: ['--chanels', '--channels'],
    export: ['--fromat', '--format'],
    import: ['--outt', '--out'],
    serve: ['--prot', '--port'],
  };

  it('covers every command', () => {
    expect(Object.keys(typos).sort()).toEqual(Object.keys(COMMANDS).sort());
  });

  it.each(Object.entries(typos))('plif %s: exit code 2, the flag, a "did you mean" and the --help hint', async (command, [typo, meant]) => {
    const r = await plifRun([command, typo]);
    expect(r.code, r.err).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toBe(`plif ${command}: Unknown option '${typo}': did you mean ${meant}?\n(plif ${command} --help lists the options)\n`);
  });

  it('a flag like none of them gets no guess', async () => {
    const r = await plifRun(['train', '--preset', 'fmnist-small', '--frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toBe("plif train: Unknown option '--frobnicate'\n(plif train --help lists the options)\n");
  });
});

describe('plif frames and plif events use the shared framework', () => {
  const nm = join(dir, '00001.bin');
  writeFileSync(nm, nmnistBytes(randomEvents(50, 34, 34, 1)));

  it('bad values are usage errors (exit code 2) worded as for every other command', async () => {
    for (const [args, message] of [
      [['frames', '--format', 'nmnist', '--file', nm, '--T', 'ten', '--out', join(dir, 'x.npy')], "--T must be an integer >= 1, got 'ten'"],
      [['frames', '--format', 'nmnist', '--file', nm, '--T', '0', '--out', join(dir, 'x.npy')], "--T must be an integer >= 1, got '0'"],
      [['events', '--format', 'nmnist', '--file', nm, '--head=-1'], "--head must be an integer >= 0, got '-1'"],
    ] as const) {
      const r = await plifRun([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err).toBe(`plif ${args[0]}: ${message}\n(plif ${args[0]} --help lists the options)\n`);
    }
  });

  it('--help prints the usage with exit code 0; a missing file is exit code 1 with the command named', async () => {
    const help = await plifRun(['frames', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/^usage: plif frames --format/);
    const missing = await plifRun(['events', '--format', 'nmnist', '--file', join(dir, 'none.bin')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^plif events: .*ENOENT/);
  });
});
