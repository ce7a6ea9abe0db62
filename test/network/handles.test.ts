// The tensor-handle bookkeeping every backend shares (core/backend.ts): shape checks that name what is
// wrong, ownership (a tensor of another backend is refused), storage shared by reshaped handles and
// reference-counted (freed with its last handle), the live count leak tests rely on.
import { describe, expect, it } from 'vitest';
import { assertShape, Handle, Handles, sameShape, sizeOf, type Tensor } from '../../core/backend.js';
import { referenceBackend } from '../../reference/ops-backend.js';
import { fails } from '../fails.js';

describe('shapes', () => {
  it('sizeOf is the product of the dimensions; 0 is a dimension (an empty tensor), [] a scalar', () => {
    expect(sizeOf([2, 3, 4])).toBe(24);
    expect(sizeOf([3, 0, 2])).toBe(0);
    expect(sizeOf([])).toBe(1);
  });

  it('sizeOf refuses a negative, fractional, NaN or infinite dimension, naming it and the shape', () => {
    for (const d of [-1, 1.5, Number.NaN, Infinity, -Infinity]) fails(() => sizeOf([2, d, 3]), RangeError, `bad dimension ${d} in shape [2, ${d}, 3]`);
    fails(() => new Handle({}, { value: null, refs: 1 }, [4, -2]), RangeError, 'bad dimension -2 in shape [4, -2]');
  });

  it('sameShape: same rank and every dimension equal', () => {
    expect(sameShape([2, 3], [2, 3])).toBe(true);
    expect(sameShape([], [])).toBe(true);
    expect(sameShape([2, 3], [2, 4])).toBe(false); // first equal, second not
    expect(sameShape([2, 3], [3, 2])).toBe(false);
    expect(sameShape([2], [2, 3])).toBe(false); // a prefix
    expect(sameShape([2, 3], [2])).toBe(false);
  });

  it('assertShape passes equal shapes and otherwise names what, the shape and the expected one', () => {
    expect(() => assertShape('linear x', [2, 3], [2, 3])).not.toThrow();
    fails(() => assertShape('linear x', [2, 3], [2, 4]), RangeError, 'linear x: shape [2, 3], expected [2, 4]');
    fails(() => assertShape('gy', [6], [2, 3]), RangeError, 'gy: shape [6], expected [2, 3]');
  });
});

describe('Handles', () => {
  it('make: a handle to new storage (one reference), its own copy of the shape, its size; one more live', () => {
    const hs = new Handles<string>({});
    const shape = [2, 3];
    const h = hs.make('a', shape);
    shape[0] = 5;
    expect(h.shape).toEqual([2, 3]);
    expect(h.size).toBe(6);
    expect(h.storage).toEqual({ value: 'a', refs: 1 });
    expect(hs.liveCount()).toBe(1);
    expect(hs.dispose(h)).toEqual({ value: 'a', refs: 0 }); // the last handle: storage to free
    expect(hs.liveCount()).toBe(0);
  });

  it('view shares the storage; disposing one handle keeps the other usable, disposing both frees it', () => {
    const hs = new Handles<string>({});
    const a = hs.make('data', [2, 3]);
    const b = hs.view(a, [3, 2]);
    const c = hs.view(b, [6]);
    expect(b.storage).toBe(a.storage);
    expect(a.storage.refs).toBe(3);
    expect([b.shape, c.shape]).toEqual([[3, 2], [6]]);
    expect(hs.liveCount()).toBe(3);
    expect(hs.dispose(a)).toBeNull(); // still referenced
    expect(hs.check(b).storage.value).toBe('data');
    expect(hs.dispose(c)).toBeNull();
    expect(hs.liveCount()).toBe(1);
    expect(hs.dispose(b)).toBe(a.storage); // the last one: the caller frees it
    expect(a.storage.refs).toBe(0);
    expect(hs.liveCount()).toBe(0);
  });

  it('view refuses a shape of another size, naming both shapes and sizes, and takes no reference', () => {
    const hs = new Handles<string>({});
    const a = hs.make('x', [2, 3]);
    fails(() => hs.view(a, [4, 2]), RangeError, 'reshape: [2, 3] has 6 values, [4, 2] needs 8');
    fails(() => hs.view(a, [5]), RangeError, 'reshape: [2, 3] has 6 values, [5] needs 5');
    expect(a.storage.refs).toBe(1);
    expect(hs.liveCount()).toBe(1);
  });

  it("refuses a handle of another owner and a tensor that is not a handle (TypeError), even one with the owner's fields", () => {
    const owner = {};
    const hs = new Handles<string>(owner);
    const other = new Handles<string>({}).make('y', [2]);
    const fake = { shape: [2], size: 2, owner, storage: { value: 'z', refs: 1 }, disposed: false } as Tensor;
    for (const t of [other, fake]) {
      fails(() => hs.check(t), TypeError, 'tensor belongs to another backend');
      fails(() => hs.view(t, [2]), TypeError, 'tensor belongs to another backend');
      fails(() => hs.dispose(t), TypeError, 'tensor belongs to another backend');
    }
    expect(other.storage.refs).toBe(1);
    expect(hs.liveCount()).toBe(0);
  });

  it('a disposed handle throws on use, on reshape and on a second dispose, and is not counted twice', () => {
    const hs = new Handles<string>({});
    const a = hs.make('x', [2]);
    const keep = hs.view(a, [1, 2]);
    hs.dispose(a);
    for (const f of [() => hs.check(a), () => hs.view(a, [2]), () => hs.dispose(a)]) fails(f, Error, 'tensor used after dispose');
    expect(hs.liveCount()).toBe(1);
    expect(keep.storage.refs).toBe(1);
  });
});

describe('a backend built on Handles (reference)', () => {
  it('reshape shares values: disposing the original keeps the view readable; liveTensors counts each handle', () => {
    const b = referenceBackend();
    const x = b.upload([1, 2, 3, 4, 5, 6], [2, 3]);
    const y = b.reshape(x, [3, 2]);
    expect(b.liveTensors()).toBe(2);
    b.dispose(x);
    expect(Array.from(b.download(y))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(y.shape).toEqual([3, 2]);
    expect(b.liveTensors()).toBe(1);
    b.dispose(y);
    expect(b.liveTensors()).toBe(0);
    expect(() => b.download(y)).toThrow('tensor used after dispose');
  });

  it('a tensor of another backend instance is refused', () => {
    const b1 = referenceBackend();
    const b2 = referenceBackend();
    const t = b2.upload([1, 2], [2]);
    for (const f of [() => b1.download(t), () => b1.reshape(t, [1, 2]), () => b1.dispose(t)]) fails(f, TypeError, 'tensor belongs to another backend');
    expect(b2.liveTensors()).toBe(1);
    expect(Array.from(b2.download(t))).toEqual([1, 2]);
  });
});
