// The safetensors reader and writer of core/checkpoint.ts on files written byte by byte: every refusal
// names what is wrong (a file a user hands us may be truncated, of another format or hand-edited), and
// the edges of what is accepted.
import { beforeEach, describe, expect, it } from 'vitest';
import type { Backend } from '../../core/backend.js';
import { CheckpointError, checkpointConfig, decodeSafetensors, encodeSafetensors, loadCheckpoint, MAX_HEADER_BYTES, saveCheckpoint, writeFloat32LEInto, type NamedTensor } from '../../core/checkpoint.js';
import { MAX_SIZE } from '../../core/network/parser.js';
import { Network, networkConfig } from '../../core/network/network.js';
import { createAdam } from '../../core/network/train.js';
import { Rng } from '../../core/rng.js';
import { referenceBackend } from '../../reference/ops-backend.js';

/** A safetensors file: 8-byte little-endian header length, the header, the data. */
function file(header: unknown, data: number[] = [], headerLength?: number): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const bytes = new Float32Array(data);
  const out = new Uint8Array(8 + h.length + bytes.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? h.length), true);
  out.set(h, 8);
  out.set(new Uint8Array(bytes.buffer), 8 + h.length);
  return out;
}
const tensor = (shape: unknown, offsets: unknown, dtype: unknown = 'F32') => ({ dtype, shape, data_offsets: offsets });
const refuses = (bytes: Uint8Array, message: string) => {
  let err: unknown = null;
  try {
    decodeSafetensors(bytes);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(CheckpointError);
  expect((err as Error).name).toBe('CheckpointError');
  expect((err as Error).message).toBe(message);
};

describe('safetensors', () => {
  it('reads what it writes: names, shapes, values (to the bit), metadata; empty tensors', () => {
    const a = { name: 'a', shape: [2, 2], data: Float32Array.from([1.5, -0, Number.MIN_VALUE, 3e38]) };
    const e = { name: 'e', shape: [0, 3], data: new Float32Array(0) };
    const b = { name: 'b', shape: [1], data: Float32Array.from([7]) };
    const bytes = encodeSafetensors([a, e, b], { format: 'x', note: 'y' });
    expect(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8).toBe(0); // header padded to 8 bytes
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'x', note: 'y' });
    expect([...back.tensors.keys()]).toEqual(['a', 'e', 'b']);
    for (const t of [a, e, b]) {
      expect(back.tensors.get(t.name)!.shape).toEqual(t.shape);
      expect(new Uint8Array(back.tensors.get(t.name)!.data.buffer)).toEqual(new Uint8Array(t.data.buffer));
    }
  });

  it('reads a file given as a Node Buffer that views a larger memory (readFileSync, Buffer.concat), to the bit', () => {
    const bytes = encodeSafetensors([{ name: 'w', shape: [3], data: Float32Array.of(1.5, -2, 3.25) }, { name: 'b', shape: [2], data: Float32Array.of(-0, 7) }], {});
    const big = Buffer.alloc(bytes.length + 13, 0xff); // 0xff bytes around it read as NaN if a view escapes its range
    big.set(bytes, 13);
    const { tensors } = decodeSafetensors(big.subarray(13));
    expect(Array.from(tensors.get('w')!.data)).toEqual([1.5, -2, 3.25]);
    expect(Array.from(tensors.get('b')!.data)).toEqual([-0, 7]);
    expect(tensors.get('w')!.data.buffer.byteLength).toBe(12); // its own copy, not a view of the file
  });

  it('the writer refuses a duplicate or reserved name and a shape that does not hold the values', () => {
    const t = (name: string, shape: number[], n: number) => ({ name, shape, data: new Float32Array(n) });
    expect(() => encodeSafetensors([t('a', [1], 1), t('a', [1], 1)], {})).toThrow(new CheckpointError("duplicate or reserved tensor name 'a'"));
    expect(() => encodeSafetensors([t('__metadata__', [1], 1)], {})).toThrow("duplicate or reserved tensor name '__metadata__'");
    expect(() => encodeSafetensors([t('a', [2], 3)], {})).toThrow("tensor 'a': shape [2] does not hold 3 values");
  });

  it('the reader names a short file, a header length past the end, and a header that is not a JSON object', () => {
    refuses(new Uint8Array(7), 'not a safetensors file: 7 bytes, shorter than the 8-byte header length');
    refuses(file('{}', [], 3), 'truncated or not a safetensors file: header length 3 exceeds the 2 bytes that follow');
    expect(decodeSafetensors(file('{}', [], 2)).tensors.size).toBe(0); // exactly up to the end
    expect(() => decodeSafetensors(file('', []))).toThrow(/^not a safetensors file: the header is not JSON \(/); // 8 bytes: an empty header
    const bad = file('{}');
    bad[8] = 0xff; // not UTF-8
    expect(() => decodeSafetensors(bad)).toThrow(/^not a safetensors file: the header is not JSON/);
    for (const h of ['[]', 'null', '3', '"x"']) refuses(file(h), 'not a safetensors file: the header is not a JSON object');
  });

  it('the reader names bad metadata', () => {
    refuses(file({ __metadata__: [] }), '__metadata__ is [], not an object of strings');
    refuses(file({ __metadata__: 5 }), '__metadata__ is 5, not an object of strings');
    refuses(file({ __metadata__: { a: 'x', b: 1 } }), "metadata field 'b' is 1, not a string");
    expect(decodeSafetensors(file({ __metadata__: null })).metadata).toEqual({});
  });

  it("the reader names a bad tensor entry: not an object, dtype, shape, data_offsets, span, truncation, data left over", () => {
    for (const v of [5, null, [1]]) refuses(file({ w: v }), `tensor 'w': its header entry is ${JSON.stringify(v)}, not an object`);
    refuses(file({ w: tensor([1], [0, 4], 'F16') }, [1]), `tensor 'w': dtype "F16", only F32 is supported`);
    for (const s of ['x', [2, -1], [1.5], null]) refuses(file({ w: tensor(s, [0, 4]) }, [1]), `tensor 'w': bad shape ${JSON.stringify(s)}`);
    for (const o of ['x', [0], [0, 4, 8], [-4, 0], [0, 4.5], null]) refuses(file({ w: tensor([1], o) }, [1]), `tensor 'w': bad data_offsets`);
    refuses(file({ w: tensor([2], [0, 4]) }, [1]), "tensor 'w': data_offsets span 4 bytes, shape [2] needs 8");
    refuses(file({ w: tensor([2], [4, 8]) }, [1, 2]), "tensor 'w': data_offsets span 4 bytes, shape [2] needs 8");
    refuses(file({ w: tensor([2], [0, 8]) }, [1]), "truncated file: tensor 'w' ends at byte 8 of the data, which has only 4 bytes");
    refuses(file({ w: tensor([1], [0, 4]) }, [1, 2]), 'corrupt file: 8 data bytes but the tensors cover 4');
    // offsets are relative to the data; tensors in any order
    const ok = decodeSafetensors(file({ v: tensor([1], [4, 8]), w: tensor([1], [0, 4]) }, [3, 9]));
    expect([ok.tensors.get('w')!.data[0], ok.tensors.get('v')!.data[0]]).toEqual([3, 9]);
  });

  it('the reader refuses tensors that share bytes (naming both), data bytes of no tensor, and a header over the limit', () => {
    refuses(file({ g: tensor([2], [0, 8]), b: tensor([2], [0, 8]), r: tensor([2], [8, 16]) }, [1, 2, 3, 4]), "corrupt file: tensors 'g' (data bytes 0..8) and 'b' (data bytes 0..8) share bytes 0..8");
    refuses(file({ g: tensor([2], [0, 8]), b: tensor([2], [4, 12]) }, [1, 2, 3]), "corrupt file: tensors 'g' (data bytes 0..8) and 'b' (data bytes 4..12) share bytes 4..8");
    refuses(file({ g: tensor([1], [0, 4]), b: tensor([1], [8, 12]) }, [1, 2, 3]), "corrupt file: data bytes 4..8 belong to no tensor (before tensor 'b')");
    // empty tensors hold no byte: anywhere within the data
    expect(decodeSafetensors(file({ g: tensor([2], [0, 8]), e: tensor([0], [4, 4]) }, [1, 2])).tensors.get('e')!.data.length).toBe(0);
    const big = new Uint8Array(8 + MAX_HEADER_BYTES + 8);
    new DataView(big.buffer).setBigUint64(0, BigInt(MAX_HEADER_BYTES + 8), true);
    refuses(big, `not a plif-snn checkpoint: a header of ${MAX_HEADER_BYTES + 8} bytes, more than the ${MAX_HEADER_BYTES} read (a checkpoint's header is a few kB)`);
  });
});

