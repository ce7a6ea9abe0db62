// Float32 storage inside one shared WebAssembly.Memory: the worker threads and the WASM kernels see the
// same bytes, so a kernel gets byte offsets, never copies. Freed blocks are kept on a free-list per length
// and reused (a training step frees what it made, so from the second step on nothing is allocated).
// Where the memory cannot grow any further (wasm32: 4 GiB) the arena says so and the caller falls back to
// ordinary arrays, which the kernels then process on the calling thread.

import { KERNEL_MAX_PAGES as MAX_PAGES, KERNEL_RESERVED_BYTES } from './wasm/module.js';

const PAGE = 65536;

export class Arena {
  readonly memory: WebAssembly.Memory;
  private top = KERNEL_RESERVED_BYTES; // below it: the WASM module's own
  private free = new Map<number, number[]>();
  /** Every SharedArrayBuffer object of the memory handed out (one per size after growth). */
  private buffers = new WeakSet<ArrayBufferLike>();

  /** maxPages: the memory's maximum (the kernels' module needs KERNEL_MAX_PAGES; less only where no kernel runs on it). */
  constructor(initialBytes = 64 * 1024 * 1024, private readonly maxPages = MAX_PAGES) {
    const initial = Math.max(2, Math.ceil(initialBytes / PAGE));
    this.memory = new WebAssembly.Memory({ initial, maximum: maxPages, shared: true });
  }

  /** A Float32Array of n values inside the memory (16-byte aligned), or null when the memory is full. */
  alloc(n: number): Float32Array | null {
    const list = this.free.get(n);
    if (list && list.length > 0) return this.view(list.pop()!, n);
    const bytes = Math.max(16, Math.ceil((n * 4) / 16) * 16);
    const need = this.top + bytes;
    const have = this.memory.buffer.byteLength;
    if (need > have) {
      const pages = Math.ceil((need - have) / PAGE);
      const grow = Math.max(pages, Math.min(this.maxPages - have / PAGE, Math.ceil(have / PAGE / 4))); // grow by >= 25%
      try {
        this.memory.grow(grow);
      } catch {
        try {
          this.memory.grow(pages);
        } catch {
          return null;
        }
      }
    }
    const off = this.top;
    this.top = need;
    return this.view(off, n);
  }

  private view(off: number, n: number): Float32Array {
    const buf = this.memory.buffer;
    this.buffers.add(buf);
    return new Float32Array(buf, off, n);
  }

  /** Whether an array's buffer is (a view of) this arena's memory. */
  isOwnBuffer(buf: ArrayBufferLike): boolean {
    return this.buffers.has(buf);
  }

  release(a: Float32Array): void {
    let list = this.free.get(a.length);
    if (!list) this.free.set(a.length, (list = []));
    list.push(a.byteOffset);
  }

  /** Bytes handed out so far (high-water mark of the arena). */
  bytesUsed(): number {
    return this.top;
  }
}
