// Regularized incomplete beta I_x(a, b) and its inverse, accurate for parameters up to ~1e7 and
// tail probabilities down to ~1e-300 (Clopper-Pearson bounds at n up to 1e7, alpha down to 1e-12).
//
// I_x(a, b) = x^a y^b / B(a, b) * BFRAC (the continued fraction of TOMS 708) below the mean,
// and 1 - I_y(b, a) above it. The tail away from the mean is computed directly, never as
// 1 - (the other), so small tails keep their relative precision.

import { LN_SQRT_2PI, log1pmx, stirlingError } from './gamma';
import { normalQuantile } from './normal';

/**
 * x^a y^b / B(a, b) without forming x^a, y^b or B separately: around the mode x0 = a/(a+b),
 * a ln(x/x0) + b ln(y/y0) = a log1pmx(e1) + b log1pmx(e2) exactly, with e1 = d/a, e2 = -d/b and
 * d = (a+b) x - a, since the linear terms cancel. With Stirling's error for 1/B this stays
 * accurate for a, b ~ 1e7, where ln B ~ -1e7 would otherwise cost ~8 digits.
 */
export function betaPowerTerm(a: number, b: number, x: number, y: number): number {
  if (x <= 0 || y <= 0) return 0;
  const s = a + b;
  // Take d from the smaller of x, y: the larger one carries the rounding of 1 - x. The product
  // is formed exactly (near the mode s*x ~ a, and its rounding error would dominate d).
  const d = x <= y ? exactProductMinus(s, x, a) : -exactProductMinus(s, y, b);
  const e1 = d / a;
  const e2 = -d / b;
  // Far below the mode (e -> -1) log1p(e) would lose the digits of x/x0: use logs directly.
  const la = e1 < -0.5 ? a * (Math.log(x) + Math.log1p(b / a)) - d : a * log1pmx(e1);
  const lb = e2 < -0.5 ? b * (Math.log(y) + Math.log1p(a / b)) + d : b * log1pmx(e2);
  const lnFront =
    0.5 * (Math.log(a) + Math.log(b) - Math.log(s)) - LN_SQRT_2PI + stirlingError(s) - stirlingError(a) - stirlingError(b);
  return Math.exp(la + lb + lnFront);
}

const SPLITTER = 134217729; // 2^27 + 1 (Veltkamp split)

/** u * v - w with u * v formed exactly (Dekker's two-product); accurate when u v ~ w. */
function exactProductMinus(u: number, v: number, w: number): number {
  const p = u * v;
  if (!(Math.abs(u) < 1e290)) return p - w; // the split would overflow; never hit for a, b < 1e290
  const cu = SPLITTER * u;
  const uh = cu - (cu - u);
  const ul = u - uh;
  const cv = SPLITTER * v;
  const vh = cv - (cv - v);
  const vl = v - vh;
  const err = uh * vh - p + uh * vl + ul * vh + ul * vl;
  return p - w + err;
}

/**
 * Continued fraction BFRAC of DiDonato & Morris (ACM TOMS 708, 1992), in R's toms708.c form:
 * I_x(a, b) = x^a y^b / B(a, b) * CF, where the CF is written in lambda = a - (a + b) x (the
 * distance from the mean, passed in and computed from whichever of x, y is small) and y, never
 * in 1 - x. The Numerical Recipes fraction in x alone loses digits as (a + b) ulp(x) when x is
 * near 1 (Clopper-Pearson upper bounds at small k), and needs O(sqrt(a + b)) terms where this
 * one needs a handful away from the mean. Used with lambda >= 0 (x at or below the mean).
 */
