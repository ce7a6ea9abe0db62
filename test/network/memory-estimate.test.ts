// estimateMemory (core/network/shapes.ts), the figure that refuses a run before anything is allocated,
// worked out by hand for a small network in each input mode.
import { describe, expect, it } from 'vitest';
import { estimateMemory } from '../../core/network/shapes.js';

const net = { structure: 'c2k3s1-BN-PLIF-MPk2s2-FC4-PLIF', input: [1, 4, 4], classes: 4, static: true, neuronKind: 'plif' as const, T: 3 };
// parameters: conv 2*1*3*3 = 18, BN gamma and beta 2 + 2, a 1, FC 4*8 = 32, a 1: 56
// values per layer output for a batch of 2 (per step: conv and BN [2,4,4] = 32, pooling [2,2,2] = 8, FC 4),
// times what it keeps (a neuron S, H and V: 3; max pooling its argmax: 2; else 1)

describe('estimateMemory', () => {
  it('static input (direct encoder): the encoder layers once per sample, the rest at every step', () => {
    // input 1*2*16 = 32; conv 1*2*32 = 64, BN 64 (encoder); PLIF 3*2*32 = 192 (*3), MP 3*2*8 = 48 (*2),
    // FC 3*2*4 = 24, PLIF 24 (*3). activations 64 + 64 + 576 + 96 + 24 + 72 = 896; widest 192
    const train = estimateMemory(net, 2, 'train');
    expect(train.params).toBe(56);
    expect(train.bytes).toBe(4 * (4 * 56 + 2 * 32 + 896 + 2 * 192));
    expect(train.largest).toEqual({ what: 'the output of layer 2 (PLIF) [3, 2, 2, 4, 4]', values: 192 });
    // evaluation: parameters, the input twice, four of the widest activation
    expect(estimateMemory(net, 2, 'eval').bytes).toBe(4 * (56 + 2 * 32 + 4 * 192));
  });

  it('event input and spike encoders: every layer at every step, the input [T, N, ...]', () => {
    // input 3*2*16 = 96; conv 192, BN 192, PLIF 192 (*3), MP 48 (*2), FC 24, PLIF 24 (*3): 1152
    const want = { bytes: 4 * (4 * 56 + 2 * 96 + 1152 + 2 * 192), params: 56, largest: { what: 'the output of layer 0 (c2k3s1) [3, 2, 2, 4, 4]', values: 192 } };
    expect(estimateMemory({ ...net, static: false }, 2, 'train')).toEqual(want);
    expect(estimateMemory({ ...net, encoder: 'poisson' }, 2, 'train')).toEqual(want);
    expect(estimateMemory({ ...net, encoder: 'latency' }, 2, 'train')).toEqual(want);
    expect(estimateMemory({ ...net, encoder: 'direct' }, 2, 'train').bytes).toBe(4 * (4 * 56 + 2 * 32 + 896 + 2 * 192));
  });

  it('names the largest tensor: the input batch, a layer output or a parameter, the first of equals', () => {
    const pool = { structure: 'APk4s4-FC4-PLIF', input: [1, 8, 8], classes: 4, static: true, neuronKind: 'plif' as const, T: 3 };
    expect(estimateMemory(pool, 2, 'train').largest).toEqual({ what: 'the input batch [2, 1, 8, 8]', values: 128 });
    expect(estimateMemory({ ...pool, static: false }, 2, 'train').largest).toEqual({ what: 'the input batch [3, 2, 1, 8, 8]', values: 384 });
    const wide = { structure: 'FC50-PLIF-FC4-PLIF', input: [1, 4, 4], classes: 4, static: true, neuronKind: 'plif' as const, T: 3 };
    expect(estimateMemory(wide, 2, 'train').largest).toEqual({ what: 'parameter 0.weight [50, 16]', values: 800 });
    // a layer output exactly as large as the input batch does not replace it
    // (T 2, batch 4: the input, the pooling, FC and PLIF outputs all 2*4*4 = 32 values; the weight 4*4 = 16)
    const same = { structure: 'APk1s1-FC4-PLIF', input: [1, 2, 2], classes: 4, static: false, neuronKind: 'plif' as const, T: 2 };
    expect(estimateMemory(same, 4, 'train').largest).toEqual({ what: 'the input batch [2, 4, 1, 2, 2]', values: 32 });
  });
});
