// Family-wise error control across images (ALGORITHM.md section 6: report the per-image alpha
// and the family-wise alpha).

function checkAlpha(alpha: number): void {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
}

function checkCount(m: number): void {
  if (!Number.isSafeInteger(m) || m < 1) throw new RangeError(`m must be an integer >= 1, got ${m}`);
}

/** Per-test level that keeps the family-wise error rate of m tests at alpha: alpha / m. */
export function bonferroni(alpha: number, m: number): number {
  checkAlpha(alpha);
  checkCount(m);
  return alpha / m;
}

/** Family-wise error bound of m tests each at perImageAlpha (union bound): min(1, alpha m). */
export function familyWiseAlpha(perImageAlpha: number, m: number): number {
  checkAlpha(perImageAlpha);
  checkCount(m);
  return Math.min(1, perImageAlpha * m);
}

/**
 * Holm's step-down procedure: sort p-values ascending, reject while p_(i) <= alpha / (m - i)
 * (i from 0), stop at the first acceptance. Returns, in input order, which hypotheses are
 * rejected. Controls the family-wise error at alpha and rejects at least what Bonferroni does.
 */
export function holm(pValues: readonly number[], alpha: number): boolean[] {
  checkAlpha(alpha);
  pValues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`pValues[${i}] must be in [0, 1], got ${p}`);
  });
  const m = pValues.length;
  const order = pValues.map((_, i) => i).sort((i, j) => pValues[i] - pValues[j] || i - j);
  const rejected = new Array<boolean>(m).fill(false);
  for (let rank = 0; rank < m; rank++) {
    const i = order[rank];
    if (!(pValues[i] <= alpha / (m - rank))) break;
    rejected[i] = true;
  }
  return rejected;
}
