// The contract that lets the kernel pool split an op over threads (kernels.ts): a kernel called on a range
// [lo, hi) of its output units writes the outputs of those units only, with exactly the values the whole
// range gives them, uses only its own part of a per-range scratch, and leaves its inputs alone; and any
// split of [0, total) into consecutive ranges gives bitwise the result of one call. Checked for every
// kernel, with the TypeScript and the WebAssembly SIMD kernels, on arrays of the shared arena.
import { describe, expect, it } from 'vitest';
import { Arena } from '../../backends/cpu/arena.js';
import { BN_SCRATCH, kernels, neuronMeta, type WasmKernels } from '../../backends/cpu/kernels.js';
import { winogradScratch } from '../../backends/cpu/conv.js';
import { instantiateKernels, loadKernelModule } from '../../backends/cpu/wasm/index.js';
import { neuronConfig } from '../../core/neuron.js';
import { Rng } from '../../core/rng.js';
import { surrogates } from '../../core/surrogates.js';

type Role = 'in' | 'out' | 'inout' | 'scratch';

interface ArraySpec {
  role: Role;
  length: number;
  /** Initial values of an input (or in/out) array; outputs and scratch start as SENTINEL. */
  init?: (i: number, rng: Rng) => number;
  /** out/inout: the output unit element i belongs to. scratch: the unit, or (per-range scratch) the part. */
  unit?: (i: number) => number;
  /** scratch sliced per range: elements of part p are [p * perPart, (p + 1) * perPart) (three parts here: part 1 has neighbours on both sides). */
  perPart?: number;
}

interface Case {
  name: string;
  kernel: string;
  num: number[];
  units: number;
  arrays: ArraySpec[];
  meta?: unknown;
}

const spikes = (_i: number, rng: Rng) => (rng.uniform() < 0.4 ? 0 : rng.uniform() < 0.5 ? 1 : rng.range(-1, 2));
const dense = (_i: number, rng: Rng) => rng.range(-1, 1);
const input = (length: number, init = dense): ArraySpec => ({ role: 'in', length, init });
const output = (length: number, unit: (i: number) => number): ArraySpec => ({ role: 'out', length, unit });
const perUnit = (size: number) => (i: number) => Math.floor(i / size);

function convCase(kernel: 'convForward' | 'convInputGrad' | 'convWeightGrad', B: number, C: number, H: number, O: number, K: number, stride: number, pad: number): Case {
  const W = H;
  const Ho = Math.floor((H + 2 * pad - K) / stride) + 1;
  const Wo = Ho;
  const P = Ho * Wo;
  const num = [B, C, H, W, O, K, stride, pad, Ho, Wo];
  const name = `${kernel} (C ${C}, O ${O}, K ${K}, stride ${stride}, pad ${pad})`;
  if (kernel === 'convForward') {
    const lists = P + 1 + 2 * C * H * W * K * K; // the SIMD kernel's per-pixel lists
    return { name, kernel, num: [...num, lists], units: B, arrays: [input(B * C * H * W, spikes), input(C * K * K * O), output(B * O * P, perUnit(O * P)), { role: 'scratch', length: 3 * (P * O + lists), perPart: P * O + lists }] };
  }
  if (kernel === 'convWeightGrad') {
    const list = 3 * B * H * W; // the SIMD kernel's nonzero list: 12 bytes per input pixel of every image
    return { name, kernel, num: [...num, list], units: C * K * K, arrays: [input(B * C * H * W, spikes), input(B * P * O), output(C * K * K * O, perUnit(O)), { role: 'scratch', length: 3 * list, perPart: list }] };
  }
  return { name, kernel, num, units: B, arrays: [input(B * P * O), input(K * K * O * C), output(B * C * H * W, perUnit(C * H * W)), { role: 'scratch', length: 3 * H * W * C, perPart: H * W * C }] };
}

