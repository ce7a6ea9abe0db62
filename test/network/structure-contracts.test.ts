// Contracts of the structure notation (core/network/parser.ts), the shapes worked out from it
// (core/network/shapes.ts) and the presets (core/network/presets.ts) that the other tests leave open: the
// exact refusals (message, position, error class), the exact limits (the limit accepted, one more refused),
// tokens anchored at both ends, multi-digit sizes. (Each of these was a surviving mutant of npm run mutate.)
import { describe, expect, it } from 'vitest';
import { formatStructure, MAX_DEPTH, MAX_LAYERS, MAX_REPEAT, MAX_SIZE, parseStructure, StructureSyntaxError } from '../../core/network/parser.js';
import { PRESET_ALIASES, presetByName, PRESETS, withChannels } from '../../core/network/presets.js';
import { networkShapes, type ShapeConfig } from '../../core/network/shapes.js';

const thrown = (f: () => unknown): Error => {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a refusal, but it was accepted');
};

/** parseStructure(src) throws a StructureSyntaxError with exactly this reason at this position. */
const refused = (src: string, position: number, reason: string) => {
  const e = thrown(() => parseStructure(src));
  expect(e, src).toBeInstanceOf(StructureSyntaxError);
  const { name, message } = e as StructureSyntaxError;
  expect({ name, message }, src).toEqual({ name: 'StructureSyntaxError', message: `${reason} at position ${position}\n  ${src}\n  ${' '.repeat(position)}^` });
};
const unknown = (tok: string) => `unknown layer token '${tok}' (expected cNkKsS[pP], BN, PLIF, LIF, IF, MPkKsS, APkKsS, DP[p], FCn)`;
const kinds = (s: string) => parseStructure(s).map((l) => (l.kind === 'neuron' ? l.neuron : l.kind));

describe('parseStructure: tokens', () => {
  it('a StructureSyntaxError is named StructureSyntaxError', () => {
    expect(thrown(() => parseStructure('BNX')).name).toBe('StructureSyntaxError');
  });

  it('tokens are anchored at both ends: junk before or after a valid token is an unknown token', () => {
    for (const tok of ['xbn', 'bnx', 'xplif', 'plifx', 'xlif', 'lifx', 'xif', 'ifx', 'xc2k3s1', 'c2k3s1x', 'xMPk2s2', 'MPk2s2x', 'xDP0.5', 'DP0.5x', 'xfc10', 'fc10x']) {
      refused(`BN-${tok}`, 3, unknown(tok));
    }
  });

  it('sizes in tokens take several digits (kernel 11, stride 12, padding 10)', () => {
    expect(parseStructure('c12k11s12p10-MPk11s12')).toEqual([
      { kind: 'conv', channels: 12, kernel: 11, stride: 12, padding: 10 },
      { kind: 'maxpool', kernel: 11, stride: 12 },
    ]);
  });

  it('a zero size is refused with the name of the field: kernel size, stride, out features', () => {
    refused('c2k0s1', 0, "kernel size must be a positive integer, got '0'");
    refused('BN-c2k3s0', 3, "stride must be a positive integer, got '0'");
    refused('MPk0s2', 0, "kernel size must be a positive integer, got '0'");
    refused('APk2s0', 0, "stride must be a positive integer, got '0'");
    refused('FC0', 0, "out features must be a positive integer, got '0'");
  });

  it(`a size may be ${MAX_SIZE} but not ${MAX_SIZE + 1}; a padding may be 0 up to ${MAX_SIZE}`, () => {
    expect(parseStructure(`c${MAX_SIZE}k1s1p${MAX_SIZE}`)).toEqual([{ kind: 'conv', channels: MAX_SIZE, kernel: 1, stride: 1, padding: MAX_SIZE }]);
    expect(parseStructure('c1k1s1p0')).toEqual([{ kind: 'conv', channels: 1, kernel: 1, stride: 1, padding: 0 }]);
    refused('c1000001k1s1', 0, 'out channels 1000001 exceeds 1000000');
    refused('FC1000001', 0, 'out features 1000001 exceeds 1000000');
    refused('c1k1s1p1000001', 0, 'padding 1000001 exceeds 1000000');
  });

  it('a padding beyond the safe integers is "not an integer >= 0", not "exceeds"', () => {
    refused('c1k1s1p99999999999999999999', 0, "padding must be an integer >= 0, got '99999999999999999999'");
  });

  it('a dropout probability is in [0, 1): DP0 accepted, DP1 refused; plain DP is 0.5', () => {
    expect(parseStructure('DP0-DP-DP0.99')).toEqual([
      { kind: 'dropout', p: 0 },
      { kind: 'dropout', p: 0.5 },
      { kind: 'dropout', p: 0.99 },
    ]);
    refused('DP1', 0, "dropout probability must be in [0, 1), got '1'");
    refused('DP.', 0, "dropout probability must be in [0, 1), got '.'");
  });
});

