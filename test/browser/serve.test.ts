// plif serve as a user runs it (a child process): its help, its errors (a port in use, a missing --data-dir),
// the command list, and a clean exit on SIGTERM. The page itself is tested in page.test.ts.
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { PLIF, serve } from './browser.js';

const run = promisify(execFile);

async function plif(args: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await run(process.execPath, [PLIF, ...args], { timeout: 30_000 });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

describe('plif serve', () => {
  it('is listed by plif --help and explains its options', async () => {
    expect((await plif(['--help'])).out).toMatch(/^\s+serve\s+serve the training page/m);
    const help = await plif(['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/--port P/);
    expect(help.out).toMatch(/--data-dir DIR/);
  });

  it('refuses a port in use and a --data-dir that is not a directory, with exit code 2', async () => {
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', () => done()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const busy = await plif(['serve', '--port', String(port)]);
      expect(busy.code).toBe(2);
      expect(busy.err).toMatch(new RegExp(`--port ${port}: the port is in use`));
      expect(busy.out).toBe(''); // no URL printed for a server that does not run
    } finally {
      blocker.close();
    }
    const noDir = await plif(['serve', '--port', '0', '--data-dir', '/nonexistent/plif-data']);
    expect(noDir.code).toBe(2);
    expect(noDir.err).toMatch(/--data-dir \/nonexistent\/plif-data: not a directory/);
    expect((await plif(['serve', '--port', '70000'])).err).toMatch(/--port must be at most 65535/);
  });

  it('stops on SIGTERM with exit code 0', async () => {
    const s = await serve();
    expect((await fetch(s.url)).status).toBe(200);
    const code = await new Promise<number | null>((done) => {
      s.child.once('exit', (c) => done(c));
      s.child.kill('SIGTERM');
    });
    expect(code).toBe(0);
  });
});
