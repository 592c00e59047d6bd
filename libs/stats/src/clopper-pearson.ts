// One-sided Clopper-Pearson bounds at confidence 1 - alpha for k successes in n trials
// (ALGORITHM.md section 6): lower = BetaQuantile(alpha; k, n - k + 1), upper = 1 - lower(n - k).

import { invRegIncBetaPair } from './beta';

function checkCounts(k: number, n: number, alpha: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`n must be an integer >= 1, got ${n}`);
  if (!Number.isSafeInteger(k) || k < 0 || k > n) throw new RangeError(`k must be an integer in [0, n = ${n}], got ${k}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
}

/** Lower bound on the success probability: 0 at k = 0, alpha^(1/n) at k = n. */
export function clopperPearsonLower(k: number, n: number, alpha: number): number {
  checkCounts(k, n, alpha);
  if (k === 0) return 0;
  if (k === n) return Math.pow(alpha, 1 / n);
  return invRegIncBetaPair(alpha, k, n - k + 1)[0];
}

/** Upper bound on the success probability: 1 at k = n, 1 - alpha^(1/n) at k = 0. */
export function clopperPearsonUpper(k: number, n: number, alpha: number): number {
  checkCounts(k, n, alpha);
  if (k === n) return 1;
  // 1 - alpha^(1/n) via expm1: keeps full relative precision when it is ~1/n.
  if (k === 0) return -Math.expm1(Math.log(alpha) / n);
  // 1 - lower(n - k), taken from the solver's accurate complement rather than by subtraction.
  return invRegIncBetaPair(alpha, n - k, k + 1)[1];
}

/**
 * Smallest n for which n successes out of n could certify: alpha^(1/n) > threshold, i.e. the
 * largest attainable Clopper-Pearson lower bound exceeds the threshold. Infinity when
 * threshold >= 1 (no n suffices).
 */
export function minSamplesToCertify(threshold: number, alpha: number): number {
  if (Number.isNaN(threshold)) throw new RangeError('threshold must be a number, got NaN');
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  if (threshold >= 1) return Infinity;
  if (threshold < alpha) return 1;
  // alpha^(1/n) > t  <=>  n > ln(alpha)/ln(t); then settle rounding against the bound itself.
  let n = Math.max(1, Math.floor(Math.log(alpha) / Math.log(threshold)) + 1);
  if (!Number.isSafeInteger(n)) return Infinity;
  while (n > 1 && Math.pow(alpha, 1 / (n - 1)) > threshold) n--;
  while (!(Math.pow(alpha, 1 / n) > threshold)) n++;
  return n;
}
