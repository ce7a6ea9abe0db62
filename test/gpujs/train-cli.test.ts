// `plif train --backend gpujs:MODE` is the same command as on the CPU: it trains, evaluates, and records
// the gpu.js mode and renderer in config.json.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../../cli/dispatch.js';
import { writeTinyFashionMnist } from '../training/fixtures.js';
import { modeEnv, mustRun } from './env.js';

describe('plif train --backend gpujs:webasm', async () => {
  const env = await modeEnv('webasm');
  const run = env.backend || mustRun('webasm') ? it : it.skip;
  if (!env.backend && !mustRun('webasm')) console.log(`gpujs:webasm not available, skipping: ${env.why}`);

  run('trains one epoch and records mode and renderer', async () => {
    const dataDir = writeTinyFashionMnist(32, 16);
    const out = join(mkdtempSync(join(tmpdir(), 'plif-gj-')), 'run');
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (lines.push(String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const code = await main(['train', '--preset', 'fmnist-small', '--data-dir', dataDir, '--T', '2', '--epochs', '1', '--backend', 'gpujs:webasm', '--out', out, '--json']);
      expect(code).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
    const m = JSON.parse(lines.join('').trim());
    expect(m.epoch).toBe(0);
    // the MSE of firing rates against one-hot labels lies in (0, 1); the accuracies count whole samples (32 train, 16 test)
    expect(m.train_loss).toBeGreaterThan(0);
    expect(m.train_loss).toBeLessThan(1);
    expect(Number.isInteger(m.train_acc * 32) && m.train_acc >= 0 && m.train_acc <= 1, `train_acc ${m.train_acc}`).toBe(true);
    expect(Number.isInteger(m.test_acc * 16) && m.test_acc >= 0 && m.test_acc <= 1, `test_acc ${m.test_acc}`).toBe(true);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg.backend).toMatchObject({ name: 'gpujs', mode: 'webasm', software: true });
    expect(typeof cfg.backend.renderer).toBe('string');
  });

  run('plif bench times cpu and gpujs:webasm side by side in one run', async () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (lines.push(String(s)), true));
    try {
      const code = await main(['bench', '--structure', 'c2k3s1-BN-PLIF-MPk2s2-DP-FC100-PLIF-APk10s10', '--T', '2', '--batch', '2', '--steps', '1', '--warmup', '0', '--backend', 'cpu,gpujs:webasm', '--no-tfjs', '--json']);
      expect(code).toBe(0);
    } finally {
      vi.restoreAllMocks();
    }
    const j = JSON.parse(lines.join('').trim());
    expect(j.backends.map((b: { backend: string }) => b.backend)).toEqual(['cpu', 'gpujs:webasm']);
    expect(j.backends[1].info).toMatchObject({ mode: 'webasm', software: true });
    expect(j.backends[1].samples_per_s).toBeGreaterThan(0);
    expect(j.samples_per_s).toBe(j.backends[0].samples_per_s);
  });
});

describe('plif train --backend gpujs:webgpu in Node', () => {
  it('without a working `webgpu` package or adapter, exits 2 before touching --out and says why, never falls back', async () => {
    const { execFile } = await import('node:child_process');
    const { existsSync } = await import('node:fs');
    const plif = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'plif.js');
    const out = join(mkdtempSync(join(tmpdir(), 'plif-wgpu-')), 'run');
    const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, [plif, 'train', '--preset', 'fmnist-small', '--backend', 'gpujs:webgpu', '--out', out], (err, _stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stderr }));
      child.stdin?.end();
    });
    if (r.code === 0) return; // a machine where Dawn finds a GPU: it trained (bench/gpu-check.sh measures it)
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^plif train: --backend gpujs:webgpu: gpu\.js mode 'webgpu' is not available: (WebGPU in Node needs the npm package `webgpu`, which did not load: .+|WebGPU found no adapter: .+)/);
    expect(existsSync(out)).toBe(false);
  });
});
