// Closed-form thresholds (ALGORITHM.md section 5). Each certifies the whole box (not only the
// grid), so the bound portfolio may use the smaller of this and the numerical threshold.
//
//  - additive Gaussian (b, t, bt): certified iff ||D^-1 (beta - beta0)|| <= Phi^-1(pA)
//    (Cohen et al.), so h* = Phi(max over the box of ||D^-1 delta||), attained at a corner.
//  - contrast (c, LogNormal): additive Gaussian in ln k: h* = Phi(max |ln k| / s).
//  - contrast+translation (ct): additive Gaussian in (ln k, tx, ty) with D = diag(s_k, s_tx,
//    s_ty), the same argument (the smoothing is y' = beta' + D z in these coordinates).
//  - gamma (g, Rayleigh): certified for g in [K^-1/2, K^1/2], K = -ln(1 - pA)/ln 2. Covering the
//    box needs K >= Kmax = max over the box of max(g^2, g^-2), i.e. 1 - pA <= 2^-Kmax:
//    h* = 1 - 2^-Kmax. (g in [0.5, 2]: Kmax = 4, h* = 0.9375.)
// Integer axes (tx, ty) are certified on integers, so their extremes are ceil(lo), floor(hi).

import { normalCdf } from '@glcert/stats';
import type { TransformSpec } from '@glcert/transforms';

import { InvalidBoundRequestError } from './errors';
import { norm2 } from './fp';

export interface ClosedForm {
  readonly threshold: number;
  /** Which closed form, in words (recorded in the result notes). */
  readonly rule: string;
}

function extremes(lo: number, hi: number, integer: boolean): [number, number] {
  return integer ? [Math.ceil(lo), Math.floor(hi)] : [lo, hi];
}

/** max |x - x0| over [lo, hi] (at an end). */
function maxAbs(lo: number, hi: number, x0: number): number {
  return Math.max(Math.abs(lo - x0), Math.abs(hi - x0));
}

/**
 * The largest attack excursion on axis i over its sigma, in the coordinates where the smoothing is
 * additive Gaussian (ln k for contrast, the raw parameter otherwise); 0 for an integer axis whose
 * box holds no integer (nothing to certify there; validated boxes have integer ends).
 */
function scaledExcursion(spec: TransformSpec, sigma: readonly number[], lo: readonly number[], hi: readonly number[], i: number): number {
  const [a, b] = extremes(lo[i], hi[i], spec.integerParams[i]);
  if (a > b) return 0;
  const m = spec.params[i] === 'k' ? maxAbs(Math.log(a), Math.log(b), 0) : maxAbs(a, b, spec.identity[i]);
  return m / sigma[i];
}

/** Keys that have a closed form. */
export const CLOSED_FORM_TRANSFORMS: readonly string[] = Object.freeze(['b', 't', 'bt', 'c', 'ct', 'g']);

/**
 * The closed-form threshold for the box, or null when `spec` has none.
 * `sigma`, `lo`, `hi` are in `spec.params` order.
 */
export function closedFormThreshold(
  spec: TransformSpec,
  sigma: readonly number[],
  lo: readonly number[],
  hi: readonly number[],
): ClosedForm | null {
  const key = spec.key as string;
  if (!CLOSED_FORM_TRANSFORMS.includes(key)) return null;
  const d = spec.params.length;

  if (key === 'g') {
    const [a, b] = [lo[0], hi[0]];
    // max(g^2, g^-2) is decreasing below 1 and increasing above: the max is at an end.
    const kMax = Math.max(a * a, 1 / (a * a), b * b, 1 / (b * b));
    return { threshold: 1 - Math.pow(2, -kMax), rule: `gamma/Rayleigh: h* = 1 - 2^-Kmax, Kmax = max(g^2, g^-2) over the box = ${kMax}` };
  }

  // b, t, bt, c, ct: additive Gaussian in (ln k for k, the raw parameter otherwise).
  let sq = 0;
  for (let i = 0; i < d; i++) {
    const x = scaledExcursion(spec, sigma, lo, hi, i);
    sq += x * x;
  }
  const norm = Math.sqrt(sq);
  const coords = spec.params.map((p) => (p === 'k' ? 'ln k' : p)).join(', ');
  return {
    threshold: normalCdf(norm),
    rule: `additive Gaussian in (${coords}): h* = Phi(max ||D^-1 delta||) = Phi(${norm.toPrecision(6)})`,
  };
}

