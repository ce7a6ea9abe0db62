// The networks of Table S1 (supplementary) for the paper's six datasets, plus a CPU-sized preset.
// Input shapes: [C, H, W] per step; `static` inputs (images) feed the same frame at every step, event
// datasets feed T frames. T as in Supp. 5: 8 static, 10 N-MNIST, 20 CIFAR10-DVS and DVS128 Gesture.

export interface Preset {
  name: string;
  structure: string;
  input: readonly [number, number, number];
  classes: number;
  T: number;
  static: boolean;
  note?: string;
}

const MNIST = '{c128k3s1-BN-PLIF-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10';

export const PRESETS: Readonly<Record<string, Preset>> = Object.freeze({
  mnist: { name: 'mnist', structure: MNIST, input: [1, 28, 28], classes: 10, T: 8, static: true },
  'fashion-mnist': { name: 'fashion-mnist', structure: MNIST, input: [1, 28, 28], classes: 10, T: 8, static: true },
  cifar10: {
    name: 'cifar10',
    structure: '{{c256k3s1-BN-PLIF}*3-MPk2s2}*2-DP-FC2048-PLIF-DP-FC100-PLIF-APk10s10',
    input: [3, 32, 32],
    classes: 10,
    T: 8,
    static: true,
  },
  nmnist: { name: 'nmnist', structure: MNIST, input: [2, 34, 34], classes: 10, T: 10, static: false },
  cifar10dvs: {
    name: 'cifar10dvs',
    structure: '{c128k3s1-BN-PLIF-MPk2s2}*4-DP-FC512-PLIF-DP-FC100-PLIF-APk10s10',
    input: [2, 128, 128],
    classes: 10,
    T: 20,
    static: false,
  },
  dvs128: {
    name: 'dvs128',
    structure: '{c128k3s1-BN-PLIF-MPk2s2}*5-DP-FC512-PLIF-DP-FC110-PLIF-APk10s10',
    input: [2, 128, 128],
    classes: 11,
    T: 20,
    static: false,
  },
  // CPU-sized Fashion-MNIST network (not in the paper): the *MNIST structure with 16 channels, FC128,
  // dropout p = 0.2 (one epoch is trained, not 1024) and T = 4. Measured on real Fashion-MNIST: one epoch
  // of the 60000 training images = 644 CPU-seconds (93 samples per CPU-second) + 29 s for the 10000 test
  // images, 87.7% test accuracy after that epoch (docs/networks.md).
  'fmnist-small': {
    name: 'fmnist-small',
    structure: '{c16k3s1-BN-PLIF-MPk2s2}*2-DP0.2-FC128-PLIF-DP0.2-FC100-PLIF-APk10s10',
    input: [1, 28, 28],
    classes: 10,
    T: 4,
    static: true,
    note: 'CPU-sized *MNIST network (16 channels, FC128, dropout 0.2, T = 4), not from the paper',
  },
});

/** Other names of presets, accepted by presetByName (case-insensitive, like the names). The one list. */
export const PRESET_ALIASES: Readonly<Record<string, string>> = Object.freeze({
  fmnist: 'fashion-mnist',
  fashionmnist: 'fashion-mnist',
  'n-mnist': 'nmnist',
  'cifar10-dvs': 'cifar10dvs',
  'dvs128-gesture': 'dvs128',
  dvsgesture: 'dvs128',
});

/** The preset of a name or alias, in any case ('FMNIST-SMALL', 'n-mnist'). */
export function presetByName(name: string): Preset {
  const lower = String(name).toLowerCase();
  const key = Object.hasOwn(PRESET_ALIASES, lower) ? PRESET_ALIASES[lower]! : lower;
  const p = Object.hasOwn(PRESETS, key) ? PRESETS[key] : undefined;
  if (!p) throw new RangeError(`unknown preset '${name}' (known: ${Object.keys(PRESETS).join(', ')}; also ${Object.keys(PRESET_ALIASES).join(', ')})`);
  return p;
}

/** The structure with every conv's channel count replaced (bench --channels). */
export function withChannels(structure: string, channels: number): string {
  if (!Number.isInteger(channels) || channels <= 0) throw new RangeError(`channels must be a positive integer, got ${channels}`);
  return structure.replace(/c(\d+)k/gi, `c${channels}k`);
}
