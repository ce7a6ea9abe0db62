// plif import refuses a NIR graph whose weights, biases or neuron parameters are not finite float32 numbers
// (NaN, an infinity, or a double beyond float32's range, which would become one), naming the file, the node
// and the tensor, with exit 1 and no checkpoint written. Before: such a graph was imported with exit 0 into
// a checkpoint that plif eval refused. The NIR files are real: plif export's output, edited through h5wasm.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { saveCheckpoint } from '../../core/checkpoint.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { Rng } from '../../core/rng.js';
import { readNirFile, writeNirFile } from '../../interop/nir/hdf5.js';
import { f64, isGroup, type NirArray, type NirGroup } from '../../interop/nir/tree.js';
import { referenceBackend } from '../../reference/ops-backend.js';
import { ensureBuilt, plifRun } from './helpers.js';

let dir: string;
let exported: string;

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(join(tmpdir(), 'plif-import-'));
  const net = new Network(referenceBackend(), networkConfig('c2k3s1-BN-PLIF-MPk2s2-FC8-PLIF-APk2s2', [1, 6, 6], 4, { T: 2 }), Rng.seeded(3));
  const ck = join(dir, 'net.safetensors');
  writeFileSync(ck, saveCheckpoint(net));
  exported = join(dir, 'net.nir');
  const r = await plifRun(['export', '--checkpoint', ck, '--format', 'nir', '--out', exported]);
  expect(r.code, r.err).toBe(0);
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The exported graph with `edit` applied to its nodes, written as a NIR file named `name`. */
async function edited(name: string, edit: (nodes: NirGroup) => void): Promise<string> {
  const file = await readNirFile(exported);
  const nodes = file.node.nodes;
  if (!isGroup(nodes)) throw new Error('no /node/nodes');
  edit(nodes);
  const p = join(dir, name);
  await writeNirFile(p, file);
  return p;
}

const tensor = (nodes: NirGroup, node: string, key: string): NirArray => (nodes[node] as NirGroup)[key] as NirArray;

describe('plif import: non-finite values are refused, naming the node and the tensor', () => {
  it('the untouched export imports (exit 0)', async () => {
    const out = join(dir, 'good.safetensors');
    const r = await plifRun(['import', '--format', 'nir', exported, '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(out)).toBe(true);
  }, 60_000);

  it.each([
    ['a NaN conv weight', '0_conv', 'weight', (t: NirArray) => ((t.data as Float32Array)[5] = Number.NaN), /holds 1 value\(s\) that are not finite float32 numbers, the first NaN at index 5 of shape \[2, 1, 3, 3\]/],
    ['an infinite conv bias', '0_conv', 'bias', (t: NirArray) => ((t.data as Float32Array)[1] = Number.NEGATIVE_INFINITY), /the first -Infinity at index 1 of shape \[2\]/],
    ['NaN FC weights', '4_linear', 'weight', (t: NirArray) => (t.data as Float32Array).fill(Number.NaN, 0, 3), /holds 3 value\(s\) .*the first NaN at index 0/],
  ])('%s', async (what, node, key, poison, message) => {
    const p = await edited(`${what.replace(/ /g, '-')}.nir`, (nodes) => {
      if (!nodes[node]) throw new Error(`no node ${node} in ${Object.keys(nodes).join(', ')}`);
      poison(tensor(nodes, node, key));
    });
    const out = join(dir, `${what.replace(/ /g, '-')}.safetensors`);
    const r = await plifRun(['import', '--format', 'nir', p, '--out', out]);
    expect(r.code, r.err).toBe(1);
    expect(r.err).toContain(`plif: ${p}: node '${node}': tensor '${key}' holds`);
    expect(r.err).toMatch(message);
    expect(r.err).toContain("a checkpoint's values must be finite");
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('a tau of 1e300 (a finite double, an infinity as float32) and a NaN threshold', async () => {
    for (const [key, value, shown] of [
      ['tau', 1e300, '1e+300 (beyond float32\'s range)'],
      ['v_threshold', Number.NaN, 'NaN'],
    ] as const) {
      const p = await edited(`lif-${key}.nir`, (nodes) => {
        const t = tensor(nodes, '2_lif', key);
        (nodes['2_lif'] as NirGroup)[key] = f64(new Array(t.data.length).fill(value), t.shape);
      });
      const out = join(dir, `lif-${key}.safetensors`);
      const r = await plifRun(['import', '--format', 'nir', p, '--out', out]);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toContain(`${p}: node '2_lif': tensor '${key}' holds`);
      expect(r.err).toContain(`the first ${shown} at index 0`);
      expect(existsSync(out)).toBe(false);
    }
  }, 60_000);
});
