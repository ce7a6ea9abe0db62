import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatStructure, parseStructure, StructureSyntaxError, type LayerSpec } from '../../core/network/parser.js';
import { PRESETS, presetByName, withChannels } from '../../core/network/presets.js';

const kinds = (s: string) => parseStructure(s).map((l) => (l.kind === 'neuron' ? l.neuron : l.kind));

describe('structure strings of Table S1', () => {
  it('parses the *MNIST network', () => {
    const l = parseStructure('{c128k3s1-BN-PLIF-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10');
    expect(l).toHaveLength(15);
    expect(l[0]).toEqual({ kind: 'conv', channels: 128, kernel: 3, stride: 1, padding: 1 });
    expect(l[3]).toEqual({ kind: 'maxpool', kernel: 2, stride: 2 });
    expect(l[8]).toEqual({ kind: 'dropout', p: 0.5 });
    expect(l[9]).toEqual({ kind: 'fc', features: 2048 });
    expect(l[14]).toEqual({ kind: 'avgpool', kernel: 10, stride: 10 });
  });

  it('expands the nested CIFAR-10 form', () => {
    const k = kinds('{{c256k3s1-BN-PLIF}*3-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10');
    const block = ['conv', 'bn', 'plif', 'conv', 'bn', 'plif', 'conv', 'bn', 'plif', 'maxpool'];
    expect(k).toEqual([...block, ...block, 'dropout', 'fc', 'plif', 'dropout', 'fc', 'plif', 'avgpool']);
  });

  it('accepts LIF, IF, APk2s2, explicit padding, DP with a probability, spaces, lower case', () => {
    expect(kinds('c8k5s2p0-LIF-APk2s2-IF-dp0.2-fc10-plif')).toEqual(['conv', 'lif', 'avgpool', 'if', 'dropout', 'fc', 'plif']);
    expect(parseStructure('c8k5s2p0')[0]).toEqual({ kind: 'conv', channels: 8, kernel: 5, stride: 2, padding: 0 });
    expect(parseStructure('DP0.2')[0]).toEqual({ kind: 'dropout', p: 0.2 });
    expect(parseStructure(' { c4k3s1 - BN } * 2 ')).toHaveLength(4);
  });

  const errorAt = (s: string, pos: number, re: RegExp) => {
    let err: unknown;
    try {
      parseStructure(s);
    } catch (e) {
      err = e;
    }
    expect(err, s).toBeInstanceOf(StructureSyntaxError);
    const e = err as StructureSyntaxError;
    expect(e.position, `${s}: ${e.message}`).toBe(pos);
    expect(e.message).toMatch(re);
    const lines = e.message.split('\n');
    expect(lines[1]).toBe(`  ${s}`);
    expect(lines[2]).toBe(`  ${' '.repeat(pos)}^`);
  };

  it('points at the offending token with its position and a caret', () => {
    errorAt('{c128k3s1-BN-PLIX-MPk2s2}*2', 13, /unknown layer token 'PLIX'/);
    errorAt('c128k3s1-BN-', 12, /end of the string/);
    errorAt('{c128k3s1-BN', 0, /unclosed/);
    errorAt('c128k3s1-BN}', 11, /unmatched/);
    errorAt('{c128k3s1}*', 11, /repeat count/);
    errorAt('{c128k3s1}*0', 11, /positive integer/);
    errorAt('c0k3s1', 0, /out channels/);
    errorAt('FC10-DP1.5', 5, /dropout probability/);
    errorAt('FC10--PLIF', 5, /unexpected character '-'/);
    errorAt('FC10 PLIF', 5, /expected '-'/);
    errorAt('MPk2', 0, /unknown layer token/);
  });

  it('format(parse(s)) round-trips random layer lists', () => {
    const layer: fc.Arbitrary<LayerSpec> = fc.oneof(
      fc.record({ kind: fc.constant('conv' as const), channels: fc.integer({ min: 1, max: 512 }), kernel: fc.integer({ min: 1, max: 7 }), stride: fc.integer({ min: 1, max: 3 }), padding: fc.integer({ min: 0, max: 3 }) }),
      fc.constant({ kind: 'bn' as const }),
      fc.record({ kind: fc.constant('neuron' as const), neuron: fc.constantFrom('plif' as const, 'lif' as const, 'if' as const) }),
      fc.record({ kind: fc.constantFrom('maxpool' as const, 'avgpool' as const), kernel: fc.integer({ min: 1, max: 10 }), stride: fc.integer({ min: 1, max: 10 }) }),
      fc.record({ kind: fc.constant('dropout' as const), p: fc.constantFrom(0, 0.1, 0.25, 0.5, 0.75) }),
      fc.record({ kind: fc.constant('fc' as const), features: fc.integer({ min: 1, max: 4096 }) }),
    );
    fc.assert(
      fc.property(fc.array(layer, { minLength: 1, maxLength: 12 }), (ls) => {
        expect(parseStructure(formatStructure(ls))).toEqual(ls);
      }),
      { numRuns: 200 },
    );
  });

  it('a repeated group equals its expansion', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), (n, m) => {
        const inner = `{c4k3s1-BN-PLIF}*${m}-MPk2s2`;
        expect(parseStructure(`{${inner}}*${n}`)).toEqual(parseStructure(Array(n).fill(Array(m).fill('c4k3s1-BN-PLIF').join('-') + '-MPk2s2').join('-')));
      }),
      { numRuns: 100 },
    );
  });
});