describe('parseStructure: the whole string', () => {
  it('refuses a non-string with a TypeError naming what it got', () => {
    for (const [v, what] of [
      [null, 'null'],
      [42, 'number'],
      [undefined, 'undefined'],
    ] as const) {
      const e = thrown(() => parseStructure(v as unknown as string));
      expect(e).toBeInstanceOf(TypeError);
      expect(e.message).toBe(`a structure must be a string, got ${what}`);
    }
  });

  it('a group needs no repeat count: {BN}-PLIF is BN then PLIF', () => {
    expect(kinds('{BN}-PLIF')).toEqual(['bn', 'plif']);
    expect(kinds('{BN}')).toEqual(['bn']);
  });

  it("a '*' with no count, or a zero count, is refused at the count", () => {
    refused('{BN}*', 5, "expected a repeat count after '*'");
    refused('{BN}*-PLIF', 5, "expected a repeat count after '*'");
    refused('{BN}*0', 5, "repeat count must be a positive integer, got '0'");
  });

  it(`a repeat count may be ${MAX_REPEAT} but not ${MAX_REPEAT + 1}`, () => {
    expect(parseStructure(`{BN}*${MAX_REPEAT}`)).toHaveLength(MAX_REPEAT);
    refused('{BN}*1001', 5, 'repeat count 1001 exceeds 1000');
  });

  it("inside a group, a token followed by something else than '-' or '}' is refused there (not as unclosed)", () => {
    refused('{BN BN}', 4, "expected '-' or '}', found 'B'");
  });

  it(`braces may nest ${MAX_DEPTH} deep, not ${MAX_DEPTH + 1}`, () => {
    const nest = (d: number) => '{'.repeat(d) + 'BN' + '}'.repeat(d);
    expect(parseStructure(nest(MAX_DEPTH))).toEqual([{ kind: 'bn' }]);
    refused(nest(MAX_DEPTH + 1), MAX_DEPTH, 'braces nested more than 16 deep');
  });

  it(`a sequence may have ${MAX_LAYERS} layers, not ${MAX_LAYERS + 1}, counted at the item that goes over`, () => {
    expect(parseStructure(Array(MAX_LAYERS).fill('BN').join('-'))).toHaveLength(MAX_LAYERS);
    const over = Array(MAX_LAYERS + 1).fill('BN').join('-');
    refused(over, 3 * MAX_LAYERS, 'the structure expands to 1001 layers, more than 1000');
    refused(`BN-{BN}*${MAX_LAYERS}`, 3, 'the structure expands to 1001 layers, more than 1000');
  });

  it('a group is counted by itself before it joins its sequence (count x body, not what precedes it)', () => {
    refused('BN-{BN-BN}*501', 3, 'the structure expands to 1002 layers, more than 1000');
    refused('{BN-BN}*501', 0, 'the structure expands to 1002 layers, more than 1000');
    expect(parseStructure('{BN-BN}*500')).toHaveLength(1000);
  });
});

