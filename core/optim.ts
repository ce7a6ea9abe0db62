// Optimiser settings and the learning-rate schedule of the paper's recipe (Supp. 2/5): Adam
// (lr 1e-3, betas 0.9/0.999, eps 1e-8) and cosine annealing with T_max = 64 stepped per epoch.
// The Adam update itself is a backend op (Backend.adam); the state lives in core/network/train.ts.
import type { AdamParams } from './backend.js';
import { PAPER_DEFAULTS } from './defaults.js';

export interface AdamConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
}

const { lr, beta1, beta2, eps } = PAPER_DEFAULTS;
export const DEFAULT_ADAM: Readonly<AdamConfig> = Object.freeze({ lr, beta1, beta2, eps });

export function adamConfig(partial: Partial<AdamConfig> = {}): AdamConfig {
  const c = { ...DEFAULT_ADAM, ...partial };
  if (!(c.lr >= 0) || !Number.isFinite(c.lr)) throw new RangeError(`adam: lr must be >= 0, got ${c.lr}`);
  for (const k of ['beta1', 'beta2'] as const) if (!(c[k] >= 0 && c[k] < 1)) throw new RangeError(`adam: ${k} must be in [0, 1), got ${c[k]}`);
  if (!(c.eps > 0)) throw new RangeError(`adam: eps must be > 0, got ${c.eps}`);
  return c;
}

/**
 * The per-step scalars of Adam's update at 1-based step t (torch.optim.Adam's bias corrections): lr / (1 -
 * beta1^t) and sqrt(1 - beta2^t), the arguments lrOverBc1 and sqrtBc2 of core/scalar.ts adamParam.
 */
export function adamStepScalars(p: AdamParams): { lrOverBc1: number; sqrtBc2: number } {
  return { lrOverBc1: p.lr / (1 - p.beta1 ** p.step), sqrtBc2: Math.sqrt(1 - p.beta2 ** p.step) };
}

/**
 * PyTorch CosineAnnealingLR closed form: lr(e) = etaMin + (base - etaMin)(1 + cos(pi e / T_max)) / 2.
 * It keeps following the cosine past T_max (the rate rises again), as the closed form does.
 */
export function cosineAnnealingLr(baseLr: number, epoch: number, tMax: number = PAPER_DEFAULTS.tMax, etaMin = 0): number {
  if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be an integer >= 0, got ${epoch}`);
  if (!(tMax > 0)) throw new RangeError(`T_max must be > 0, got ${tMax}`);
  return etaMin + ((baseLr - etaMin) * (1 + Math.cos((Math.PI * epoch) / tMax))) / 2;
}
