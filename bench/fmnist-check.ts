// Trains a network on Fashion-MNIST (Debian's dataset-fashion-mnist IDX files) for a number of training
// images and reports throughput and test accuracy: the check behind the fmnist-small preset.
//   node dist/bench/fmnist-check.js [--preset fmnist-small] [--structure S] [--train 60000] [--test 10000] [--T 8]
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { cpuBackend } from '../backends/cpu/index.js';
import { Network, networkConfig, presetByName } from '../core/network/index.js';
import { createAdam, predictBatch, trainStep } from '../core/network/train.js';
import { Rng } from '../core/rng.js';

const DIR = '/usr/share/datasets/fashion-mnist';

function idx(path: string): Uint8Array {
  const raw = gunzipSync(readFileSync(path));
  const dims = raw[3]!;
  return raw.subarray(4 + 4 * dims);
}

function arg(name: string, dflt: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : dflt;
}

const preset = presetByName(arg('preset', 'fmnist-small'));
const structure = arg('structure', preset.structure);
const T = Number(arg('T', String(preset.T)));
const nTrain = Number(arg('train', '60000'));
const nTest = Number(arg('test', '10000'));
const batch = Number(arg('batch', '16'));
const cfg = networkConfig(structure, preset.input, preset.classes, { T, static: true });
const b = cpuBackend();
const rng = Rng.seeded(Number(arg('seed', '0')));
const net = new Network(b, cfg, rng.split());
const opt = createAdam(net);
const trX = idx(`${DIR}/train-images-idx3-ubyte.gz`);
const trY = idx(`${DIR}/train-labels-idx1-ubyte.gz`);
const teX = idx(`${DIR}/t10k-images-idx3-ubyte.gz`);
const teY = idx(`${DIR}/t10k-labels-idx1-ubyte.gz`);
const norm = (v: number) => (v / 255 - 0.286) / 0.353;
const order = rng.permutation(60000);
const x = new Float32Array(batch * 784);
const labels = new Int32Array(batch);
const c0 = process.cpuUsage();
const t0 = performance.now();
let seen = 0;
let lossSum = 0;
let correct = 0;
for (let s = 0; s + batch <= nTrain; s += batch) {
  for (let i = 0; i < batch; i++) {
    const k = order[s + i]!;
    for (let p = 0; p < 784; p++) x[i * 784 + p] = norm(trX[k * 784 + p]!);
    labels[i] = trY[k]!;
  }
  const r = trainStep(net, opt, { x, labels }, rng);
  seen += batch;
  lossSum += r.loss;
  correct += r.correct;
  if ((s / batch) % 200 === 199) {
    const el = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    process.stderr.write(`${seen} imgs ${el.toFixed(0)}s ${(seen / el).toFixed(1)}/s cpu ${(seen / ((cpu.user + cpu.system) / 1e6)).toFixed(1)}/cpu-s loss ${(lossSum / 200).toFixed(4)} acc ${(correct / (200 * batch)).toFixed(3)}\n`);
    lossSum = 0;
    correct = 0;
  }
}
const trainS = (performance.now() - t0) / 1000;
const cu = process.cpuUsage(c0);
const trainCpuS = (cu.user + cu.system) / 1e6;
const c1 = process.cpuUsage();
const t1 = performance.now();
let ok = 0;
const tb = 100;
const tx = new Float32Array(tb * 784);
for (let s = 0; s < nTest; s += tb) {
  const n = Math.min(tb, nTest - s);
  for (let i = 0; i < n * 784; i++) tx[i] = norm(teX[s * 784 + i]!);
  const p = predictBatch(net, n === tb ? tx : tx.subarray(0, n * 784), n);
  for (let i = 0; i < n; i++) if (p[i] === teY[s + i]) ok++;
}
const testS = (performance.now() - t1) / 1000;
const cu1 = process.cpuUsage(c1);
const testCpuS = (cu1.user + cu1.system) / 1e6;
console.log(JSON.stringify({ structure, T, train_images: seen, train_s: trainS, train_samples_per_s: seen / trainS, train_cpu_s: trainCpuS, train_samples_per_cpu_s: seen / trainCpuS, test_images: nTest, test_s: testS, test_cpu_s: testCpuS, test_accuracy: ok / nTest, taus: net.taus() }));