/**
 * The smallest threshold any sound bound may give for the box: its exact (Neyman-Pearson)
 * threshold where that is known, else a lower bound of it from a sub-box; null where neither is
 * available (gc, r). A certificate whose threshold is below it certifies more than is true
 * (the verifier checks this, ALGORITHM.md section 6).
 *  - b, t, bt, c, ct: the closed form above, which is tight (Cohen et al.).
 *  - g: g' = g R, R^2 = 2 s^2 E with E ~ Exp(1): an attack g scales E by g^2, the likelihood ratio
 *    is monotone in E, and the worst case gives pA > 1 - 2^(-g^2) for g >= 1 and pA > 2^(-g^2)
 *    for g < 1, maximised at an end of the box. (The closed form 1 - 2^-Kmax is looser below 1;
 *    the numeric bound matches this floor to 1e-4.)
 *  - cb, cbt: when the box contains b = 0, the sub-box b = 0, where the smoothing is additive
 *    Gaussian in (ln k[, tx, ty]) and independent of the brightness noise (ALGORITHM.md section 2:
 *    (k e, b e + s_b z1) at b = 0 is (k e, s_b z1)); a bound for the box is one for the sub-box.
 * Throws InvalidBoundRequestError for a sigma or box no threat model may have.
 */
export function thresholdFloor(
  spec: TransformSpec,
  sigma: readonly number[],
  lo: readonly number[],
  hi: readonly number[],
): ClosedForm | null {
  const key = spec.key as string;
  const d = spec.params.length;
  if (sigma.length !== d || lo.length !== d || hi.length !== d) {
    throw new InvalidBoundRequestError('threat_model', `expected ${d} values (${spec.params.join(', ')}) for sigma and box`);
  }
  for (let i = 0; i < d; i++) {
    const p = spec.params[i];
    if (!(Number.isFinite(sigma[i]) && sigma[i] > 0)) throw new InvalidBoundRequestError(`threat_model.sigma.${p}`, `must be a finite number > 0, got ${sigma[i]}`);
    if (!(Number.isFinite(lo[i]) && Number.isFinite(hi[i]) && lo[i] <= hi[i])) {
      throw new InvalidBoundRequestError(`threat_model.box.${p}`, `must be finite with lo <= hi, got [${lo[i]}, ${hi[i]}]`);
    }
    if ((p === 'k' || p === 'g') && !(lo[i] > 0)) throw new InvalidBoundRequestError(`threat_model.box.${p}`, `${p} must be > 0`);
  }
  if (key === 'g') {
    const tight = (g: number) => (g >= 1 ? 1 - Math.pow(2, -(g * g)) : Math.pow(2, -(g * g)));
    const threshold = Math.max(tight(lo[0]), tight(hi[0]));
    return { threshold, rule: `gamma/Rayleigh, exact: max over the box ends of 1 - 2^-(g^2) (g >= 1), 2^-(g^2) (g < 1) = ${threshold}` };
  }
  let axes: number[];
  if (key === 'b' || key === 't' || key === 'bt' || key === 'c' || key === 'ct') axes = spec.params.map((_, i) => i);
  else if (key === 'cb' || key === 'cbt') {
    const b = spec.params.indexOf('b' as never);
    if (!(lo[b] <= 0 && hi[b] >= 0)) return null;
    axes = spec.params.map((_, i) => i).filter((i) => i !== b);
  } else return null;
  // additive Gaussian in (ln k | the raw parameter): Phi(max ||D^-1 delta||), scaled (no squares)
  const scaled = axes.map((i) => scaledExcursion(spec, sigma, lo, hi, i));
  const norm = norm2(scaled);
  const exact = key !== 'cb' && key !== 'cbt';
  return {
    threshold: normalCdf(norm),
    rule: `additive Gaussian${exact ? '' : ' on the sub-box b = 0'}: Phi(max ||D^-1 delta||) = Phi(${norm.toPrecision(6)})${exact ? ', exact' : ', a lower bound'}`,
  };
}
