// A tiny Fashion-MNIST-shaped dataset in the original IDX format, written by the tests: each class is a
// bright bar at its own position, so a network can learn it within a few steps.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idxBytes, nmnistBytes, type Ev } from '../data/writers.js';

function split(n: number, seed: number): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(n * 28 * 28);
  const labels = new Uint8Array(n);
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < n; i++) {
    const label = i % 10;
    labels[i] = label;
    for (let p = 0; p < 28 * 28; p++) images[i * 784 + p] = Math.floor(rand() * 40);
    const row = 2 + label * 2;
    for (let y = row; y < row + 3; y++) for (let x = 4; x < 24; x++) images[i * 784 + y * 28 + x] = 200 + Math.floor(rand() * 55);
  }
  return { images, labels };
}

/** A directory holding train-/t10k- IDX files (raw, not gzipped) of nTrain / nTest samples. */
export function writeTinyFashionMnist(nTrain = 96, nTest = 40): string {
  const dir = mkdtempSync(join(tmpdir(), 'plif-fmnist-'));
  for (const [prefix, n, seed] of [['train', nTrain, 1], ['t10k', nTest, 2]] as const) {
    const { images, labels } = split(n, seed);
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), idxBytes([n, 28, 28], images));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), idxBytes([n], labels));
  }
  return dir;
}

/** An N-MNIST-shaped dataset: Train|Test/<digit>/<k>.bin, each class's events crowd its own rows of the 34x34 sensor. */
export function writeTinyNMnist(perClassTrain = 4, perClassTest = 2): string {
  const dir = mkdtempSync(join(tmpdir(), 'plif-nmnist-'));
  let s = 9;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const [folder, per] of [['Train', perClassTrain], ['Test', perClassTest]] as const) {
    for (let c = 0; c < 10; c++) {
      mkdirSync(join(dir, folder, String(c)), { recursive: true });
      for (let k = 0; k < per; k++) {
        const events: Ev[] = Array.from({ length: 300 }, (_, i) => ({ x: Math.floor(rand() * 34), y: 3 * c + Math.floor(rand() * 3), p: i % 2, t: 1000 + i * 50 }));
        writeFileSync(join(dir, folder, String(c), `${k}.bin`), nmnistBytes(events));
      }
    }
  }
  return dir;
}

/** Metrics lines without their wall-clock fields (seconds, samples_per_s): what two runs must agree on. */
export function withoutTimes<M extends { seconds: number; samples_per_s: number }>(ms: readonly M[]): Omit<M, 'seconds' | 'samples_per_s'>[] {
  return ms.map(({ seconds: _s, samples_per_s: _r, ...rest }) => rest);
}