/** convInputGrad by Winograd (num[10] = 1; with SIMD it reads u [16][O][C], and its scratch holds v and m after the image). */
function winogradCase(B: number, C: number, H: number, O: number): Case {
  const d = { B, C, H, W: H, O, K: 3, stride: 1, pad: 1, Ho: H, Wo: H };
  const per = H * H * C + winogradScratch(d);
  return {
    name: `convInputGrad by Winograd (C ${C}, O ${O}, ${H}×${H})`,
    kernel: 'convInputGrad',
    num: [B, C, H, H, O, 3, 1, 1, H, H, 1],
    units: B,
    arrays: [input(B * H * H * O), input(9 * O * C), output(B * C * H * H, perUnit(C * H * H)), { role: 'scratch', length: 3 * per, perPart: per }, input(16 * O * C)],
  };
}

function poolCases(): Case[] {
  const [BC, H, W, K, s] = [5, 5, 6, 2, 2];
  const [Ho, Wo] = [Math.floor((H - K) / s) + 1, Math.floor((W - K) / s) + 1];
  const ties = (_i: number, rng: Rng) => Math.floor(rng.uniform() * 3); // many tied maxima
  const num = [H, W, Ho, Wo, K, s];
  const plane = perUnit(H * W);
  const outPlane = perUnit(Ho * Wo);
  return [
    { name: 'maxPool', kernel: 'maxPool', num, units: BC, arrays: [input(BC * H * W, ties), output(BC * Ho * Wo, outPlane), output(BC * Ho * Wo, outPlane)] },
    // rows of 9 outputs: two groups of four lanes (SIMD) and a tail
    { name: 'maxPool (rows of 9)', kernel: 'maxPool', num: [5, 18, 2, 9, 2, 2], units: BC, arrays: [input(BC * 5 * 18, ties), output(BC * 18, perUnit(18)), output(BC * 18, perUnit(18))] },
    {
      name: 'maxPool with tie draws',
      kernel: 'maxPool',
      num,
      units: BC,
      arrays: [input(BC * H * W, ties), output(BC * Ho * Wo, outPlane), output(BC * Ho * Wo, outPlane), input(BC * Ho * Wo, (_i, rng) => Math.floor(rng.uniform() * 1000))],
    },
    { name: 'maxPoolBackward', kernel: 'maxPoolBackward', num, units: BC, arrays: [input(BC * Ho * Wo), input(BC * Ho * Wo, (_i, rng) => Math.floor(rng.uniform() * K * K)), output(BC * H * W, plane)] },
    { name: 'maxPoolBackward (rows of 9)', kernel: 'maxPoolBackward', num: [5, 18, 2, 9, 2, 2], units: BC, arrays: [input(BC * 18), input(BC * 18, (_i, rng) => Math.floor(rng.uniform() * 4)), output(BC * 5 * 18, perUnit(5 * 18))] },
    { name: 'avgPool (overlapping windows)', kernel: 'avgPool', num: [H, W, H - 1, W - 1, 2, 1], units: BC, arrays: [input(BC * H * W), output(BC * (H - 1) * (W - 1), perUnit((H - 1) * (W - 1)))] },
    { name: 'avgPoolBackward (overlapping windows)', kernel: 'avgPoolBackward', num: [H, W, H - 1, W - 1, 2, 1], units: BC, arrays: [input(BC * (H - 1) * (W - 1)), output(BC * H * W, plane)] },
  ];
}

