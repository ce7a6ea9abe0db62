// The surrogate derivatives sigma'(x) of the reference, written out again from their primitives (see
// core/surrogates.ts for the primitives) so that the reference shares no code with core's kernels.
// Eq. 13 uses sigma'(H - Vth) for dS/dH.

/** What the reference reads of a surrogate: its name and alpha. */
export interface SurrogateSpec {
  readonly name: string;
  readonly alpha: number;
}

/** sigma'(x) of the named surrogate. */
export function surrogateDerivative(sg: SurrogateSpec): (x: number) => number {
  const a = sg.alpha;
  switch (sg.name) {
    case 'atan': // d/dx [atan(pi/2 a x)/pi + 1/2]
      return (x) => a / 2 / (1 + ((Math.PI / 2) * a * x) ** 2);
    case 'sigmoid': // d/dx [1/(1 + e^(-a x))]
      return (x) => {
        const e = Math.exp(-a * x);
        return (a * e) / (1 + e) ** 2;
      };
    case 'piecewiseQuadratic': // a - a^2 |x| inside |x| <= 1/a
      return (x) => (Math.abs(x) > 1 / a ? 0 : a * (1 - a * Math.abs(x)));
    case 'piecewiseExp': // d/dx of e^(a x)/2 (x < 0), 1 - e^(-a x)/2 (x >= 0)
      return (x) => (a * Math.exp(-a * Math.abs(x))) / 2;
    case 'softSign': // d/dx [(a x/(1 + |a x|) + 1)/2]
      return (x) => a / (2 * (1 + Math.abs(a * x)) ** 2);
    case 'erf': // d/dx [(1 + erf(a x))/2]
      return (x) => (a * Math.exp(-a * a * x * x)) / Math.sqrt(Math.PI);
    default:
      throw new RangeError(`reference: unknown surrogate '${sg.name}'`);
  }
}
