import { describe, expect, it } from 'vitest';
import { capture } from '../capture.js';
import { run as bench } from '../../cli/commands/bench.js';
import { run as inspect } from '../../cli/commands/inspect.js';


describe('plif inspect', () => {
  it('prints the layer list with shapes and parameter counts', async () => {
    const r = await capture(() => inspect(['--preset', 'fmnist-small']));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/c16k3s1\s+\[1, 28, 28\]\s+\[16, 28, 28\]\s+144\s+once/);
    expect(r.out).toMatch(/FC128\s+\[16, 7, 7\]\s+\[128\]\s+100352/);
    expect(r.out).toMatch(/total parameters: 115668/);
    const j = await capture(() => inspect(['--preset', 'mnist', '--neuron', 'lif', '--json']));
    const parsed = JSON.parse(j.out);
    expect(parsed.layers.filter((l: { token: string }) => l.token === 'LIF')).toHaveLength(4);
    expect(parsed.total_params).toBe(128 * 9 + 128 * 128 * 9 + 6272 * 2048 + 2048 * 100 + 4 * 128);
  });

  it('reports bad input with exit code 2 and the caret', async () => {
    const r = await capture(() => inspect(['--structure', 'c4k3s1-PLX']));
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown layer token 'PLX'");
    expect(r.err).toContain('         ^');
    expect((await capture(() => inspect(['--preset', 'nope']))).code).toBe(2);
  });
});

describe('plif bench', () => {
  it('prints one JSON object with samples_per_s, and the TensorFlow.js ratio', async () => {
    const r = await capture(() => bench(['--structure', 'c2k3s1-BN-PLIF-MPk2s2-DP-FC100-PLIF-APk10s10', '--T', '2', '--batch', '2', '--steps', '1', '--tfjs-steps', '1', '--json']));
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toHaveLength(1);
    const j = JSON.parse(lines[0]!);
    expect(j.samples_per_s).toBeGreaterThan(0);
    expect(j.T).toBe(2);
    expect(j.tfjs.samples_per_s).toBeGreaterThan(0);
    expect(j.speedup_vs_tfjs).toBeCloseTo(j.samples_per_s / j.tfjs.samples_per_s, 10);
  });

  it('rejects unknown options', async () => {
    const r = await capture(() => bench(['--frobnicate']));
    expect(r.code).toBe(2);
    expect(r.err).toContain("Unknown option '--frobnicate'");
  });
});
