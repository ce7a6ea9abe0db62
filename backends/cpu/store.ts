// Float32 tensor storage (handles: core's Handles) with a free-list per length: a training step disposes
// what it made, so from the second step on every op's output reuses an array of the previous step and
// nothing is allocated (arrays are zero-filled on reuse only when the op asks for zeros). Storage comes
// from the shared arena (arena.ts) so that worker threads and WASM kernels can work on it in place;
// when the arena is full, ordinary arrays are used and the ops on them stay on the calling thread.
import { Handles, sizeOf, type Handle, type Tensor } from '../../core/backend.js';
import type { Arena } from './arena.js';

export type CpuTensor = Handle<Float32Array>;

export class CpuStore {
  private readonly handles: Handles<Float32Array>;
  private free = new Map<number, Float32Array[]>();
  private pooled = 0;
  constructor(
    owner: object,
    private readonly arena: Arena | null,
    /** Upper bound on pooled floats outside the arena (default 256 Mi floats = 1 GiB). */
    private readonly maxPooled = 256 * 1024 * 1024,
  ) {
    this.handles = new Handles(owner);
  }

  /** A new tensor; its values are zero when `zero`, else unspecified (the caller overwrites all). */
  make(shape: readonly number[], zero: boolean): CpuTensor {
    this.handles.checkOpen();
    const n = sizeOf(shape);
    const a = this.arena?.alloc(n);
    if (a) {
      if (zero) a.fill(0);
      return this.handles.make(a, shape);
    }
    const list = this.free.get(n);
    let data: Float32Array;
    if (list && list.length > 0) {
      data = list.pop()!;
      this.pooled -= n;
      if (zero) data.fill(0);
    } else data = new Float32Array(n);
    return this.handles.make(data, shape);
  }

  view(t: Tensor, shape: readonly number[]): CpuTensor {
    return this.handles.view(t, shape);
  }

  get(t: Tensor): Float32Array {
    return this.handles.check(t).storage.value;
  }

  dispose(t: Tensor): void {
    const last = this.handles.dispose(t);
    if (last) {
      const data = last.value;
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
    return this.handles.liveCount();
  }

  /** The backend was destroyed: every later use throws (core's Handles.close); the pooled arrays go. */
  close(backendName: string): void {
    this.handles.close(backendName);
    this.free.clear();
    this.pooled = 0;
  }
}
