// The real Fashion-MNIST, when Debian's dataset-fashion-mnist package is installed (CI installs it).
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadStaticDataset, normalizeImages, NORMALIZATION } from '../../data/index.js';

const DIR = '/usr/share/datasets/fashion-mnist';
const present = existsSync(`${DIR}/train-images-idx3-ubyte.gz`) && existsSync(`${DIR}/t10k-labels-idx1-ubyte.gz`);
if (!present) {
  console.warn(`[test/data] Fashion-MNIST test skipped: ${DIR} not found (apt install dataset-fashion-mnist)`);
}

describe.skipIf(!present)(`Fashion-MNIST from ${DIR} (skipped when dataset-fashion-mnist is not installed)`, () => {
  it('has 60000 training images, 6000 per class, pixels 0..255, known first labels; loads fast', async () => {
    const t0 = performance.now();
    const d = await loadStaticDataset('fashion-mnist', 'train', { env: {} });
    const ms = performance.now() - t0;
    expect(d.dir).toBe(DIR);
    expect(d.n).toBe(60000);
    expect(d.shape).toEqual([1, 28, 28]);
    expect(d.images.length).toBe(60000 * 784);
    const counts = new Array(10).fill(0);
    for (const l of d.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(6000));
    let min = 255;
    let max = 0;
    for (const v of d.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect([min, max]).toEqual([0, 255]);
    // Ankle boot, T-shirt/top, T-shirt/top, Dress, T-shirt/top, Pullover (the published first labels)
    expect(Array.from(d.labels.slice(0, 6))).toEqual([9, 0, 0, 3, 0, 2]);
    console.info(`[test/data] Fashion-MNIST training split loaded in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(5000); // ~0.3 s on an idle machine; generous for busy CI runners
    // The published normalisation constants fit the data.
    const x = normalizeImages(d.images.subarray(0, 784 * 6000), d.shape, NORMALIZATION['fashion-mnist']);
    let mean = 0;
    for (let i = 0; i < x.length; i++) mean += x[i]!;
    expect(Math.abs(mean / x.length)).toBeLessThan(0.05);
  });

  it('has 10000 test images with known first labels', async () => {
    const d = await loadStaticDataset('fashion-mnist', 'test', { env: {} });
    expect(d.n).toBe(10000);
    expect(Array.from(d.labels.slice(0, 5))).toEqual([9, 2, 1, 1, 6]);
  });
});