function neuronCases(): Case[] {
  const T = 2;
  const BLOCK = 64; // neurons per block (cpuBackend's neuronBlock)
  const n = 2 * BLOCK + 37;
  const blocks = 3;
  const meta = neuronMeta(neuronConfig({ kind: 'plif', tau: 2, vReset: 0, decayInput: true, detachReset: false, surrogate: surrogates.atan(2) }));
  const block = (i: number) => Math.floor((i % n) / BLOCK);
  const trace = (i: number, rng: Rng) => rng.range(-0.5, 1.5);
  const binary = (_i: number, rng: Rng) => (rng.uniform() < 0.3 ? 1 : 0);
  return [
    { name: 'neuronForward', kernel: 'neuronForward', num: [T, n, 0.3, BLOCK], units: blocks, meta, arrays: [input(T * n, (_i, rng) => rng.range(-1, 3)), output(T * n, block), output(T * n, block), output(T * n, block)] },
    {
      name: 'neuronBackward',
      kernel: 'neuronBackward',
      num: [T, n, 0.3, BLOCK],
      units: blocks,
      meta,
      arrays: [
        input(T * n, (_i, rng) => rng.range(-1, 3)),
        input(T * n, binary),
        input(T * n, trace),
        input(T * n, trace),
        input(T * n),
        output(T * n, block),
        // gH: float64 [n], the backward's per-neuron scratch
        { role: 'scratch', length: 2 * n, unit: (i) => Math.floor(Math.floor(i / 2) / BLOCK) },
        // dL/dk of each block: float64 [blocks]
        output(2 * blocks, perUnit(2)),
      ],
    },
  ];
}

function cases(): Case[] {
  const [B, C, S] = [3, 4, 5];
  // the SIMD kernels' per-channel float64 statistics (4 per channel), then k (1 per channel)
  const bnScratch: ArraySpec = { role: 'scratch', length: BN_SCRATCH * C, unit: (i) => (i < 8 * C ? Math.floor(i / 8) : Math.floor((i - 8 * C) / 2)) };
  const channel = (i: number) => Math.floor(i / S) % C;
  const same = (i: number) => i;
  const [lB, lI, lO, M] = [11, 300, 5, 3];
  return [
    convCase('convForward', 4, 2, 5, 3, 3, 1, 1),
    convCase('convForward', 3, 2, 6, 3, 3, 2, 1),
    convCase('convWeightGrad', 2, 4, 5, 3, 3, 1, 1),
    convCase('convWeightGrad', 2, 3, 6, 2, 3, 2, 1),
    convCase('convWeightGrad', 3, 2, 6, 37, 3, 1, 1), // blocks of 32 and 4 columns and a scalar tail
    convCase('convInputGrad', 4, 2, 5, 11, 3, 1, 1),
    convCase('convInputGrad', 3, 3, 6, 3, 3, 2, 1),
    winogradCase(4, 4, 5, 8),
    { name: 'transposeImages', kernel: 'transposeImages', num: [3, 7], units: 4, arrays: [input(4 * 21), output(4 * 21, perUnit(21))] },
    { name: 'transpose (more than 64 rows)', kernel: 'transpose', num: [70, 5], units: 5, arrays: [input(350), output(350, perUnit(70))] },
    { name: 'linearForward (by columns)', kernel: 'linearForward', num: [lI, lO, lB], units: lO, arrays: [input(lB * lI, spikes), input(lI * lO), output(lB * lO, (i) => i % lO)] },
    { name: 'linearWeightGrad', kernel: 'linearWeightGrad', num: [lB, 7, lO], units: 7, arrays: [input(lB * 7, spikes), input(lB * lO), output(7 * lO, perUnit(lO))] },
    {
      name: 'linearInputGrad (by columns; blocks of 256 features, groups of 4 rows)',
      kernel: 'linearInputGrad',
      num: [lB, lO, lI, 0],
      units: lI,
      arrays: [input(lB * lO), input(lO * lI), input(lI * lO), output(lB * lI, (i) => i % lI)],
    },
    {
      name: 'linearInputGrad with a dropout mask (by columns)',
      kernel: 'linearInputGrad',
      num: [lB, lO, lI, M],
      units: lI,
      // column 0 masked in every row: a row that went one entry too far would zero the next row's first
      arrays: [input(lB * lO), input(lO * lI), input(lI * lO), output(lB * lI, (i) => i % lI), input(M * lI, (i, rng) => (i % lI === 0 || rng.uniform() < 0.5 ? 0 : 2))],
    },
    ...[1, 0].map(
      (training): Case => ({
        name: `bnForward (${training ? 'training' : 'evaluation'})`,
        kernel: 'bnForward',
        num: [B, C, S, training, 0.25, 1e-3],
        units: C,
        arrays: [
          input(B * C * S),
          input(C),
          input(C),
          { role: 'inout', length: C, init: dense, unit: same },
          { role: 'inout', length: C, init: (_i, rng) => rng.range(0.5, 2), unit: same },
          output(B * C * S, channel),
          output(C, same),
          output(C, same),
          bnScratch,
        ],
      }),
    ),
    { name: 'bnBackward', kernel: 'bnBackward', num: [B, C, S, 1e-3], units: C, arrays: [input(B * C * S), input(C), input(B * C * S), output(B * C * S, channel), output(C, same), output(C, same), bnScratch] },
    ...neuronCases(),
    ...poolCases(),
    { name: 'dropout', kernel: 'dropout', num: [6], units: 18, arrays: [input(18), input(6, (_i, rng) => (rng.uniform() < 0.5 ? 0 : 2)), output(18, same)] },
    {
      name: 'adam',
      kernel: 'adam',
      num: [0.01, 0.9, 0.999, 1e-8, 0.02, 0.3],
      units: 9,
      arrays: [
        { role: 'inout', length: 9, init: dense, unit: same },
        input(9),
        { role: 'inout', length: 9, init: dense, unit: same },
        { role: 'inout', length: 9, init: (_i, rng) => rng.range(0, 1), unit: same },
      ],
    },
    // an int32 count per range (per part), summed by the backend: the scratch role checks that a range writes only its own
    { name: 'countOutside', kernel: 'countOutside', num: [0.5], units: 11, arrays: [input(11, spikes), { role: 'scratch', length: 3, perPart: 1 }] },
    { name: 'sumT', kernel: 'sumT', num: [3, 7], units: 7, arrays: [input(21), output(7, same)] },
    { name: 'repeatT', kernel: 'repeatT', num: [3, 7], units: 7, arrays: [input(7), output(21, (i) => i % 7)] },
  ];
}

