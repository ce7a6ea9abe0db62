// A run directory as one file: a POSIX ustar archive (what `tar -xf` unpacks), written and read in the
// browser. Only regular files, names up to 100 bytes.

export interface TarEntry {
  name: string;
  bytes: Uint8Array;
}

const BLOCK = 512;

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** A ustar archive of regular files (mode 0644, the given modification time in seconds). */
export function tarArchive(entries: readonly TarEntry[], mtime = 0): Uint8Array {
  const enc = new TextEncoder();
  const size = entries.reduce((s, e) => s + BLOCK + Math.ceil(e.bytes.length / BLOCK) * BLOCK, 2 * BLOCK);
  const out = new Uint8Array(size);
  let p = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    if (name.length > 100) throw new RangeError(`tar: name '${e.name}' is longer than 100 bytes`);
    const h = out.subarray(p, p + BLOCK);
    const put = (text: string, at: number) => h.set(enc.encode(text), at);
    h.set(name, 0);
    put(octal(0o644, 8), 100);
    put(octal(0, 8), 108); // uid
    put(octal(0, 8), 116); // gid
    put(octal(e.bytes.length, 12), 124);
    put(octal(Math.floor(mtime), 12), 136);
    put('        ', 148); // checksum field counts as spaces
    put('0', 156); // regular file
    put('ustar\u000000', 257);
    let sum = 0;
    for (const b of h) sum += b;
    put(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    out.set(e.bytes, p + BLOCK);
    p += BLOCK + Math.ceil(e.bytes.length / BLOCK) * BLOCK;
  }
  return out; // ends with two zero blocks
}

/** The regular files of a tar archive (ustar or GNU; other entries are skipped); errors say what is wrong. */
export function readTar(bytes: Uint8Array, what = 'archive'): TarEntry[] {
  const dec = new TextDecoder();
  const str = (a: Uint8Array) => dec.decode(a.subarray(0, a.indexOf(0) < 0 ? a.length : a.indexOf(0)));
  const out: TarEntry[] = [];
  for (let p = 0; p + BLOCK <= bytes.length; ) {
    const h = bytes.subarray(p, p + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    const stored = parseInt(str(h.subarray(148, 156)).trim(), 8);
    if (stored !== sum) throw new Error(`${what}: not a tar archive (bad header checksum at byte ${p})`);
    const size = parseInt(str(h.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(h[156]!);
    const prefix = str(h.subarray(345, 500));
    const name = (prefix ? `${prefix}/` : '') + str(h.subarray(0, 100));
    if (p + BLOCK + size > bytes.length) throw new Error(`${what}: truncated (entry '${name}' needs ${size} bytes)`);
    if (type === '0' || type === '\0') out.push({ name, bytes: bytes.slice(p + BLOCK, p + BLOCK + size) });
    p += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return out;
}
