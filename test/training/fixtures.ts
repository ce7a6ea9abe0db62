// A tiny Fashion-MNIST-shaped dataset in the original IDX format, written by the tests: each class is a
// bright bar at its own position, so a network can learn it within a few steps.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function idx(magic: number, dims: number[], body: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(head.buffer);
  v.setUint32(0, magic);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d));
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

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
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), idx(0x803, [n, 28, 28], images));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), idx(0x801, [n], labels));
  }
  return dir;
}