/** A small network and its checkpoint (with Adam and the RNG state) on a fresh reference backend; made inside the tests. */
const small = () => {
  const b = referenceBackend();
  const net = new Network(b, networkConfig('c2k3s1-BN-PLIF-FC4-PLIF', [1, 3, 3], 4, { T: 2 }), Rng.seeded(1));
  return { b, net, bytes: saveCheckpoint(net, { optimizer: createAdam(net), rng: Rng.seeded(2) }) };
};
/** The checkpoint with metadata fields replaced (undefined removes one) and its tensors changed. */
const edited = (bytes: Uint8Array, meta: Record<string, string | undefined>, change: (t: Map<string, NamedTensor>) => void = () => undefined) => {
  const { tensors, metadata } = decodeSafetensors(bytes);
  change(tensors);
  const m = Object.fromEntries(Object.entries({ ...metadata, ...meta }).filter(([, v]) => v !== undefined)) as Record<string, string>;
  return encodeSafetensors([...tensors.values()], m);
};

describe('loadCheckpoint refusals', () => {
  let b!: Backend;
  let net!: Network;
  let saved!: Uint8Array;
  let tensors!: Map<string, NamedTensor>;
  let metadata!: Record<string, string>;
  beforeEach(() => {
    ({ b, net, bytes: saved } = small());
    ({ tensors, metadata } = decodeSafetensors(saved));
  });
  const edit = (meta: Record<string, string | undefined>, change?: (t: Map<string, NamedTensor>) => void) => edited(saved, meta, change);
  const refuses = (bytes: Uint8Array, message: string) => expect(() => loadCheckpoint(b, bytes)).toThrow(new CheckpointError(message));

  it('loads what it saved, with the optimizer and RNG state', () => {
    const back = loadCheckpoint(b, saved);
    expect(back.optimizer!.step).toBe(0);
    expect(back.rngState).toEqual(Rng.seeded(2).state());
    expect(back.net.params().map((p) => p.name)).toEqual(net.params().map((p) => p.name));
    expect([...tensors.keys()].every((k) => /^(param|buffer|optim\.[mv])\./.test(k))).toBe(true);
    expect(JSON.parse(metadata.optimizer!).kind).toBe('adam');
  });

  it('names a bad config field', () => {
    refuses(edit({ config: undefined }), "metadata field 'config' is missing");
    expect(() => loadCheckpoint(b, edit({ config: '{' }))).toThrow(/^metadata field 'config' is not JSON \(.+\)$/);
    refuses(edit({ config: '[1]' }), "metadata field 'config': [1] is not an object");
    const c = JSON.parse(metadata.config!);
    refuses(edit({ config: JSON.stringify({ ...c, structure: 3 }) }), "metadata field 'config': structure is 3, not a string");
    for (const input of [[1, 3], [1, 3, 0], [1, 3, 2.5], [1, 3, 1_000_001], 'x'])
      refuses(edit({ config: JSON.stringify({ ...c, input }) }), `metadata field 'config': input is ${JSON.stringify(input)}, not [C, H, W] of positive integers`);
    expect(() => loadCheckpoint(b, edit({ config: JSON.stringify({ ...c, input: [1, 3, 3] }) }))).not.toThrow();
  });

  it('names a missing, misshapen, non-finite or foreign tensor', () => {
    refuses(edit({}, (t) => t.delete('param.0.weight')), "checkpoint lacks tensor 'param.0.weight'");
    refuses(edit({}, (t) => (t.get('param.0.weight')!.shape = [2, 1, 9])), "tensor 'param.0.weight' has shape [2,1,9], the network needs [2,1,3,3]");
    refuses(edit({}, (t) => (t.get('param.0.weight')!.shape = [1, 2, 3, 3])), "tensor 'param.0.weight' has shape [1,2,3,3], the network needs [2,1,3,3]");
    refuses(edit({}, (t) => (t.get('buffer.1.running_var')!.data[1] = Number.NaN)), "tensor 'buffer.1.running_var' holds NaN at index 1");
    refuses(edit({}, (t) => (t.get('optim.v.0.weight')!.data[17] = Infinity)), "tensor 'optim.v.0.weight' holds Infinity at index 17");
    refuses(edit({}, (t) => t.set('extra', { name: 'extra', shape: [1], data: new Float32Array(1) })), "tensor 'extra' is not part of the network c2k3s1-BN-PLIF-FC4-PLIF");
    refuses(edit({ optimizer: undefined }), "tensor 'optim.m.0.weight' is not part of the network c2k3s1-BN-PLIF-FC4-PLIF");
  });

  it('names bad optimizer and RNG metadata', () => {
    const o = JSON.parse(metadata.optimizer!);
    refuses(edit({ optimizer: '5' }), "metadata field 'optimizer' is 5, not an object");
    for (const step of [-1, 1.5, 'x']) refuses(edit({ optimizer: JSON.stringify({ ...o, step }) }), `metadata field 'optimizer': step must be an integer >= 0, got ${JSON.stringify(step)}`);
    expect(loadCheckpoint(b, edit({ optimizer: JSON.stringify({ ...o, step: 7 }) })).optimizer!.step).toBe(7);
    refuses(edit({ optimizer: JSON.stringify({ ...o, config: [] }) }), "metadata field 'optimizer': config is [], not an object");
    expect(() => loadCheckpoint(b, edit({ optimizer: JSON.stringify({ ...o, config: { ...o.config, beta1: 2 } }) }))).toThrow(/^metadata field 'optimizer': /);
    expect(() => loadCheckpoint(b, edit({ rng: '[1, 2]' }))).toThrow(/^metadata field 'rng': /);
    expect(loadCheckpoint(b, edit({ rng: undefined })).rngState).toBeNull();
  });
});