describe('formatStructure', () => {
  it('writes dropout 0.5 as plain DP and other probabilities with their value', () => {
    expect(formatStructure([{ kind: 'dropout', p: 0.5 }, { kind: 'dropout', p: 0.2 }, { kind: 'dropout', p: 0 }])).toBe('DP-DP0.2-DP0');
  });
});

describe('networkShapes', () => {
  const cfg = (structure: string, input: number[], classes: number, more: Partial<ShapeConfig> = {}): ShapeConfig => ({ structure, input, classes, static: true, neuronKind: null, ...more });
  const rangeError = (c: ShapeConfig, message: string) => {
    const e = thrown(() => networkShapes(c));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe(message);
  };

  it('gives each layer its kind, token and shapes; the encoder ends at the first neuron', () => {
    const ls = networkShapes(cfg('c2k3s1-BN-PLIF-MPk2s2-DP-FC20-APk10s10', [1, 4, 4], 2));
    expect(ls.map((l) => [l.kind, l.token, l.outShape, l.encoder])).toEqual([
      ['conv', 'c2k3s1', [2, 4, 4], true],
      ['bn', 'BN', [2, 4, 4], true],
      ['neuron', 'PLIF', [2, 4, 4], false],
      ['maxpool', 'MPk2s2', [2, 2, 2], false],
      ['dropout', 'DP', [2, 2, 2], false],
      ['fc', 'FC20', [20], false],
      ['vote', 'APk10s10', [2], false],
    ]);
  });

  it('a static network without neurons is all encoder; one starting with a neuron has no encoder', () => {
    expect(networkShapes(cfg('FC2', [1, 2, 2], 2)).map((l) => l.encoder)).toEqual([true]);
    expect(networkShapes(cfg('PLIF-FC2', [1, 2, 2], 2)).map((l) => l.encoder)).toEqual([false, false]);
  });

  it('a conv output of 1 is accepted; of 0 in either dimension refused', () => {
    expect(networkShapes(cfg('c2k5s1p0-FC3', [1, 5, 5], 3))[0]!.outShape).toEqual([2, 1, 1]);
    rangeError(cfg('c2k5s1p0-FC3', [1, 4, 5], 3), 'layer 0 (c2k5s1p0) on input [1, 4, 5]: kernel larger than the padded input');
    rangeError(cfg('c2k5s1p0-FC3', [1, 5, 4], 3), 'layer 0 (c2k5s1p0) on input [1, 5, 4]: kernel larger than the padded input');
  });

  it('a pooling output of 1 is accepted; of 0 in either dimension refused; pooling needs [C, H, W]', () => {
    expect(networkShapes(cfg('MPk2s2-FC3', [1, 2, 2], 3))[0]!.outShape).toEqual([1, 1, 1]);
    rangeError(cfg('MPk2s2-FC3', [1, 1, 2], 3), 'layer 0 (MPk2s2) on input [1, 1, 2]: pooling window larger than the input');
    rangeError(cfg('MPk2s2-FC3', [1, 2, 1], 3), 'layer 0 (MPk2s2) on input [1, 2, 1]: pooling window larger than the input');
    rangeError(cfg('MPk2s2-FC3', [4, 4], 3), 'layer 0 (MPk2s2) on input [4, 4]: pooling needs a [C, H, W] input');
  });

  it('the voting layer is an APkMsM that divides the features', () => {
    rangeError(cfg('FC20-MPk10s10', [1, 2, 2], 2), 'layer 1 (MPk10s10) on input [20]: max pooling on features is not supported (voting uses APkMsM)');
    rangeError(cfg('FC20-APk10s5', [1, 2, 2], 2), 'layer 1 (APk10s5) on input [20]: the voting layer needs kernel = stride');
    rangeError(cfg('FC25-APk10s10', [1, 2, 2], 2), 'layer 1 (APk10s10) on input [25]: 25 features are not a multiple of 10');
  });

  it('the output must be one value per class, [classes], and the message says how to get it', () => {
    rangeError(cfg('c2k1s1', [1, 1, 1], 2), 'network output is [2, 1, 1] per step, expected [2] (one value per class; end with a voting layer APk10s10 after FC20)');
    rangeError(cfg('FC3', [1, 1, 1], 2), 'network output is [3] per step, expected [2] (one value per class; end with a voting layer APk10s10 after FC20)');
  });
});