function bfrac(a: number, b: number, x: number, y: number, lambda: number): number {
  const c = lambda + 1;
  const c0 = b / a;
  const c1 = 1 / a + 1;
  const yp1 = y + 1;
  let n = 0;
  let p = 1;
  let s = a + 1;
  let an = 0;
  let bn = 1;
  let anp1 = 1;
  let bnp1 = c / c1;
  let r = c1 / c;
  // Near the mean of huge a, b it needs up to a few thousand terms; the cap is far above that.
  const maxIter = 10000 + Math.ceil(10 * Math.sqrt(a + b));
  while (n < maxIter) {
    n += 1;
    let t = n / a;
    const w = n * (b - n) * x;
    let e = a / s;
    const alpha = p * (p + c0) * e * e * (w * x);
    e = (t + 1) / (c1 + t + t);
    const beta = n + w / s + e * (c + n * yp1);
    p = t + 1;
    s += 2;
    t = alpha * an + beta * anp1;
    an = anp1;
    anp1 = t;
    t = alpha * bn + beta * bnp1;
    bn = bnp1;
    bnp1 = t;
    const r0 = r;
    r = anp1 / bnp1;
    if (Math.abs(r - r0) <= 1e-16 * r) break;
    // Rescale so the recurrences never overflow.
    an /= bnp1;
    bn /= bnp1;
    anp1 = r;
    bnp1 = 1;
  }
  return r;
}

/**
 * Both tails [I_x(a, b), 1 - I_x(a, b)] and the power term x^a y^b / B(a, b), into out[0..2].
 * The tail on the side of x away from the mean is computed directly (relative error ~1e-15);
 * the other is 1 minus it.
 */
function betaTails(x: number, y: number, a: number, b: number, out: Float64Array): void {
  const front = betaPowerTerm(a, b, x, y);
  out[2] = front;
  // lambda = a - (a + b) x = (a + b) y - b, formed from the smaller of x, y.
  const lambda = x <= y ? -exactProductMinus(a + b, x, a) : exactProductMinus(a + b, y, b);
  if (lambda >= 0) {
    const lower = front === 0 ? 0 : front * bfrac(a, b, x, y, lambda);
    out[0] = lower;
    out[1] = 1 - lower;
  } else {
    const upper = front === 0 ? 0 : front * bfrac(b, a, y, x, -lambda);
    out[0] = 1 - upper;
    out[1] = upper;
  }
}

function checkShape(a: number, b: number): void {
  if (!(a > 0) || !Number.isFinite(a)) throw new RangeError(`a must be a positive finite number, got ${a}`);
  if (!(b > 0) || !Number.isFinite(b)) throw new RangeError(`b must be a positive finite number, got ${b}`);
}

function checkUnit(v: number, name: string): void {
  if (!(v >= 0 && v <= 1)) throw new RangeError(`${name} must be in [0, 1], got ${v}`);
}

/** Regularized incomplete beta I_x(a, b) = P(X <= x) for X ~ Beta(a, b). */
export function regIncBeta(x: number, a: number, b: number): number {
  checkShape(a, b);
  checkUnit(x, 'x');
  if (x === 0) return 0;
  if (x === 1) return 1;
  const t = new Float64Array(3);
  betaTails(x, 1 - x, a, b, t);
  return t[0];
}

/** Upper tail 1 - I_x(a, b) = P(X > x), accurate where it is small. */
export function regIncBetaComplement(x: number, a: number, b: number): number {
  checkShape(a, b);
  checkUnit(x, 'x');
  if (x === 0) return 1;
  if (x === 1) return 0;
  const t = new Float64Array(3);
  betaTails(x, 1 - x, a, b, t);
  return t[1];
}

/** Beta CDF: P(X <= x) for X ~ Beta(a, b); the same as regIncBeta. */
export const betaCdf = regIncBeta;

/**
 * The root v in (0, 1/2] of I_v(a, b) = p (q = 1 - p, passed separately so that either tail
 * keeps its precision). The caller guarantees I_{1/2}(a, b) >= p. Halley's method inside a
 * shrinking bracket; a step that leaves the bracket or stalls is replaced by bisection, in log
 * space while the bracket spans orders of magnitude (roots can be as small as 1e-300).
 */
