// Surrogate gradients: a smooth primitive sigma(x) standing in for the Heaviside step, and its derivative
// sigma'(x), used as dS/dH in Eq. 13. Each surrogate is one entry below: name, kernel code, primitive and
// derivative (the derivatives live in core/scalar.ts, where gpu.js can compile them). Alpha defaults and forms follow common SNN practice; atan(2) is the
// paper's sigma'(x) = 1 / (1 + (pi x)^2) (Supplementary 6).
import {
  SG_ATAN,
  SG_ERF,
  SG_PIECEWISE_EXP,
  SG_PIECEWISE_QUADRATIC,
  SG_SIGMOID,
  SG_SOFT_SIGN,
  atanSurrogateGrad,
  sigmoid,
  erfSurrogateGrad,
  piecewiseExpSurrogateGrad,
  piecewiseQuadraticSurrogateGrad,
  sigmoidSurrogateGrad,
  softSignSurrogateGrad,
} from './scalar.js';

export interface Surrogate {
  readonly name: SurrogateName;
  readonly alpha: number;
  /** Kernel code: `surrogateGrad(code, x, alpha)` in core/scalar.ts equals grad(x). */
  readonly code: number;
  /** The smooth primitive sigma(x), a sigmoid-like function from 0 to 1. */
  primitive(x: number): number;
  /** sigma'(x). */
  grad(x: number): number;
}

export type SurrogateName = 'atan' | 'sigmoid' | 'piecewiseQuadratic' | 'piecewiseExp' | 'softSign' | 'erf';

function make(name: SurrogateName, code: number, alpha: number, primitive: (x: number) => number, derivative: (x: number, alpha: number) => number): Surrogate {
  if (!Number.isFinite(alpha) || alpha <= 0) {
    throw new RangeError(`surrogate ${name}: alpha must be a finite number > 0, got ${alpha}`);
  }
  return Object.freeze({ name, alpha, code, primitive, grad: (x: number) => derivative(x, alpha) });
}

/** erf(x) to double precision: 2/sqrt(pi) exp(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)); all terms positive. */
export function erf(x: number): number {
  if (x === 0 || Number.isNaN(x)) return x;
  if (Math.abs(x) > 6) return Math.sign(x);
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 1000; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
  }
  // the rounding of a long sum can take the product a few ulps past 1 near |x| = 6: erf stays in [-1, 1]
  return Math.max(-1, Math.min(1, (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum));
}

export const surrogates = {
  /** sigma(x) = atan(pi/2 alpha x)/pi + 1/2, sigma'(x) = (alpha/2) / (1 + (pi/2 alpha x)^2). */
  atan: (alpha = 2): Surrogate =>
    make('atan', SG_ATAN, alpha, (x) => Math.atan((Math.PI / 2) * alpha * x) / Math.PI + 0.5, atanSurrogateGrad),
  /** sigma(x) = 1 / (1 + exp(-alpha x)). */
  sigmoid: (alpha = 4): Surrogate => make('sigmoid', SG_SIGMOID, alpha, (x) => sigmoid(alpha * x), sigmoidSurrogateGrad),
  /** sigma'(x) = alpha - alpha^2 |x| on |x| <= 1/alpha, else 0. */
  piecewiseQuadratic: (alpha = 1): Surrogate =>
    make('piecewiseQuadratic', SG_PIECEWISE_QUADRATIC, alpha, (x) => {
      if (x < -1 / alpha) return 0;
      if (x > 1 / alpha) return 1;
      return -0.5 * alpha * alpha * Math.abs(x) * x + alpha * x + 0.5;
    }, piecewiseQuadraticSurrogateGrad),
  /** sigma'(x) = (alpha/2) exp(-alpha |x|). */
  piecewiseExp: (alpha = 1): Surrogate =>
    make('piecewiseExp', SG_PIECEWISE_EXP, alpha, (x) =>
      x < 0 ? 0.5 * Math.exp(alpha * x) : 1 - 0.5 * Math.exp(-alpha * x),
    piecewiseExpSurrogateGrad),
  /** sigma(x) = (alpha x / (1 + |alpha x|) + 1) / 2, sigma'(x) = alpha / (2 (1 + |alpha x|)^2). */
  softSign: (alpha = 2): Surrogate =>
    make('softSign', SG_SOFT_SIGN, alpha, (x) => 0.5 * ((alpha * x) / (1 + Math.abs(alpha * x)) + 1), softSignSurrogateGrad),
  /** sigma(x) = (1 + erf(alpha x)) / 2, sigma'(x) = alpha / sqrt(pi) exp(-(alpha x)^2). */
  erf: (alpha = 2): Surrogate => make('erf', SG_ERF, alpha, (x) => 0.5 * (1 + erf(alpha * x)), erfSurrogateGrad),
} as const;

export const SURROGATE_NAMES = Object.keys(surrogates) as SurrogateName[];

/** A surrogate by name, e.g. from a command line or a checkpoint. */
export function surrogateByName(name: string, alpha?: number): Surrogate {
  if (!Object.hasOwn(surrogates, name)) {
    throw new RangeError(`unknown surrogate '${name}'; known: ${SURROGATE_NAMES.join(', ')}`);
  }
  return surrogates[name as SurrogateName](alpha);
}
