// Samples per second of fmnist-small training steps in the page, per backend, in the headless Chromium of the
// browser tests (software WebGPU and WebGL2 on SwiftShader here: no GPU does the work). Not a test: a measurement.
//   node test/browser/measure.mjs [backend ...]     (after npm run build; default: gpujs:webgpu gpujs:webgl2 gpujs:webgl cpu)
// Prints, per backend, the first step's seconds (it compiles the kernels) and the samples/s of the steps after it.
// PLIF_CHROMIUM_ARGS replaces the SwiftShader flags (space-separated; '' keeps Chromium's defaults, which use
// the machine's GPU where it has one); BATCH and STEPS change the run.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

// the browser tests' flags (test/browser/browser.ts): software WebGPU and WebGL2 on SwiftShader
const CHROMIUM_ARGS = ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--enable-unsafe-webgpu', '--use-webgpu-adapter=swiftshader', '--enable-features=Vulkan'];

const ROOT = join(import.meta.dirname, '..', '..');
const ARGS = process.env.PLIF_CHROMIUM_ARGS !== undefined ? process.env.PLIF_CHROMIUM_ARGS.split(' ').filter(Boolean) : CHROMIUM_ARGS;
const backends = process.argv.slice(2).length ? process.argv.slice(2) : ['gpujs:webgpu', 'gpujs:webgl2', 'gpujs:webgl', 'cpu'];
const batch = Number(process.env.BATCH ?? 16);
const steps = Number(process.env.STEPS ?? 4);

const server = spawn(process.execPath, [join(ROOT, 'dist', 'cli', 'plif.js'), 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve) => server.stdout.once('data', (d) => resolve(String(d).split('\n')[0])));
const browser = await chromium.launch({ executablePath: process.env.PLIF_CHROMIUM ?? '/usr/bin/chromium', headless: true, args: ARGS });
try {
  for (const backend of backends) {
    const page = await browser.newPage();
    await page.goto(`${url}?preset=fmnist-small&backend=${backend}&batch=${batch}&limit-train=${batch * steps}&limit-test=${batch}&epochs=1&autostart=1`);
    await page.waitForFunction(`(() => { const s = document.querySelector('#status').textContent; return s === 'done' || s.startsWith('error'); })()`, null, { timeout: 900_000 });
    const status = await page.textContent('#status');
    if (status !== 'done') throw new Error(`${backend}: ${status}`);
    const info = JSON.parse(await page.textContent('#backend'));
    const lines = (await page.textContent('#steps')).trim().split('\n').map((l) => JSON.parse(l));
    const first = lines[0].seconds;
    const last = lines[lines.length - 1].seconds;
    const rate = ((lines.length - 1) * batch) / (last - first);
    console.log(JSON.stringify({ backend, renderer: info.renderer, software: info.software, batch, steps: lines.length, first_step_s: +first.toFixed(2), samples_per_s_after_first: +rate.toFixed(2) }));
    await page.close();
  }
} finally {
  await browser.close();
  server.kill('SIGINT');
}