describe('presets', () => {
  it('hold Table S1 exactly', () => {
    const mnist = '{c128k3s1-BN-PLIF-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10';
    expect(PRESETS.mnist!.structure).toBe(mnist);
    expect(PRESETS['fashion-mnist']!.structure).toBe(mnist);
    expect(PRESETS.nmnist!.structure).toBe(mnist);
    expect(PRESETS.cifar10!.structure).toBe('{{c256k3s1-BN-PLIF}*3-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10');
    expect(PRESETS.cifar10dvs!.structure).toBe('{c128k3s1-BN-PLIF-MPk2s2}*4-DP-FC512-PLIF-DP-FC100-PLIF-APk10s10');
    expect(PRESETS.dvs128!.structure).toBe('{c128k3s1-BN-PLIF-MPk2s2}*5-DP-FC512-PLIF-DP-FC110-PLIF-APk10s10');
    expect([PRESETS.mnist!.input, PRESETS.cifar10!.input, PRESETS.nmnist!.input, PRESETS.cifar10dvs!.input, PRESETS.dvs128!.input]).toEqual([
      [1, 28, 28],
      [3, 32, 32],
      [2, 34, 34],
      [2, 128, 128],
      [2, 128, 128],
    ]);
    expect([PRESETS.mnist!.T, PRESETS.nmnist!.T, PRESETS.cifar10dvs!.T, PRESETS.dvs128!.T]).toEqual([8, 10, 20, 20]);
    expect(PRESETS.dvs128!.classes).toBe(11);
    // the CPU-sized preset (not in the paper): *MNIST structure, 16 channels, FC128, dropout 0.2, T = 4
    expect(PRESETS['fmnist-small']).toMatchObject({ structure: '{c16k3s1-BN-PLIF-MPk2s2}*2-DP0.2-FC128-PLIF-DP0.2-FC100-PLIF-APk10s10', input: [1, 28, 28], T: 4, static: true });
  });

  it('resolve aliases and reject unknown names; withChannels swaps conv widths', () => {
    expect(presetByName('FMNIST').name).toBe('fashion-mnist');
    expect(() => presetByName('imagenet')).toThrow(/unknown preset 'imagenet'/);
    expect(withChannels(PRESETS.cifar10!.structure, 32)).toBe('{{c32k3s1-BN-PLIF}*3-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10');
  });
});
