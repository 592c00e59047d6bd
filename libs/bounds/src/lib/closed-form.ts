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
    const [a, b] = extremes(lo[i], hi[i], spec.integerParams[i]);
    const m = spec.params[i] === 'k' ? maxAbs(Math.log(a), Math.log(b), 0) : maxAbs(a, b, spec.identity[i]);
    sq += (m / sigma[i]) * (m / sigma[i]);
  }
  const norm = Math.sqrt(sq);
  const coords = spec.params.map((p) => (p === 'k' ? 'ln k' : p)).join(', ');
  return {
    threshold: normalCdf(norm),
    rule: `additive Gaussian in (${coords}): h* = Phi(max ||D^-1 delta||) = Phi(${norm.toPrecision(6)})`,
  };
}
