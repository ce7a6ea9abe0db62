// CIFAR-10 binary version (Krizhevsky 2009): data_batch_1..5.bin and test_batch.bin, each 10000
// records of 1 label byte + 3072 pixel bytes (R, G, B planes of 32 x 32, row-major) = [3, 32, 32].
import { readFile } from 'node:fs/promises';
import { DataFormatError } from './errors.js';

export const CIFAR10_RECORD = 1 + 3 * 32 * 32;
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;
export const CIFAR10_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'] as const;
export const CIFAR10_TEST_FILES = ['test_batch.bin'] as const;

/** Decodes one binary batch. */
export function decodeCifar10Batch(bytes: Uint8Array, file: string): { images: Uint8Array; labels: Uint8Array; n: number } {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    throw new DataFormatError(file, 0, 'gzip-compressed: extract cifar-10-binary.tar.gz first');
  }
  if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1]! <= 5) {
    throw new DataFormatError(file, 0, 'this is a Python pickle (the "python version" of CIFAR-10); use the binary version');
  }
  if (bytes.length === 0 || bytes.length % CIFAR10_RECORD !== 0) {
    const whole = Math.floor(bytes.length / CIFAR10_RECORD);
    throw new DataFormatError(file, whole * CIFAR10_RECORD, `truncated record: ${bytes.length} bytes is not a positive multiple of the ${CIFAR10_RECORD}-byte record (${whole} whole records)`);
  }
  const n = bytes.length / CIFAR10_RECORD;
  const images = new Uint8Array(n * (CIFAR10_RECORD - 1));
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * CIFAR10_RECORD;
    const l = bytes[o]!;
    if (l >= 10) throw new DataFormatError(file, o, `label ${l} of record ${i} is not below 10`);
    labels[i] = l;
    images.set(bytes.subarray(o + 1, o + CIFAR10_RECORD), i * (CIFAR10_RECORD - 1));
  }
  return { images, labels, n };
}

/** Reads and concatenates binary batches. */
export async function readCifar10Batches(files: readonly string[]): Promise<{ images: Uint8Array; labels: Uint8Array; n: number }> {
  const parts = await Promise.all(
    files.map(async (f) => {
      const b = await readFile(f);
      return decodeCifar10Batch(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), f);
    }),
  );
  const n = parts.reduce((a, p) => a + p.n, 0);
  const images = new Uint8Array(n * (CIFAR10_RECORD - 1));
  const labels = new Uint8Array(n);
  let k = 0;
  for (const p of parts) {
    images.set(p.images, k * (CIFAR10_RECORD - 1));
    labels.set(p.labels, k);
    k += p.n;
  }
  return { images, labels, n };
}
