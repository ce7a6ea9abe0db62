// Float32 tensor storage with reference counts and a free-list per length: a training step disposes
// what it made, so from the second step on every op's output reuses an array of the previous step and
// nothing is allocated (arrays are zero-filled on reuse only when the op asks for zeros). Storage comes
// from the shared arena (arena.ts) so that worker threads and WASM kernels can work on it in place;
// when the arena is full, ordinary arrays are used and the ops on them stay on the calling thread.
import { sizeOf, type Tensor } from '../../core/backend.js';
import type { Arena } from './arena.js';

interface Storage {
  data: Float32Array;
  refs: number;
}

export class CpuTensor implements Tensor {
  readonly size: number;
  disposed = false;
  constructor(
    readonly owner: object,
    readonly storage: Storage,
    readonly shape: readonly number[],
  ) {
    this.size = storage.data.length;
  }
}

export class CpuStore {
  private live = 0;
  private free = new Map<number, Float32Array[]>();
  private pooled = 0;
  constructor(
    private readonly owner: object,
    private readonly arena: Arena | null,
    /** Upper bound on pooled floats outside the arena (default 256 Mi floats = 1 GiB). */
    private readonly maxPooled = 256 * 1024 * 1024,
  ) {}

  /** A new tensor; its values are zero when `zero`, else unspecified (the caller overwrites all). */
  make(shape: readonly number[], zero: boolean): CpuTensor {
    const n = sizeOf(shape);
    this.live++;
    const a = this.arena?.alloc(n);
    if (a) {
      if (zero) a.fill(0);
      return new CpuTensor(this.owner, { data: a, refs: 1 }, [...shape]);
    }
    const list = this.free.get(n);
    let data: Float32Array;
    if (list && list.length > 0) {
      data = list.pop()!;
      this.pooled -= n;
      if (zero) data.fill(0);
    } else data = new Float32Array(n);
    return new CpuTensor(this.owner, { data, refs: 1 }, [...shape]);
  }

  view(t: Tensor, shape: readonly number[]): CpuTensor {
    const h = this.check(t);
    if (sizeOf(shape) !== h.size) throw new RangeError(`reshape: [${h.shape.join(', ')}] has ${h.size} values, [${shape.join(', ')}] needs ${sizeOf(shape)}`);
    h.storage.refs++;
    this.live++;
    return new CpuTensor(this.owner, h.storage, [...shape]);
  }

  get(t: Tensor): Float32Array {
    return this.check(t).storage.data;
  }

  dispose(t: Tensor): void {
    const h = this.check(t);
    h.disposed = true;
    this.live--;
    if (--h.storage.refs === 0) {
      const data = h.storage.data;
      if (this.arena?.isOwnBuffer(data.buffer)) {
        this.arena.release(data);
        return;
      }
      const n = data.length;
      if (this.pooled + n <= this.maxPooled) {
        let list = this.free.get(n);
        if (!list) this.free.set(n, (list = []));
        list.push(data);
        this.pooled += n;
      }
    }
  }

  liveCount(): number {
    return this.live;
  }

  private check(t: Tensor): CpuTensor {
    if (!(t instanceof CpuTensor) || t.owner !== this.owner) throw new TypeError('tensor belongs to another backend');
    if (t.disposed) throw new Error('tensor used after dispose');
    return t;
  }
}
