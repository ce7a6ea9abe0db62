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
    expect(Number.isFinite(m.train_loss)).toBe(true);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg.backend).toMatchObject({ name: 'gpujs', mode: 'webasm', software: true });
    expect(typeof cfg.backend.renderer).toBe('string');
  });
});
