// Whether a size fits this machine (Node: the process's memory limit) and the largest typed array,
// checked against estimateMemory() of shapes.ts before anything is allocated.
import { freemem, totalmem } from 'node:os';

/** The largest typed array V8 allocates (elements). */
export const MAX_TYPED_ARRAY = 2 ** 32;

/** Memory this process may use: the machine's (or its container's) total memory. */
export function memoryLimit(): number {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  const total = totalmem();
  return constrained && constrained > 0 && constrained < total ? constrained : total;
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n.toFixed(n < 10 ? 2 : 1)} ${units[i]}`;
}

/** A size that cannot fit: the figure and the limit are in the message. */
export class TooLargeError extends RangeError {
  override name = 'TooLargeError';
}

/**
 * Throws TooLargeError when `bytes` exceed the memory limit or one tensor exceeds what a typed array can
 * hold. `what` says what needs it ("training fmnist-small at T = 100000000, batch 16"), `hint` what to
 * change.
 */
export function checkFits(what: string, bytes: number, largest: { what: string; values: number } | null, hint = ''): void {
  const tail = hint ? `; ${hint}` : '';
  if (largest && largest.values > MAX_TYPED_ARRAY) {
    throw new TooLargeError(`${what} needs ${largest.what}: ${largest.values.toExponential(3)} values, more than the ${MAX_TYPED_ARRAY} a typed array can hold${tail}`);
  }
  const limit = memoryLimit();
  if (bytes > limit) {
    throw new TooLargeError(`${what} needs about ${formatBytes(bytes)} of memory, more than the ${formatBytes(limit)} of this machine (${formatBytes(freemem())} free)${tail}`);
  }
}
