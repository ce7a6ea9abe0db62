// The README's picture of the page: a real run in the headless Chromium of the browser tests, then a screenshot.
// Not a test. Needs the built page (npm run build) and Fashion-MNIST where plif serve finds it.
//   node test/browser/screenshot.mjs    (writes docs/browser-training.png; about 2 minutes on 2 cores)
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = join(import.meta.dirname, '..', '..');
const RUN = '?preset=fmnist-small&backend=cpu&limit-train=6000&limit-test=2000&epochs=3&autostart=1';
const server = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'plif.js'), 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(String(d).split('\n')[0])));
const browser = await chromium.launch({ executablePath: process.env.PLIF_CHROMIUM ?? '/usr/bin/chromium', headless: true });
try {
  const page = await browser.newPage();
  await page.setViewportSize({ width: 1400, height: 1000 });
  await page.goto(new URL(RUN, url).href);
  await page.waitForFunction(`(() => { const s = document.querySelector('#status').textContent; return s === 'done' || s.startsWith('error'); })()`, null, { timeout: 900_000, polling: 500 });
  const status = await page.textContent('#status');
  if (status !== 'done') throw new Error(`the run ended with: ${status}`);
  console.log(await page.textContent('#progress'));
  await page.screenshot({ path: join(ROOT, 'docs', 'browser-training.png') });
} finally {
  await browser.close();
  server.kill('SIGINT');
}
