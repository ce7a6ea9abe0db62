// Streaming file access: a cursor over a file read in chunks, so that large event files never
// have to sit in memory as raw bytes.
import { open, type FileHandle } from 'node:fs/promises';
import { DataFormatError } from './errors.js';

const DEFAULT_CHUNK = 4 << 20;

/**
 * A forward-only window onto a file. `ensure(n)` makes at least n bytes available at
 * buf[pos..] (fewer only at end of file); `fileOffset` is the file position of buf[pos].
 */
export class FileCursor {
  buf: Uint8Array;
  pos = 0;
  end = 0;
  /** File offset of buf[0]. */
  private base = 0;
  private eof = false;

  private constructor(
    private readonly fh: FileHandle,
    readonly file: string,
    readonly size: number,
    chunk: number,
  ) {
    this.buf = new Uint8Array(Math.max(64, Math.min(chunk, Math.max(64, size))));
  }

  static async open(file: string, chunkSize = DEFAULT_CHUNK): Promise<FileCursor> {
    const fh = await open(file, 'r');
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new DataFormatError(file, null, 'not a regular file');
      return new FileCursor(fh, file, st.size, chunkSize);
    } catch (err) {
      await fh.close();
      throw err;
    }
  }

  /** File offset of buf[pos]. */
  get fileOffset(): number {
    return this.base + this.pos;
  }

  /** Bytes available at buf[pos..]. */
  get available(): number {
    return this.end - this.pos;
  }

  /** Bytes left in the file from the current position. */
  get remaining(): number {
    return this.size - this.fileOffset;
  }

  /** Reads until at least n bytes are available or the file ends; returns the number available. */
  async ensure(n: number): Promise<number> {
    if (this.end - this.pos >= n || this.eof) return this.end - this.pos;
    // Move the unread tail to the front, growing the buffer if n does not fit.
    const keep = this.end - this.pos;
    if (n > this.buf.length) {
      const bigger = new Uint8Array(Math.max(n, this.buf.length * 2));
      bigger.set(this.buf.subarray(this.pos, this.end));
      this.buf = bigger;
    } else {
      this.buf.copyWithin(0, this.pos, this.end);
    }
    this.base += this.pos;
    this.pos = 0;
    this.end = keep;
    while (this.end < n && !this.eof) {
      const { bytesRead } = await this.fh.read(this.buf, this.end, this.buf.length - this.end, this.base + this.end);
      if (bytesRead === 0) this.eof = true;
      this.end += bytesRead;
    }
    return this.end - this.pos;
  }

  /** Reads a '\n'-terminated line starting at pos (at most maxLen bytes); null at end of file. */
  async peekLine(maxLen = 1 << 16): Promise<{ start: number; length: number } | null> {
    let want = Math.min(256, maxLen);
    for (;;) {
      const have = await this.ensure(want);
      if (have === 0) return null;
      const nl = this.buf.subarray(this.pos, this.pos + have).indexOf(0x0a);
      if (nl >= 0) return { start: this.pos, length: nl + 1 };
      if (have < want || want >= maxLen) {
        if (have >= maxLen) throw new DataFormatError(this.file, this.fileOffset, `header line longer than ${maxLen} bytes`);
        return { start: this.pos, length: have }; // last line without newline
      }
      want = Math.min(maxLen, want * 4);
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }
}

/** Opens a cursor, runs fn, and always closes the file. */
export async function withCursor<R>(file: string, chunkSize: number | undefined, fn: (c: FileCursor) => Promise<R>): Promise<R> {
  const c = await FileCursor.open(file, chunkSize ?? DEFAULT_CHUNK);
  try {
    return await fn(c);
  } finally {
    await c.close();
  }
}

/** Latin-1 text of bytes (headers are ASCII). */
export function ascii(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/**
 * Decodes fixed-size records from the cursor to the end of the file, a read buffer at a time:
 * `decode(buf, start, n, base)` gets n whole records at buf[start..], the record at buf[o] being at
 * file offset base + o. A partial record at the end is an error naming its offset.
 */
export async function forEachRecordChunk(
  c: FileCursor,
  file: string,
  size: number,
  decode: (buf: Uint8Array, start: number, n: number, base: number) => void,
): Promise<void> {
  for (;;) {
    // At least one record, usually a whole read buffer; a partial record at the end is carried over.
    const have = await c.ensure(size);
    if (have === 0) return;
    const n = Math.floor(have / size);
    if (n === 0) throw new DataFormatError(file, c.fileOffset, `truncated event record: ${have} byte(s) left, an event has ${size}`);
    decode(c.buf, c.pos, n, c.fileOffset - c.pos);
    c.pos += n * size;
  }
}