describe('presets', () => {
  it('an unknown preset is refused with the list of names and aliases', () => {
    const e = thrown(() => presetByName('imagenet'));
    expect(e).toBeInstanceOf(RangeError);
    expect(e.message).toBe(
      "unknown preset 'imagenet' (known: mnist, fashion-mnist, cifar10, nmnist, cifar10dvs, dvs128, fmnist-small; also fmnist, fashionmnist, n-mnist, cifar10-dvs, dvs128-gesture, dvsgesture)",
    );
  });

  it('withChannels takes a positive integer: 1 accepted; 0, -1 and 1.5 refused', () => {
    expect(withChannels('c8k3s1-FC2', 1)).toBe('c1k3s1-FC2');
    for (const n of [0, -1, 1.5]) {
      const e = thrown(() => withChannels('c8k3s1-FC2', n));
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toBe(`channels must be a positive integer, got ${n}`);
    }
  });
});

describe('the presets: the networks of Table S1', () => {
  const MNIST = '{c128k3s1-BN-PLIF-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10';
  it('each dataset has the structure, input, classes, T and static flag of Table S1 and Supp. 5 under its own name', () => {
    const row = (structure: string, input: number[], classes: number, T: number, isStatic: boolean) => ({ structure, input, classes, T, static: isStatic });
    expect(Object.fromEntries(Object.entries(PRESETS).map(([k, p]) => [k, { ...row(p.structure, [...p.input], p.classes, p.T, p.static), name: p.name }]))).toEqual({
      mnist: { ...row(MNIST, [1, 28, 28], 10, 8, true), name: 'mnist' },
      'fashion-mnist': { ...row(MNIST, [1, 28, 28], 10, 8, true), name: 'fashion-mnist' },
      cifar10: { ...row('{{c256k3s1-BN-PLIF}*3-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10', [3, 32, 32], 10, 8, true), name: 'cifar10' },
      nmnist: { ...row(MNIST, [2, 34, 34], 10, 10, false), name: 'nmnist' },
      cifar10dvs: { ...row('{c128k3s1-BN-PLIF-MPk2s2}*4-DP-FC512-PLIF-DP-FC100-PLIF-APk10s10', [2, 128, 128], 10, 20, false), name: 'cifar10dvs' },
      dvs128: { ...row('{c128k3s1-BN-PLIF-MPk2s2}*5-DP-FC512-PLIF-DP-FC110-PLIF-APk10s10', [2, 128, 128], 11, 20, false), name: 'dvs128' },
      'fmnist-small': { ...row('{c16k3s1-BN-PLIF-MPk2s2}*2-DP0.2-FC128-PLIF-DP0.2-FC100-PLIF-APk10s10', [1, 28, 28], 10, 4, true), name: 'fmnist-small' },
    });
    expect(PRESETS['fmnist-small']!.note).toBe('CPU-sized *MNIST network (16 channels, FC128, dropout 0.2, T = 4), not from the paper');
    expect(Object.values(PRESETS).filter((p) => p.note !== undefined).map((p) => p.name)).toEqual(['fmnist-small']);
  });

  it('every alias names its dataset, in any case', () => {
    expect(PRESET_ALIASES).toEqual({ fmnist: 'fashion-mnist', fashionmnist: 'fashion-mnist', 'n-mnist': 'nmnist', 'cifar10-dvs': 'cifar10dvs', 'dvs128-gesture': 'dvs128', dvsgesture: 'dvs128' });
    for (const [alias, name] of Object.entries(PRESET_ALIASES)) expect(presetByName(alias.toUpperCase())).toBe(PRESETS[name]);
  });
});
