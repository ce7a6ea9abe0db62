// memory.ts in process: sizes as text at every unit boundary, the memory limit (a container's limit where
// it is below the machine's), and checkFits' two refusals with their exact messages. The machine's total
// and free memory are fixed through a pass-through mock of node:os, so the messages are exact.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { checkFits, formatBytes, MAX_TYPED_ARRAY, memoryLimit, TooLargeError } from '../../training/memory.js';
import { exactly, fails } from '../fails.js';

const machine = vi.hoisted(() => ({ total: null as number | null, free: null as number | null }));
vi.mock('node:os', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:os')>();
  const mocked = { ...real, totalmem: () => machine.total ?? real.totalmem(), freemem: () => machine.free ?? real.freemem() };
  return { ...mocked, default: mocked };
});

const KiB = 1024;
const GiB = 1024 ** 3;
type Constrained = { constrainedMemory?: () => number | undefined };
let savedConstrained: Constrained['constrainedMemory'];
/** The limit of this process's container (cgroup) as Node reports it; undefined: no such function. */
function containerLimit(v: number | undefined | 'no function'): void {
  (process as Constrained).constrainedMemory = v === 'no function' ? undefined : () => v;
}
beforeEach(() => {
  savedConstrained = (process as Constrained).constrainedMemory;
  machine.total = 16 * GiB;
  machine.free = 3 * GiB;
  containerLimit(undefined);
});
afterEach(() => {
  (process as Constrained).constrainedMemory = savedConstrained;
  machine.total = null;
  machine.free = null;
});

describe('formatBytes', () => {
  it('bytes below 1024 as a count', () => {
    expect(formatBytes(0)).toBe('0 bytes');
    expect(formatBytes(1)).toBe('1 bytes');
    expect(formatBytes(1023)).toBe('1023 bytes');
    expect(formatBytes(0.5)).toBe('0.5 bytes');
  });

  it('from 1 KiB: two decimals below 10 of the unit, one from 10 on', () => {
    expect(formatBytes(1024)).toBe('1.00 KiB');
    expect(formatBytes(1536)).toBe('1.50 KiB');
    expect(formatBytes(10 * KiB - 1)).toBe('10.00 KiB'); // 9.999 KiB, two decimals, rounded
    expect(formatBytes(10 * KiB)).toBe('10.0 KiB');
    expect(formatBytes(1023 * KiB)).toBe('1023.0 KiB');
    expect(formatBytes(1024 * KiB - 1)).toBe('1024.0 KiB'); // still KiB: below 1 MiB
  });

  it('each unit from its first byte, up to EiB', () => {
    const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
    units.forEach((unit, i) => {
      const one = 1024 ** (i + 1);
      expect(formatBytes(one)).toBe(`1.00 ${unit}`);
      expect(formatBytes(12.5 * one)).toBe(`12.5 ${unit}`);
    });
    expect(formatBytes(1024 ** 2 - 1024)).toBe('1023.0 KiB');
  });

  it('beyond EiB the figure grows in EiB', () => {
    expect(formatBytes(1024 ** 7)).toBe('1024.0 EiB');
    expect(formatBytes(2 * 1024 ** 8)).toBe('2097152.0 EiB');
    expect(formatBytes(Number.POSITIVE_INFINITY)).toBe('Infinity EiB');
  });
});

describe('memoryLimit', () => {
  it("the machine's total when the process has no limit of its own", () => {
    expect(memoryLimit()).toBe(16 * GiB);
    containerLimit(0);
    expect(memoryLimit()).toBe(16 * GiB);
    containerLimit('no function');
    expect(memoryLimit()).toBe(16 * GiB);
  });

  it("a container's limit below the machine's total, and only that", () => {
    containerLimit(4 * GiB);
    expect(memoryLimit()).toBe(4 * GiB);
    containerLimit(16 * GiB - 1);
    expect(memoryLimit()).toBe(16 * GiB - 1);
    containerLimit(16 * GiB + 1); // cgroup v2 "max" reads as 2^64
    expect(memoryLimit()).toBe(16 * GiB);
    containerLimit(2 ** 64);
    expect(memoryLimit()).toBe(16 * GiB);
    containerLimit(-1);
    expect(memoryLimit()).toBe(16 * GiB);
  });

  it('follows the real machine when nothing is mocked', () => {
    machine.total = null;
    (process as Constrained).constrainedMemory = savedConstrained;
    expect(memoryLimit()).toBeGreaterThan(0);
  });
});

describe('checkFits', () => {
  it('a size within the limit, and tensors up to 2^32 values, pass', () => {
    expect(MAX_TYPED_ARRAY).toBe(2 ** 32);
    expect(() => checkFits('training', 16 * GiB, null)).not.toThrow();
    expect(() => checkFits('training', 0, { what: 'the spikes', values: 2 ** 32 })).not.toThrow();
    containerLimit(2 * GiB);
    expect(() => checkFits('training', 2 * GiB, { what: 'the spikes', values: 1 }, 'use a smaller batch')).not.toThrow();
  });

  it('more memory than the limit: the figure, the limit and the free memory, and the hint', () => {
    const expectTooLarge = (f: () => void, message: string) => {
      const err = fails(f, TooLargeError, message);
      expect(err).toBeInstanceOf(RangeError);
      expect(err.name).toBe('TooLargeError');
    };
    expectTooLarge(
      () => checkFits('training fmnist-small at T = 100000000, batch 16', 20 * GiB, null),
      'training fmnist-small at T = 100000000, batch 16 needs about 20.0 GiB of memory, more than the 16.0 GiB of this machine (3.00 GiB free)',
    );
    expectTooLarge(
      () => checkFits('training', 16 * GiB + 1, { what: 'the spikes', values: 2 ** 32 }, 'use a smaller batch'),
      'training needs about 16.0 GiB of memory, more than the 16.0 GiB of this machine (3.00 GiB free); use a smaller batch',
    );
    containerLimit(1536 * 1024 ** 2);
    machine.free = 512;
    expectTooLarge(() => checkFits('eval', 2 * GiB, null, ''), 'eval needs about 2.00 GiB of memory, more than the 1.50 GiB of this machine (512 bytes free)');
  });

  it('a tensor over 2^32 values: its name and count, before the memory is looked at', () => {
    const tooBig = { what: 'the membrane potentials', values: 2 ** 32 + 1 };
    expect(() => checkFits('training', 0, tooBig)).toThrow(
      exactly('training needs the membrane potentials: 4.295e+9 values, more than the 4294967296 a typed array can hold'),
    );
    expect(() => checkFits('training', 100 * GiB, { what: 'x', values: 1.23456e12 }, 'lower T')).toThrow(
      exactly('training needs x: 1.235e+12 values, more than the 4294967296 a typed array can hold; lower T'),
    );
    expect(() => checkFits('training', 0, tooBig)).toThrow(TooLargeError);
  });
});