describe('checkpoint contracts', () => {
  const dataStart = (bytes: Uint8Array) => 8 + Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));

  it("only '__metadata__' is a reserved tensor name: '', 'constructor' and '__proto__' round-trip", () => {
    const t = (name: string, v: number) => ({ name, shape: [1], data: Float32Array.of(v) });
    const back = decodeSafetensors(encodeSafetensors([t('', 1), t('constructor', 2), t('__proto__', 3)], {})).tensors;
    expect([...back.keys()]).toEqual(['', 'constructor', '__proto__']);
    expect([back.get('')!.data[0], back.get('constructor')!.data[0], back.get('__proto__')!.data[0]]).toEqual([1, 2, 3]);
  });

  // a big-endian host writes through DataView.setFloat32, which quiets a signalling NaN
  const littleEndianHost = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
  it.runIf(littleEndianHost)("on a little-endian host the writer copies each float32's bits verbatim, a signalling NaN's too, from a subarray at any offset", () => {
    const data = new Float32Array(4);
    new Uint32Array(data.buffer).set([0x3fc00000, 0x7f800001, 0xffc12345, 0x80000000]); // 1.5, sNaN, qNaN with payload, -0
    const bytes = encodeSafetensors([{ name: 'w', shape: [3], data: data.subarray(1) }], {});
    expect(Array.from(new Uint32Array(bytes.slice(dataStart(bytes)).buffer))).toEqual([0x7f800001, 0xffc12345, 0x80000000]);
  });

  it("a big-endian host's path (value by value through a DataView) writes the same little-endian bytes, at any offset, from a subarray", () => {
    const data = Float32Array.of(9, 1.5, -0, Number.MIN_VALUE, 3e38, 0.1, -7, 2 ** -20);
    const src = data.subarray(1);
    const fast = new Uint8Array(40).fill(0xaa);
    const portable = new Uint8Array(40).fill(0xaa);
    writeFloat32LEInto(fast, 6, src, true);
    writeFloat32LEInto(portable.subarray(2), 4, src, false);
    if (littleEndianHost) expect(portable).toEqual(fast);
    const dv = new DataView(portable.buffer, 6);
    expect(Array.from({ length: 7 }, (_, i) => dv.getFloat32(4 * i, true))).toEqual(Array.from(src));
    expect([...portable.subarray(0, 6), ...portable.subarray(34)]).toEqual(new Array(12).fill(0xaa)); // nothing outside
  });

  it('the reader refuses a header that is not UTF-8, even inside a JSON string', () => {
    const bytes = file({ __metadata__: { a: 'X' } });
    bytes[bytes.indexOf(0x58)] = 0xff; // the X
    expect(() => decodeSafetensors(bytes)).toThrow(/^not a safetensors file: the header is not JSON \(.+\)$/);
  });

  it("a saved optimizer state names its kind, 'adam'; the file names its format, plif-snn/1", () => {
    const { bytes } = small();
    expect(decodeSafetensors(bytes).metadata.format).toBe('plif-snn/1');
    expect(JSON.parse(decodeSafetensors(bytes).metadata.optimizer!)).toMatchObject({ kind: 'adam', step: 0 });
  });

  it('a null config, optimizer or optimizer config is named as not an object', () => {
    expect(() => checkpointConfig({ config: 'null' })).toThrow(new CheckpointError("metadata field 'config': null is not an object"));
    const { b, bytes } = small();
    const o = JSON.parse(decodeSafetensors(bytes).metadata.optimizer!);
    expect(() => loadCheckpoint(b, edited(bytes, { optimizer: 'null' }))).toThrow(new CheckpointError("metadata field 'optimizer' is null, not an object"));
    expect(() => loadCheckpoint(b, edited(bytes, { optimizer: JSON.stringify({ ...o, config: null }) }))).toThrow(new CheckpointError("metadata field 'optimizer': config is null, not an object"));
  });

  it('checkpointConfig accepts an input size of exactly MAX_SIZE, one more is refused; it returns the config and the layer shapes', () => {
    const meta = (w: number) => ({ config: JSON.stringify(networkConfig('FC4-PLIF', [1, 1, w], 4)) });
    const { config, layers } = checkpointConfig(meta(MAX_SIZE));
    expect(config.input).toEqual([1, 1, MAX_SIZE]);
    expect(layers.flatMap((l) => l.params.map((p) => p.shape))).toEqual([[4, MAX_SIZE], [1]]); // FC weight, PLIF a
    expect(() => checkpointConfig(meta(MAX_SIZE + 1))).toThrow(new CheckpointError(`metadata field 'config': input is [1,1,${MAX_SIZE + 1}], not [C, H, W] of positive integers`));
  });

  it("a config the network refuses is named as the checkpoint's config, with the network's reason", () => {
    const good = JSON.parse(JSON.stringify(networkConfig('FC4-PLIF', [1, 2, 2], 4)));
    let reason = '';
    try {
      networkConfig('FC4-PLIF', [1, 2, 2], 4, { T: 0 });
    } catch (e) {
      reason = (e as Error).message;
    }
    expect(reason).not.toBe('');
    expect(() => checkpointConfig({ config: JSON.stringify({ ...good, T: 0 }) })).toThrow(new CheckpointError(`metadata field 'config': ${reason}`));
  });

  it('a tensor whose shape is a prefix of the one the network needs is refused', () => {
    const { b, bytes } = small();
    const before = b.liveTensors();
    const short = edited(bytes, {}, (t) => t.set('param.0.weight', { name: 'param.0.weight', shape: [2, 1, 3], data: new Float32Array(6) }));
    expect(() => loadCheckpoint(b, short)).toThrow(new CheckpointError("tensor 'param.0.weight' has shape [2,1,3], the network needs [2,1,3,3]"));
    expect(b.liveTensors()).toBe(before); // refused before anything is allocated
  });

  it('a failed upload while loading frees what was uploaded and the network, and rethrows the failure', () => {
    const { b, net, bytes } = small();
    const before = b.liveTensors();
    let uploads = 0;
    let failAt = Infinity;
    const flaky = new Proxy(b, {
      get(target, key) {
        if (key === 'upload')
          return (data: ArrayLike<number>, shape: readonly number[]) => {
            if (++uploads === failAt) throw new Error('out of device memory');
            return target.upload(data, shape);
          };
        const v = Reflect.get(target, key) as unknown;
        return typeof v === 'function' ? v.bind(target) : v;
      },
    }) as Backend;
    const ok = loadCheckpoint(flaky, bytes);
    const total = uploads;
    ok.net.dispose();
    for (const t of [...ok.optimizer!.m, ...ok.optimizer!.v]) b.dispose(t);
    expect(b.liveTensors()).toBe(before);
    // the network's initial values, then the loaded params and buffers, Adam's m and v: fail at each in turn
    expect(total).toBeGreaterThanOrEqual(net.params().length * 3 + net.buffers().length);
    for (let at = 1; at <= total; at++) {
      uploads = 0;
      failAt = at;
      expect(() => loadCheckpoint(flaky, bytes)).toThrow(new Error('out of device memory'));
      expect(uploads).toBe(at);
      expect(b.liveTensors(), `upload ${at} of ${total} failed`).toBe(before);
    }
  });
});