function solveLowerHalf(p: number, q: number, a: number, b: number): number {
  const t = new Float64Array(3);
  let lo = 0;
  let hi = 0.5;
  let v = initialGuess(p, q, a, b);
  if (!(v > 0 && v < 0.5)) v = bisect(lo, hi);
  let step = Infinity;
  let stepBefore = Infinity;
  for (let iter = 0; iter < 300; iter++) {
    betaTails(v, 1 - v, a, b, t);
    // Compare in the tail where the target lives, so tiny p (or tiny q) keeps its digits.
    const f = p <= 0.5 ? t[0] - p : q - t[1];
    if (f === 0) return v;
    if (f < 0) lo = v;
    else hi = v;
    const density = t[2] / (v * (1 - v));
    let next = NaN;
    if (density > 0 && Number.isFinite(density)) {
      const newton = f / density;
      // f''/f' = (a - 1)/v - (b - 1)/(1 - v); use Halley's correction only while it is modest.
      const corr = 0.5 * newton * ((a - 1) / v - (b - 1) / (1 - v));
      next = v - (Math.abs(corr) < 0.5 ? newton / (1 - corr) : newton);
    }
    const proposed = Math.abs(next - v);
    // Converged: the correction is at the level of the evaluation noise (it may round to v,
    // which sits on the bracket's edge, so test this before the bracket).
    if (proposed <= 1e-15 * v) return next > lo && next < hi ? next : v;
    if (!(next > lo && next < hi) || proposed > 0.5 * stepBefore) {
      next = bisect(lo, hi);
    }
    stepBefore = step;
    step = Math.abs(next - v);
    if (next === v || (lo > 0 && hi - lo <= 2e-16 * hi)) return next;
    v = next;
  }
  return v;
}

function bisect(lo: number, hi: number): number {
  if (lo === 0) return Math.sqrt(1e-300 * hi) > 1e-300 ? Math.sqrt(1e-300 * hi) : 0.5 * hi;
  return hi > 4 * lo ? Math.sqrt(lo * hi) : 0.5 * (lo + hi);
}

/** Starting point for the root (Numerical Recipes invbetai, after AS 109 / Abramowitz-Stegun 26.5.22). */
function initialGuess(p: number, q: number, a: number, b: number): number {
  if (a >= 1 && b >= 1) {
    // Upper normal quantile of p, then the Cornish-Fisher style correction for the beta.
    const z = p < 0.5 ? -normalQuantile(p) : normalQuantile(q);
    const al = (z * z - 3) / 6;
    const h = 2 / (1 / (2 * a - 1) + 1 / (2 * b - 1));
    const w = (z * Math.sqrt(al + h)) / h - (1 / (2 * b - 1) - 1 / (2 * a - 1)) * (al + 5 / 6 - 2 / (3 * h));
    return a / (a + b * Math.exp(2 * w));
  }
  const lna = Math.log(a / (a + b));
  const lnb = Math.log(b / (a + b));
  const ta = Math.exp(a * lna) / a;
  const tb = Math.exp(b * lnb) / b;
  const w = ta + tb;
  if (p < ta / w) return Math.pow(a * w * p, 1 / a);
  return 1 - Math.pow(b * w * q, 1 / b);
}

/**
 * Inverse of I_x(a, b) as the pair [x, 1 - x], each accurate (the smaller one to ~1e-15
 * relative). Closed forms for a = 1 or b = 1, where I_x is 1 - (1-x)^b or x^a.
 */
export function invRegIncBetaPair(p: number, a: number, b: number): [number, number] {
  checkShape(a, b);
  checkUnit(p, 'p');
  if (p === 0) return [0, 1];
  if (p === 1) return [1, 0];
  const q = 1 - p;
  if (b === 1) {
    const l = (p <= 0.5 ? Math.log(p) : Math.log1p(-q)) / a;
    return [Math.exp(l), -Math.expm1(l)];
  }
  if (a === 1) {
    const l = (p <= 0.5 ? Math.log1p(-p) : Math.log(q)) / b;
    return [-Math.expm1(l), Math.exp(l)];
  }
  const t = new Float64Array(3);
  betaTails(0.5, 0.5, a, b, t);
  const rootBelowHalf = p <= 0.5 ? p <= t[0] : q >= t[1];
  if (rootBelowHalf) {
    const x = solveLowerHalf(p, q, a, b);
    return [x, 1 - x];
  }
  // I_x(a, b) = p  <=>  I_y(b, a) = q with y = 1 - x < 1/2: solve for the small y.
  const y = solveLowerHalf(q, p, b, a);
  return [1 - y, y];
}

/** Inverse regularized incomplete beta: x with I_x(a, b) = p. */
export function invRegIncBeta(p: number, a: number, b: number): number {
  return invRegIncBetaPair(p, a, b)[0];
}

/** Quantile of Beta(a, b) at probability p; the same as invRegIncBeta. */
export function betaQuantile(p: number, a: number, b: number): number {
  return invRegIncBetaPair(p, a, b)[0];
}
