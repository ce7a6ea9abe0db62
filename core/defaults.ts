// The paper's training settings (Sec. 4 and Supplementary 5), in one table: the neuron, optimiser,
// schedule and network defaults, and the `plif train` help text, all read them from here.

export const PAPER_DEFAULTS = Object.freeze({
  /** Initial membrane time constant of PLIF neurons (Tab. 2: tau0 = 2). */
  tau0: 2,
  /** Firing threshold V_th (Eq. 3). */
  vThreshold: 1,
  /** Hard reset potential V_reset (Eq. 4). */
  vReset: 0,
  /** S_t detached in the neuronal reset's gradient (Zenke and Vogels). */
  detachReset: true,
  /** sigma(x) = arctan(pi x) / pi + 1/2: core's atan surrogate with alpha 2 (Eq. 13). */
  surrogate: Object.freeze({ name: 'atan', alpha: 2 } as const),
  /** Adam's learning rate; betas and eps are PyTorch's defaults, which the released code keeps. */
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  /** Cosine annealing period T_schedule, in epochs. */
  tMax: 64,
  batch: 16,
  /** Drop probability of a DP layer of Table S1. */
  dropout: 0.5,
} as const);
