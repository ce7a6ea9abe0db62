// The browser page in a real Chromium (headless, software WebGL2), served by a real `plif serve`, against real
// `plif train` / `plif eval` child processes: the conformance suite inside the page on gpujs:webgl2 and
// gpujs:webgl; the page's CPU backend equal to the CLI's bit for bit, its downloaded run continued by
// `plif train --resume` and evaluated by `plif eval`; a short WebGL2 run whose per-step losses match the CLI's
// CPU run of the same seed within float32 tolerance, with a screenshot mid-training; dropped .gz files.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSafetensors } from '../../core/checkpoint.js';
import { idxBytes } from '../data/writers.js';
import { benchConfig } from '../../bench/step-timing.js';
import { expectedTransfers } from '../gpujs/transfers.js';
import { browserMissing, jsonLines, launchBrowser, PLIF, REQUIRE_BROWSER, ROOT, serve, waitForStatus, type Served } from './browser.js';

const run = promisify(execFile);
const missing = browserMissing();
if (missing && !REQUIRE_BROWSER) console.warn(`skipping the browser tests: ${missing}`);
const suite = missing && !REQUIRE_BROWSER ? describe.skip : describe;

type Metrics = Record<string, unknown> & { epoch: number; train_loss: number; test_acc: number; tau: { layer: number; tau: number }[] };

/** An epoch's metrics without its timings (which differ between any two runs). */
const results = (m: Metrics) => {
  const { seconds: _s, samples_per_s: _r, ...rest } = m;
  return rest;
};

/**
 * Metrics of a run in the browser and on the CLI: equal, value for value, except that tau, which the JS
 * engine derives from the float32 parameter a as 1 + Math.exp(-a) in double, may differ in its last bit:
 * Chromium's V8 and Node's V8 round Math.exp differently on some inputs (e.g. a = -0.06939338892698288). The
 * parameters themselves are compared bit for bit (expectSameTensors).
 */
function expectSameMetrics(got: Metrics[], want: Metrics[]): void {
  const noTau = (m: Metrics) => ({ ...results(m), tau: m.tau.map((t) => t.layer) });
  expect(got.map(noTau)).toEqual(want.map(noTau));
  got.forEach((m, e) => m.tau.forEach((t, j) => expect(Math.abs(t.tau - want[e]!.tau[j]!.tau), `tau of layer ${t.layer} after epoch ${e}`).toBeLessThanOrEqual(2 ** -52 * t.tau)));
}

/** Every tensor of two checkpoints (parameters, BN statistics, Adam moments) bit for bit. */
function expectSameTensors(gotFile: string, wantFile: string): void {
  const got = decodeSafetensors(readFileSync(gotFile)).tensors;
  const want = decodeSafetensors(readFileSync(wantFile)).tensors;
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [name, t] of want) expect(Buffer.from(got.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
}

/** `plif train` on the CPU backend with `args`; its metrics.jsonl. */
async function cliTrain(out: string, args: string[]): Promise<Metrics[]> {
  await run(process.execPath, [PLIF, 'train', '--preset', 'fmnist-small', '--backend', 'cpu', '--out', out, ...args], { timeout: 120_000 });
  return readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Metrics);
}

/** Float32 tolerance of a loss (F32_TOL of proofs/conformance.ts). */
const f32Tol = (want: number) => 1e-5 * Math.max(1, Math.abs(want));

/**
 * A GPU run in the page of four one-step epochs against the CLI's CPU run of the same seed: each step's loss
 * (= its epoch's train_loss) within float32 tolerance, tau within 1e-4, and losses that moved.
 */
async function expectNearCliRun(page: Page, cli: Metrics[]): Promise<void> {
  const steps = await jsonLines<{ epoch: number; loss: number }>(page, '#steps');
  expect(steps.length).toBe(4);
  steps.forEach((s, i) => expect(Math.abs(s.loss - cli[i]!.train_loss), `step ${i}: ${s.loss} vs ${cli[i]!.train_loss}`).toBeLessThanOrEqual(f32Tol(cli[i]!.train_loss)));
  expect(new Set(cli.map((m) => m.train_loss)).size).toBeGreaterThan(2); // the losses moved
  const web = await jsonLines<Metrics>(page, '#metrics');
  web.forEach((m, e) => m.tau.forEach((t, j) => expect(Math.abs(t.tau - cli[e]!.tau[j]!.tau), `tau of layer ${t.layer} after epoch ${e}`).toBeLessThanOrEqual(1e-4 * t.tau)));
}

