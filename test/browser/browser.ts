// A real browser for the page's tests: Debian's chromium driven by playwright-core (the system browser, no
// download), headless with software WebGL2 (ANGLE on SwiftShader), and `plif serve` as a child process.
// Outside CI a missing chromium skips the browser tests, saying what to install; with PLIF_REQUIRE_GL=1 (CI)
// it is a failure.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = join(import.meta.dirname, '..', '..');
export const PLIF = join(ROOT, 'dist', 'cli', 'plif.js');
export const CHROMIUM = process.env['PLIF_CHROMIUM'] ?? '/usr/bin/chromium';
export const REQUIRE_BROWSER = process.env['PLIF_REQUIRE_GL'] === '1';

/** Why the browser tests cannot run here, or null. */
export function browserMissing(): string | null {
  if (!existsSync(CHROMIUM)) return `no chromium at ${CHROMIUM} (apt-get install chromium, or set PLIF_CHROMIUM)`;
  if (!existsSync(join(ROOT, 'dist', 'web', 'index.html'))) return 'the page is not built (npm run build)';
  return null;
}

/**
 * Software WebGL2 (ANGLE on SwiftShader) and software WebGPU (Dawn on SwiftShader's Vulkan, a fallback adapter)
 * in headless Chromium: no GPU on CI machines. WebGPU needs a secure context: the pages are served on 127.0.0.1.
 */
export const CHROMIUM_ARGS = ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan'];

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

export interface Served {
  url: string;
  child: ChildProcess;
  /** Everything the server printed on stdout. */
  out(): string;
  /** Sends SIGINT and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** `plif serve --port 0 ...args` as a child process; resolves once it printed its URL (its first stdout line) and what it serves (the second). */
export function serve(args: string[] = []): Promise<Served> {
  const child = spawn(process.execPath, [PLIF, 'serve', '--port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += String(d)));
  return new Promise((resolve, reject) => {
    const early = (code: number | null) => reject(new Error(`plif serve exited with ${code} before printing its URL: ${err}`));
    child.once('exit', early);
    child.stdout!.on('data', (d) => {
      const before = out;
      out += String(d);
      const lines = (text: string) => text.split('\n').length - 1;
      if (lines(before) >= 2 || lines(out) < 2) return; // the URL line and the line on what it serves are in only now
      child.off('exit', early);
      resolve({
        url: out.split('\n')[0]!,
        child,
        out: () => out,
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done(child.exitCode);
            child.once('exit', (code) => done(code));
            child.kill('SIGINT');
          }),
      });
    });
  });
}

/** Waits until #status reads `done` (or stopped, loaded) or starts with "error"; returns its text. */
export async function waitForStatus(page: Page, timeoutMs: number, want: readonly string[] = ['done']): Promise<string> {
  await page.waitForFunction(
    `(() => { const s = document.querySelector('#status').textContent; return ${JSON.stringify(want)}.includes(s) || s.startsWith('error'); })()`,
    null,
    { timeout: timeoutMs, polling: 100 },
  );
  return (await page.textContent('#status')) ?? '';
}

/** The JSON lines of an element (#metrics, #steps, #results). */
export async function jsonLines<T = Record<string, unknown>>(page: Page, selector: string): Promise<T[]> {
  const text = (await page.textContent(selector)) ?? '';
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}