/** The initial value of outputs and scratch: finite, so that an accumulation into it shows (NaN would absorb it). */
const SENTINEL = -777.25;

/** The arrays of a case in a fresh arena, from the same seed each time. */
function build(c: Case, arena: Arena): Float32Array[] {
  const rng = Rng.seeded(7);
  return c.arrays.map((a) => {
    const arr = arena.alloc(a.length)!;
    for (let i = 0; i < a.length; i++) arr[i] = a.init ? a.init(i, rng) : SENTINEL;
    return arr;
  });
}

const MODES = [
  ['TypeScript kernels', false],
  ['SIMD kernels', true],
] as const;

describe.each(MODES)('kernels over a range of their outputs (%s)', (_mode, simd) => {
  const setup = () => {
    const arena = new Arena(1);
    const wasm: WasmKernels | null = simd ? instantiateKernels(loadKernelModule().module!, arena.memory) : null;
    return { arena, wasm };
  };

  it('a per-thread scratch too small for the part it is asked for is refused; one exactly its size is not', () => {
    const { wasm } = setup();
    // convForward: per part, Ho*Wo*O floats of yT (then num[10] floats of lists; none here)
    const [B, C, H, O] = [1, 1, 3, 2];
    const num = [B, C, H, H, O, 1, 1, 0, H, H, 0];
    const per = H * H * O;
    const arrays = (scratch: number) => [new Float32Array(B * C * H * H).fill(1), new Float32Array(C * O).fill(1), new Float32Array(B * O * H * H), new Float32Array(scratch)];
    expect(() => kernels.convForward!(arrays(2 * per - 1), num, 0, 1, 1, null, null)).toThrow(/scratch of 35 floats too small for part 1 of 18 floats/);
    expect(() => kernels.convForward!(arrays(2 * per), num, 0, 1, 1, null, null)).not.toThrow();
    // the SIMD kernel's share of the same scratch: Ho*Wo*O + num[10] floats a part
    if (wasm) {
      const lists = 8;
      expect(() => kernels.convForward!(arrays(2 * (per + lists) - 1), [...num.slice(0, 10), lists], 0, 1, 1, null, null)).toThrow(/too small for part 1/);
    }
  });

  it('every kernel is covered here', () => {
    const covered = new Set(cases().map((c) => c.kernel));
    expect(Object.keys(kernels).filter((k) => !covered.has(k))).toEqual([]);
  });

  it.each(cases().map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const { arena, wasm } = setup();
    const run = (arrays: Float32Array[], lo: number, hi: number, part: number) => kernels[c.kernel]!(arrays, c.num, lo, hi, part, c.meta ?? null, wasm);
    const whole = build(c, arena);
    run(whole, 0, c.units, 0);
    // every output written, with finite values
    c.arrays.forEach((a, k) => {
      if (a.role === 'out' || a.role === 'inout')
        for (let i = 0; i < a.length; i++) if (!Number.isFinite(whole[k]![i]) || whole[k]![i] === SENTINEL) expect.fail(`array ${k}, element ${i}: ${whole[k]![i]} after the whole range`);
    });

    // outputs overwritten: the same bits whatever the output arrays held before
    const other = build(c, arena);
    c.arrays.forEach((a, k) => {
      if (a.role === 'out') other[k]!.fill(-1234.5);
    });
    run(other, 0, c.units, 0);
    c.arrays.forEach((a, k) => {
      if (a.role === 'out') for (let i = 0; i < a.length; i++) if (!Object.is(other[k]![i], whole[k]![i])) expect.fail(`array ${k}, element ${i}: ${other[k]![i]} from outputs holding -1234.5, ${whole[k]![i]} from the sentinel`);
    });

    // one range in the middle, as part 1 of the op
    const [lo, hi] = [1, c.units - 1];
    expect(lo).toBeLessThan(hi);
    const start = build(c, arena);
    const part = build(c, arena);
    run(part, lo, hi, 1);
    c.arrays.forEach((a, k) => {
      for (let i = 0; i < a.length; i++) {
        const got = part[k]![i]!;
        const before = start[k]![i]!;
        const where = `array ${k} (${a.role}), element ${i}`;
        if (a.role === 'in') {
          if (!Object.is(got, before)) expect.fail(`${where}: an input was changed`);
        } else if (a.role === 'scratch') {
          const u = a.perPart ? Math.floor(i / a.perPart) : a.unit!(i);
          const mine = a.perPart ? u === 1 : u >= lo && u < hi;
          if (!mine && !Object.is(got, before)) expect.fail(`${where}: scratch outside the range's own part was written`);
        } else {
          const u = a.unit!(i);
          if (u >= lo && u < hi) {
            if (!Object.is(got, whole[k]![i])) expect.fail(`${where} (unit ${u}, inside [${lo}, ${hi})): ${got}, the whole range gives ${whole[k]![i]}`);
          } else if (!Object.is(got, before)) expect.fail(`${where} (unit ${u}, outside [${lo}, ${hi})): written (${got})`);
        }
      }
    });

    // any split into consecutive ranges: bitwise the whole range's outputs
    const split = build(c, arena);
    const cuts = [0, 1, Math.max(2, c.units - 1), c.units];
    for (let p = 0; p + 1 < cuts.length; p++) if (cuts[p]! < cuts[p + 1]!) run(split, cuts[p]!, cuts[p + 1]!, p % 2);
    c.arrays.forEach((a, k) => {
      if (a.role === 'out' || a.role === 'inout') for (let i = 0; i < a.length; i++) if (!Object.is(split[k]![i], whole[k]![i])) expect.fail(`array ${k}, element ${i}: ${split[k]![i]} split, ${whole[k]![i]} whole`);
    });
  });
});
