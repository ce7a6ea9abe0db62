// Float32 tensor storage with reference counts and a free-list per length: a training step disposes
// what it made, so from the second step on every op's output reuses an array of the previous step and
// nothing is allocated (arrays are zero-filled on reuse only when the op asks for zeros).
import { sizeOf, type Tensor } from '../../core/backend.js';

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
    /** Upper bound on pooled floats (default 256 Mi floats = 1 GiB). */
    private readonly maxPooled = 256 * 1024 * 1024,
  ) {}

  /** A new tensor; its values are zero when `zero`, else unspecified (the caller overwrites all). */
  make(shape: readonly number[], zero: boolean): CpuTensor {
    const n = sizeOf(shape);
    const list = this.free.get(n);
    let data: Float32Array;
    if (list && list.length > 0) {
      data = list.pop()!;
      this.pooled -= n;
      if (zero) data.fill(0);
    } else data = new Float32Array(n);
    this.live++;
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
      const n = h.storage.data.length;
      if (this.pooled + n <= this.maxPooled) {
        let list = this.free.get(n);
        if (!list) this.free.set(n, (list = []));
        list.push(h.storage.data);
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

/** A growable scratch buffer (im2col columns, transposed weights): reallocated only when too small. */
export class Scratch {
  private buf = new Float32Array(0);
  get(n: number): Float32Array {
    if (this.buf.length < n) this.buf = new Float32Array(n);
    return this.buf;
  }
}
