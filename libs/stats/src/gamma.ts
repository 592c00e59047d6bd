// Log-gamma and the helpers that keep beta-function prefactors accurate for huge parameters.

export const LN_SQRT_2PI = 0.918938533204672741780329736406;

/** ln |Gamma(x)|: Stirling's form with the error term below (reflection for x < 0). */
export function lnGamma(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x <= 0) {
    // Gamma(x) Gamma(1 - x) = pi / sin(pi x); poles at the non-positive integers.
    const s = Math.sin(Math.PI * x);
    if (s === 0) return Infinity;
    return Math.log(Math.PI / Math.abs(s)) - lnGamma(1 - x);
  }
  return (x - 0.5) * Math.log(x) - x + LN_SQRT_2PI + stirlingError(x);
}

// Asymptotic series of Stirling's error: B_2k / (2k (2k - 1) x^(2k - 1)), k = 1..8; at x >= 10
// the first omitted term is below 2e-18.
const STIRLING = [
  1 / 12, -1 / 360, 1 / 1260, -1 / 1680, 1 / 1188, -691 / 360360, 1 / 156, -3617 / 122400,
];

/**
 * Stirling's error ln Gamma(x) - [(x - 1/2) ln x - x + ln sqrt(2 pi)], to ~3e-16 absolute for
 * all x > 0. Computed directly, not as a difference of ln Gamma values, so ratios of gamma
 * functions with arguments ~1e7 do not lose ~8 digits to cancelling terms of size ~1e8.
 * Below 10 it steps up with se(x) = se(x + 1) + (x + 1/2) ln(1 + 1/x) - 1.
 */
export function stirlingError(x: number): number {
  let acc = 0;
  while (x < 10) {
    acc += (x + 0.5) * Math.log1p(1 / x) - 1;
    x += 1;
  }
  const x2 = 1 / (x * x);
  let sum = STIRLING[STIRLING.length - 1];
  for (let k = STIRLING.length - 2; k >= 0; k--) sum = sum * x2 + STIRLING[k];
  return acc + sum / x;
}

/**
 * log1p(e) - e without cancellation for small |e| (series in t = e / (2 + e):
 * log1p(e) = 2 atanh(t), and e - 2t = e t exactly).
 */
export function log1pmx(e: number): number {
  if (e < -0.5 || e > 0.5) return Math.log1p(e) - e;
  const t = e / (2 + e);
  const t2 = t * t;
  let term = t * t2;
  let sum = 0;
  for (let k = 3; k < 200; k += 2) {
    const add = term / k;
    sum += add;
    if (Math.abs(add) <= 1e-17 * Math.abs(sum)) break;
    term *= t2;
  }
  return 2 * sum - e * t;
}

/** ln B(a, b). Large arguments go through Stirling's form so the result keeps its digits. */
export function lnBeta(a: number, b: number): number {
  if (a + b < 30) return lnGamma(a) + lnGamma(b) - lnGamma(a + b);
  // ln B = ln sqrt(2 pi (a + b) / (a b)) + se(a) + se(b) - se(a + b) - a ln(1 + b/a) - b ln(1 + a/b)
  return (
    LN_SQRT_2PI -
    0.5 * (Math.log(a) + Math.log(b) - Math.log(a + b)) +
    stirlingError(a) +
    stirlingError(b) -
    stirlingError(a + b) -
    a * Math.log1p(b / a) -
    b * Math.log1p(a / b)
  );
}
