// The GPU check: on a machine with a GPU, what the gpu.js backend does there. Run by bench/gpu-check.sh after
// `npm ci` (which builds dist/). It serves the page (plif serve), drives Chromium with hardware flags and reports,
// per mode (webgpu, webgl2): the adapter or renderer, the conformance suite and the whole-step gradient property
// against the float64 tape (the conformance page), and samples/s of fmnist-small and of the paper's
// fashion-mnist network at batch 16 and 128 (the bench page: the step plif train runs, synthetic data). Then the
// same benchmark in Node with --backend gpujs:webgpu where the `webgpu` package loads, and the CPU backend for
// scale. Prints one line per result and writes everything as JSON to the file given as the first argument.
import { execFile, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const plif = join(root, 'dist', 'cli', 'plif.js');
const outFile = process.argv[2] ?? 'gpu-check.json';
const chromiumPath = process.env.PLIF_CHROMIUM ?? '/usr/bin/chromium';
const run = promisify(execFile);
const report = { started: new Date().toISOString(), gpu: null, browser: {}, node: {} };
// the whole check stays under 8 minutes: what would start after the deadline is skipped, and says so
const deadline = Date.now() + 400_000;
const left = () => deadline - Date.now();
const say = (s) => process.stdout.write(s + '\n');
const save = () => writeFileSync(outFile, JSON.stringify(report, null, 2) + '\n');

try {
  report.gpu = (await run('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'])).stdout.trim();
} catch {
  report.gpu = 'nvidia-smi not found';
}
say(`GPU: ${report.gpu}`);

const server = spawn(process.execPath, [plif, 'serve', '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((resolve, reject) => {
  let out = '';
  server.stdout.on('data', (d) => {
    out += d;
    if (out.includes('\n')) resolve(out.split('\n')[0]);
  });
  server.once('exit', (c) => reject(new Error(`plif serve exited with ${c}`)));
});
// hardware WebGPU (Dawn on Vulkan) and WebGL2 (ANGLE on Vulkan); headless, on the GPU of this machine
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--ignore-gpu-blocklist', '--use-angle=vulkan', '--use-gl=angle', '--disable-background-networking', '--no-first-run'] });

/** Opens a page, waits for #status done/error, returns the element texts asked for. */
async function pageRun(path, timeoutMs, ids) {
  const page = await browser.newPage();
  try {
    await page.goto(new URL(path, url).href);
    await page.waitForFunction(`(() => { const s = document.querySelector('#status').textContent; return s === 'done' || s.startsWith('error'); })()`, null, { timeout: timeoutMs, polling: 200 });
    const r = { status: await page.textContent('#status') };
    for (const id of ids) r[id] = await page.textContent(`#${id}`);
    return r;
  } catch (e) {
    return { status: `error: ${e.message.split('\n')[0]}` };
  } finally {
    await page.close();
  }
}

const benches = [
  ['fmnist-small', 16],
  ['fmnist-small', 128],
  ['fashion-mnist', 16],
  ['fashion-mnist', 128],
];
for (const mode of ['webgpu', 'webgl2']) {
  const r = (report.browser[mode] = { conformance: null, bench: [] });
  const c = await pageRun(`conformance.html?backend=gpujs:${mode}`, Math.min(150_000, left()), ['backend', 'results']);
  const results = (c.results ?? '').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  r.conformance = { status: c.status, backend: c.backend ? JSON.parse(c.backend) : null, passed: results.filter((t) => t.ok).length, failed: results.filter((t) => !t.ok).map((t) => `${t.name}: ${t.error}`) };
  say(`browser gpujs:${mode}: ${c.backend ?? '(no backend)'}`);
  say(`  conformance + whole-step gradients vs the float64 tape: ${c.status}, ${r.conformance.passed} passed, ${r.conformance.failed.length} failed${r.conformance.failed.length ? `: ${r.conformance.failed.join('; ').slice(0, 400)}` : ''}`);
  save();
  if (!c.backend) continue;
  const software = r.conformance.backend?.software === true;
  for (const [preset, batch] of benches) {
    // a software adapter or renderer runs the kernels on the CPU: one small timing shows it, the rest would say nothing about a GPU
    const skip = software && !(preset === 'fmnist-small' && batch === 16) ? 'skipped: software adapter or renderer (no GPU does the work)' : left() < 30_000 ? 'skipped: the 8-minute budget is spent' : null;
    if (skip) {
      r.bench.push({ preset, batch, status: skip });
      say(`  ${preset} batch ${batch}: ${skip}`);
      continue;
    }
    const b = await pageRun(`bench.html?backend=gpujs:${mode}&preset=${preset}&batch=${batch}&steps=5&warmup=1`, Math.min(120_000, left()), ['result']);
    const res = b.result ? JSON.parse(b.result) : null;
    r.bench.push({ preset, batch, status: b.status, ...(res ?? {}) });
    say(`  ${preset} batch ${batch}: ${res ? `${res.samples_per_s.toFixed(1)} samples/s (${res.ms_per_step.toFixed(1)} ms/step; first step ${res.warmup_seconds.toFixed(1)} s; per step ${JSON.stringify(res.gpu_per_step)})` : b.status}`);
    save();
  }
}
await browser.close();
server.kill('SIGINT');

// Node: gpujs:webgpu through the `webgpu` package (Dawn), beside the CPU backend
for (const [preset, batch] of benches) {
  if (left() < 20_000) {
    report.node[`${preset}@${batch}`] = { skipped: 'the 8-minute budget is spent' };
    say(`node ${preset} batch ${batch}: skipped: the 8-minute budget is spent`);
    continue;
  }
  try {
    const { stdout } = await run(process.execPath, [plif, 'bench', '--preset', preset, '--batch', String(batch), '--steps', '3', '--warmup', '1', '--backend', 'gpujs:webgpu,cpu', '--no-tfjs', '--json'], { timeout: Math.min(150_000, left()) });
    const j = JSON.parse(stdout.trim().split('\n').at(-1));
    report.node[`${preset}@${batch}`] = j.backends.map((b) => ({ backend: b.backend, samples_per_s: b.samples_per_s, gpu_per_step: b.gpu_per_step, info: b.info }));
    say(`node ${preset} batch ${batch}: ${j.backends.map((b) => `${b.backend} ${b.samples_per_s.toFixed(1)} samples/s`).join(', ')}`);
  } catch (e) {
    const msg = `${e.stderr ?? e.message}`.trim().split('\n')[0];
    report.node[`${preset}@${batch}`] = { error: msg };
    say(`node ${preset} batch ${batch}: not run: ${msg}`);
    if (/not available/.test(msg)) break; // the package does not load or finds no adapter: the same for every size
  }
  save();
}
report.finished = new Date().toISOString();
save();
say(`written: ${outFile}`);