suite('the training page in Chromium', () => {
  let server: Served;
  let browser: Browser;
  const tmp = mkdtempSync(join(tmpdir(), 'plif-page-'));

  beforeAll(async () => {
    if (missing) throw new Error(`the browser tests need chromium (PLIF_REQUIRE_GL=1): ${missing}`);
    [server, browser] = await Promise.all([serve(), launchBrowser()]);
  });

  afterAll(async () => {
    await browser?.close();
    if (server) expect(await server.stop(), 'plif serve exits 0 on Ctrl-C').toBe(0);
  });

  async function open(path: string): Promise<Page> {
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    await page.goto(new URL(path, server.url).href);
    return page;
  }

  it('plif serve prints the page URL first, serves the page, the dataset files, and nothing outside the page', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(server.out().split('\n')[1]).toMatch(/fashion-mnist from /);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('cross-origin-opener-policy')).toBe('same-origin');
    expect(await page.text()).toContain('id="metrics"');
    const labels = new Uint8Array(await (await fetch(new URL('data/fashion-mnist/t10k-labels-idx1-ubyte.gz', server.url))).arrayBuffer());
    expect([labels[0], labels[1]]).toEqual([0x1f, 0x8b]); // gzip, as Debian ships it
    expect((await fetch(new URL('data/fashion-mnist/passwd', server.url))).status).toBe(404);
    expect((await fetch(new URL('data/cifar10/t10k-labels-idx1-ubyte.gz', server.url))).status).toBe(404);
    // a raw path (fetch would normalise it) whose decoded form climbs out of the page's folder
    const raw = await new Promise<number>((done, fail) => get(`${server.url}..%2fpackage.json`, (r) => (r.resume(), done(r.statusCode!))).on('error', fail));
    expect(raw).toBe(403);
  });

  for (const mode of ['webgpu', 'webgl2', 'webgl'] as const) {
    it(`the backend conformance suite, the whole-step gradient property and the device-memory check pass inside the page on gpujs:${mode}`, async () => {
      const page = await open(`conformance.html?backend=gpujs:${mode}`);
      const status = await waitForStatus(page, 300_000);
      const tests = await jsonLines<{ suite: string; name: string; ok: boolean; error?: string }>(page, '#results');
      expect(tests.filter((t) => !t.ok)).toEqual([]);
      expect(status).toBe('done');
      const declared = (file: string) => readFileSync(join(ROOT, 'proofs', file), 'utf8').match(/^ {4}(?:if \([^)]*\) )?it\(/gm)!.length; // `if (fresh) it(...)` counts: the page gives every suite a fresh backend
      expect(tests.length).toBe(declared('conformance.ts') + declared('whole-step.ts') + declared('leaks.ts')); // every test of the three ran
      const names = tests.map((t) => t.name);
      expect(names).toContain('a whole training step of random networks from random structure strings: loss and every gradient (incl. dL/da)');
      expect(names).toContain('loss, every parameter gradient and the BN running statistics of random networks equal the tape');
      expect(names).toContain('30 checked training steps keep the live tensor and device texture/buffer counts constant');
      const info = JSON.parse((await page.textContent('#backend'))!);
      expect(info).toMatchObject({ name: 'gpujs', mode, software: true });
      expect(info.renderer).toMatch(/swiftshader/i);
      await page.close();
    });
  }

  it('by default the page trains on the CPU backend where the only GPU is software, and says why', async () => {
    const page = await open('?preset=fmnist-small&limit-train=4&batch=4&limit-test=4&epochs=1&autostart=1');
    expect(await waitForStatus(page, 120_000)).toBe('done');
    expect(JSON.parse((await page.textContent('#backend'))!)).toMatchObject({ name: 'cpu' });
    const why = (await page.textContent('#backend-why'))!;
    expect(why).toMatch(/the WebGPU adapter is software \(WebGPU: .*swiftshader.*\)/i);
    expect(why).toMatch(/the WebGL renderer is software \(.*SwiftShader.*\): the CPU backend is faster/);
    expect(await page.textContent('#progress')).toMatch(/test accuracy/);
    await page.close();
  });

  it('the charts fit their data (64 steps end at 64, the y axes at the round ticks next to the data) and their text shows at 12 px or more', async () => {
    const page = await open('?preset=fmnist-small&backend=cpu&limit-train=256&batch=4&limit-test=8&epochs=1&autostart=1');
    await page.setViewportSize({ width: 1400, height: 1000 });
    expect(await waitForStatus(page, 120_000)).toBe('done');
    const steps = await jsonLines<{ batch: number; loss: number; acc: number; tau: { layer: number; tau: number }[] }>(page, '#steps');
    const [epoch] = await jsonLines<Metrics>(page, '#metrics');
    expect(steps).toHaveLength(64);
    // what each chart's SVG says: its axes' ends, its tick labels, and its smallest text as drawn on the page
    const charts = (await page.evaluate(`['fig-loss', 'fig-acc', 'fig-tau'].map((id) => {
      const svg = document.querySelector('#' + id + ' svg');
      const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
      const labels = (cls) => [...svg.querySelectorAll('text.' + cls)].map((t) => t.textContent);
      return {
        id,
        x: svg.dataset.xDomain.split(' ').map(Number),
        y: svg.dataset.yDomain.split(' ').map(Number),
        xTicks: labels('x-tick'),
        yTicks: labels('y-tick').map((l) => Number(l.replace('%', ''))),
        smallestText: Math.min(...[...svg.querySelectorAll('text')].map((t) => Number(t.getAttribute('font-size')) * scale)),
      };
    })`)) as { id: string; x: number[]; y: number[]; xTicks: string[]; yTicks: number[]; smallestText: number }[];
    const data = {
      'fig-loss': [...steps.map((s) => s.loss), epoch!.train_loss],
      'fig-acc': [...steps.map((s) => 100 * s.acc), 100 * (epoch!.train_acc as number), 100 * epoch!.test_acc],
      'fig-tau': [2, ...steps.flatMap((s) => s.tau.map((t) => t.tau))],
    } as Record<string, number[]>;
    for (const c of charts) {
      const [lo, hi] = [Math.min(...data[c.id]!), Math.max(...data[c.id]!)];
      expect(c.x, c.id).toEqual([0, 64]); // the last step, not padded to 80
      expect(c.xTicks, c.id).toEqual(['0', '20', '40', '60']);
      const step = c.yTicks[1]! - c.yTicks[0]!;
      expect(c.y[0], c.id).toBe(c.yTicks[0]);
      expect(c.y[1], c.id).toBe(c.yTicks.at(-1));
      // the y axis covers the data and ends at the round tick next to it on either side
      expect(c.y[0]! <= lo && c.y[1]! >= hi, `${c.id}: [${c.y}] covers [${lo}, ${hi}]`).toBe(true);
      expect(lo - c.y[0]! < step && c.y[1]! - hi < step, `${c.id}: [${c.y}] is tight around [${lo}, ${hi}], ticks every ${step}`).toBe(true);
      expect(c.smallestText, c.id).toBeGreaterThanOrEqual(12);
    }
    expect(charts[1]!.y[0]).toBeGreaterThanOrEqual(0);
    expect(charts[1]!.y[1]).toBeLessThanOrEqual(100);
    // the canvases (firing-rate maps, raster: 12 px text and more) are drawn 1:1 or larger, never shrunk
    for (const id of ['fig-maps', 'fig-raster']) {
      const scale = (await page.evaluate(`(() => { const c = document.getElementById('${id}'); return c.getBoundingClientRect().width / c.width; })()`)) as number;
      expect(scale, id).toBeGreaterThanOrEqual(1);
    }
    await page.close();
  });

  it('a short WebGPU run: per-step losses match the CLI CPU run of the same seed within float32 tolerance; compiling kernels, then an ETA', async () => {
    // The WebGL2 run's settings below: one step per epoch, so each epoch's train_loss in the CLI's metrics.jsonl is
    // that step's loss. (Settings whose potentials come within float32 noise of the threshold flip a spike: with
    // limit-train 8 one output spike of step 1 flipped, a loss change of exactly 1/(T M C N) / T = 1.5625e-5.)
    const cli = await cliTrain(join(tmp, 'cli-webgpu'), ['--limit-train', '4', '--batch', '4', '--limit-test', '4', '--lr', '0.05', '--epochs', '4']);
    const page = await browser.newPage();
    page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
    // every text #progress shows, in order (the first step's and the evaluation's follow each other within ms)
    await page.addInitScript(`
      window.progressTexts = [];
      document.addEventListener('DOMContentLoaded', () => {
        const el = document.querySelector('#progress');
        new MutationObserver(() => window.progressTexts.push(el.textContent)).observe(el, { childList: true, characterData: true, subtree: true });
      });`);
    await page.goto(new URL('?preset=fmnist-small&backend=gpujs:webgpu&limit-train=4&batch=4&limit-test=4&lr=0.05&epochs=4&autostart=1', server.url).href);
    expect(await waitForStatus(page, 300_000)).toBe('done');
    const info = JSON.parse((await page.textContent('#backend'))!);
    expect(info).toMatchObject({ name: 'gpujs', mode: 'webgpu', software: true });
    expect(info.renderer).toMatch(/swiftshader/i);
    const progress = (await page.evaluate('window.progressTexts')) as string[];
    expect(progress[0]).toMatch(/^compiling kernels… \(the first step compiles every kernel\)$/);
    expect(progress[1]).toMatch(/^epoch 0, batch 1\/1: loss \d\.\d{4}, accuracy \d+\.\d\d%, ETA of the epoch's training 0 s$/);
    await expectNearCliRun(page, cli);
    await page.close();
  });

  it('the GPU cost of a WebGPU training step of fmnist-small at batch 16: the counts of headless GL, one host sync, at most 4 KiB back', async () => {
    const page = await open('bench.html?backend=gpujs:webgpu&preset=fmnist-small&batch=16&steps=2&warmup=1');
    expect(await waitForStatus(page, 300_000)).toBe('done');
    const r = JSON.parse((await page.textContent('#result'))!) as { samples_per_s: number; gpu_per_step: { dispatches: number; upload_bytes: number; download_bytes: number; host_syncs: number } };
    const cfg = benchConfig({ preset: 'fmnist-small', batch: 16, steps: 2, warmup: 1, seed: 0 });
    const want = expectedTransfers(cfg, 16);
    expect(r.gpu_per_step).toMatchObject({ upload_bytes: want.up, download_bytes: want.down, host_syncs: 1 });
    expect(r.gpu_per_step.download_bytes).toBeLessThanOrEqual(4096);
    expect(r.samples_per_s).toBeGreaterThan(0);
    await page.close();
  });

  it("the page's CPU backend equals the CLI's bit for bit; its downloaded run continues with plif train --resume and evaluates with plif eval", async () => {
    const settings = ['--limit-train', '8', '--batch', '4', '--limit-test', '4', '--lr', '0.05', '--seed', '3'];
    const cli = await cliTrain(join(tmp, 'cli'), [...settings, '--epochs', '4']);
    const cli3 = await cliTrain(join(tmp, 'cli3'), [...settings, '--epochs', '3']);
    const page = await open('?preset=fmnist-small&backend=cpu&limit-train=8&batch=4&limit-test=4&lr=0.05&seed=3&epochs=3&autostart=1');
    expect(await waitForStatus(page, 60_000)).toBe('done');
    expect(JSON.parse((await page.textContent('#backend'))!)).toEqual({ name: 'cpu', mode: 'wasm-simd', renderer: 'CPU: WebAssembly SIMD kernels, 1 thread', software: true });
    const web = await jsonLines<Metrics>(page, '#metrics');
    expectSameMetrics(web, cli.slice(0, 3)); // losses, accuracies, firing rates: equal, not close
    expect(new Set(web.map((m) => m.train_loss)).size).toBe(3); // the loss moved: the comparison is not of constants
    // the steps: two per epoch, whose mean is the epoch's train_loss
    const steps = await jsonLines<{ epoch: number; batch: number; loss: number }>(page, '#steps');
    expect(steps.map((s) => [s.epoch, s.batch])).toEqual([[0, 1], [0, 2], [1, 1], [1, 2], [2, 1], [2, 2]]);
    for (const m of web) expect((steps[2 * m.epoch]!.loss + steps[2 * m.epoch + 1]!.loss) / 2).toBeCloseTo(m.train_loss, 12);

    // download the run (.tar), unpack it with tar, continue it on the CLI for a fourth epoch
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-run')]);
    const tarFile = join(tmp, 'web-run.tar');
    await download.saveAs(tarFile);
    const listing = (await run('tar', ['-tf', tarFile])).stdout.trim().split('\n');
    const dir = listing[0]!.split('/')[0]!;
    expect(listing.sort()).toEqual([`${dir}/config.json`, `${dir}/last.safetensors`, `${dir}/metrics.jsonl`]);
    await run('tar', ['-xf', tarFile, '-C', tmp]);
    const runDir = join(tmp, dir);
    expectSameTensors(join(runDir, 'last.safetensors'), join(tmp, 'cli3', 'last.safetensors')); // the page's network and Adam state
    await run(process.execPath, [PLIF, 'train', '--resume', runDir, '--epochs', '4'], { timeout: 120_000 });
    const resumed = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Metrics);
    expectSameMetrics(resumed, cli); // three epochs in the browser + one on the CLI = four on the CLI
    expectSameTensors(join(runDir, 'last.safetensors'), join(tmp, 'cli', 'last.safetensors'));
    const ev = JSON.parse((await run(process.execPath, [PLIF, 'eval', '--checkpoint', join(runDir, 'last.safetensors'), '--limit-test', '4', '--json'], { timeout: 60_000 })).stdout) as { accuracy: number };
    expect(ev.accuracy).toBe(cli[3]!.test_acc);

    // and back: the CLI's run directory, as a .tar, loaded into the page and continued there
    await run('tar', ['-cf', join(tmp, 'cli3.tar'), '-C', tmp, 'cli3']);
    const again = await open('?preset=fmnist-small&backend=cpu');
    await again.setInputFiles('#load', join(tmp, 'cli3.tar'));
    expect(await waitForStatus(again, 60_000, ['loaded'])).toBe('loaded');
    expectSameMetrics(await jsonLines<Metrics>(again, '#metrics'), cli3);
    await again.fill('#epochs', '4');
    await again.click('#continue');
    expect(await waitForStatus(again, 60_000)).toBe('done');
    expectSameMetrics(await jsonLines<Metrics>(again, '#metrics'), cli);
    const [ck] = await Promise.all([again.waitForEvent('download'), again.click('#download-checkpoint')]);
    expect(ck.suggestedFilename()).toMatch(/^cli3-epoch4-batch0\.safetensors$/);
    await ck.saveAs(join(tmp, 'continued.safetensors'));
    expectSameTensors(join(tmp, 'continued.safetensors'), join(tmp, 'cli', 'last.safetensors'));
    await page.close();
    await again.close();
  });

  it('Stop halts between steps: the stopped run continues, in the page and with plif train --resume, to exactly the uninterrupted run', async () => {
    const settings = ['--limit-train', '200', '--batch', '4', '--limit-test', '4', '--lr', '0.05', '--seed', '5', '--epochs', '1'];
    const cli = await cliTrain(join(tmp, 'cli-stop'), settings);
    const page = await open('?preset=fmnist-small&backend=cpu&limit-train=200&batch=4&limit-test=4&lr=0.05&seed=5&epochs=1&autostart=1');
    await page.waitForFunction(`document.querySelector('#steps').textContent.split('\\n').length > 5`, null, { timeout: 60_000, polling: 20 });
    await page.click('#stop');
    expect(await waitForStatus(page, 60_000, ['stopped'])).toBe('stopped');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-run')]);
    await download.saveAs(join(tmp, 'stopped.tar'));
    const dir = (await run('tar', ['-tf', join(tmp, 'stopped.tar')])).stdout.split('/')[0]!;
    await run('tar', ['-xf', join(tmp, 'stopped.tar'), '-C', tmp]);
    const training = JSON.parse(decodeSafetensors(readFileSync(join(tmp, dir, 'last.safetensors'))).metadata.training!) as { state: { epoch: number; batch: number } };
    expect(training.state.epoch).toBe(0);
    expect(training.state.batch).toBeGreaterThan(4); // stopped after some steps of the 50 ...
    expect(training.state.batch).toBeLessThan(50); // ... before the end
    await page.click('#continue');
    expect(await waitForStatus(page, 60_000)).toBe('done');
    expectSameMetrics(await jsonLines<Metrics>(page, '#metrics'), cli);
    await run(process.execPath, [PLIF, 'train', '--resume', join(tmp, dir)], { timeout: 120_000 });
    expectSameMetrics(readFileSync(join(tmp, dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Metrics), cli);
    expectSameTensors(join(tmp, dir, 'last.safetensors'), join(tmp, 'cli-stop', 'last.safetensors'));
    await page.close();
  });

  it('a short WebGL2 run: per-step losses match the CLI CPU run of the same seed within float32 tolerance; a screenshot mid-training', async () => {
    // one step per epoch, so each epoch's train_loss in the CLI's metrics.jsonl is that step's loss
    const cli = await cliTrain(join(tmp, 'cli-gl'), ['--limit-train', '4', '--batch', '4', '--limit-test', '4', '--lr', '0.05', '--epochs', '5']);
    const page = await open('?preset=fmnist-small&backend=gpujs:webgl2&limit-train=4&batch=4&limit-test=4&lr=0.05&epochs=4&autostart=1');
    await page.setViewportSize({ width: 1400, height: 1000 });
    await page.waitForFunction(`document.querySelector('#metrics').textContent.split('\\n').length > 2 || document.querySelector('#status').textContent.startsWith('error')`, null, { timeout: 120_000, polling: 100 });
    expect(await page.textContent('#status')).toBe('running'); // mid-training: two epochs done, two to go
    const shot = join(tmp, 'browser-training.png'); // the README's picture is a real run: test/browser/screenshot.mjs
    const png = await page.screenshot({ path: shot, fullPage: false });
    expect([...png.subarray(1, 4)].map((c) => String.fromCharCode(c)).join('')).toBe('PNG');
    expect(await waitForStatus(page, 120_000)).toBe('done');
    const info = JSON.parse((await page.textContent('#backend'))!);
    expect(info).toMatchObject({ name: 'gpujs', mode: 'webgl2', software: true });
    await expectNearCliRun(page, cli);
    // the figures are drawn: loss, accuracy and tau charts, firing-rate maps, raster
    for (const id of ['fig-loss', 'fig-acc', 'fig-tau']) expect(await page.innerHTML(`#${id}`)).toContain('<svg');
    for (const id of ['fig-maps', 'fig-raster']) expect(Number(await page.getAttribute(`#${id}`, 'width'))).toBeGreaterThan(100);
    // the WebGL2 run continues on the CLI's CPU backend (--backend overrides the run's gpujs:webgl2)
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download-run')]);
    await download.saveAs(join(tmp, 'gl-run.tar'));
    const dir = (await run('tar', ['-tf', join(tmp, 'gl-run.tar')])).stdout.split('/')[0]!;
    await run('tar', ['-xf', join(tmp, 'gl-run.tar'), '-C', tmp]);
    expect(JSON.parse(readFileSync(join(tmp, dir, 'config.json'), 'utf8')).config.backend).toBe('gpujs:webgl2');
    await run(process.execPath, [PLIF, 'train', '--resume', join(tmp, dir), '--backend', 'cpu', '--epochs', '5'], { timeout: 120_000 });
    const continued = readFileSync(join(tmp, dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Metrics);
    expect(continued.map((m) => m.epoch)).toEqual([0, 1, 2, 3, 4]);
    expect(Math.abs(continued[4]!.train_loss - cli[4]!.train_loss)).toBeLessThanOrEqual(f32Tol(cli[4]!.train_loss)); // epoch 4 on the CPU from the WebGL2 state
    await page.close();
  });

  it("gpu.js's cpu mode trains in the page too, within float32 tolerance of the CLI", async () => {
    const cli = await cliTrain(join(tmp, 'cli-gpujs-cpu'), ['--limit-train', '2', '--batch', '2', '--limit-test', '2', '--lr', '0.05', '--epochs', '2']);
    const page = await open('?preset=fmnist-small&backend=gpujs:cpu&limit-train=2&batch=2&limit-test=2&lr=0.05&epochs=2&autostart=1');
    expect(await waitForStatus(page, 60_000)).toBe('done');
    expect(JSON.parse((await page.textContent('#backend'))!)).toEqual({ name: 'gpujs', mode: 'cpu', renderer: 'JavaScript on the CPU (gpu.js cpu)', software: true });
    const web = await jsonLines<Metrics>(page, '#metrics');
    web.forEach((m, e) => expect(Math.abs(m.train_loss - cli[e]!.train_loss), `epoch ${e}`).toBeLessThanOrEqual(f32Tol(cli[e]!.train_loss)));
    await page.close();
  });

  it('without data on the server, the page asks for the .gz files and trains on the files dropped onto it', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'plif-nodata-'));
    const bare = await serve(['--data-dir', empty]);
    try {
      expect(bare.out().split('\n')[1]).toMatch(/no dataset in --data-dir .*: the page will ask for the four \.gz files to be dropped onto it/);
      const page = await browser.newPage();
      await page.goto(`${bare.url}?backend=cpu&limit-train=4&batch=4&limit-test=4&epochs=1&autostart=1`);
      expect(await waitForStatus(page, 30_000)).toMatch(/^error: the fashion-mnist files .* are missing/);
      expect(await page.getAttribute('#status', 'class')).toBe('error'); // shown as an error
      // four small IDX files of the real format (28x28 images), two of them gzip-compressed, as a user drops them
      const img = (n: number) => idxBytes([n, 28, 28], Array.from({ length: n * 784 }, (_, i) => (i * 37) % 256), true);
      const lab = (n: number) => idxBytes([n], Array.from({ length: n }, (_, i) => i % 10));
      const files = [
        { name: 'train-images-idx3-ubyte.gz', bytes: img(8) },
        { name: 'train-labels-idx1-ubyte', bytes: lab(8) },
        { name: 't10k-images-idx3-ubyte.gz', bytes: img(4) },
        { name: 't10k-labels-idx1-ubyte', bytes: lab(4) },
      ].map((f) => ({ name: f.name, b64: f.bytes.toString('base64') }));
      const transfer = await page.evaluateHandle(
        `(() => { const dt = new DataTransfer(); for (const f of ${JSON.stringify(files)}) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name)); return dt; })()`,
      );
      await page.dispatchEvent('#drop', 'drop', { dataTransfer: transfer });
      await page.waitForFunction(`document.querySelector('#dropped').textContent.includes('t10k-labels')`, null, { timeout: 10_000 });
      await page.click('#start');
      expect(await waitForStatus(page, 60_000)).toBe('done');
      expect(await page.textContent('#data')).toBe('this run: trains on 4 of the 8 training samples, tests on all 4 test samples, from dropped files');
      expect(await page.getAttribute('#status', 'class')).toBe('');
      expect((await jsonLines<Metrics>(page, '#metrics')).length).toBe(1);
      await page.close();
    } finally {
      expect(await bare.stop()).toBe(0);
    }
  });
});
