// Small floating-point helpers of the solver: accurate where the naive formula
// over- or underflows or cancels.

/**
 * Euclidean norm of v[0..n) without overflow or underflow of the squares: Infinity only when the
 * norm itself overflows, 0 only for a zero vector, NaN when an entry is NaN.
 */
export function norm2(v: ArrayLike<number>, n: number = v.length): number {
  let m = 0;
  for (let i = 0; i < n; i++) {
    const a = Math.abs(v[i]);
    if (Number.isNaN(a)) return NaN;
    if (a > m) m = a;
  }
  if (m === 0 || m === Infinity) return m;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const x = v[i] / m;
    sum += x * x;
  }
  return m * Math.sqrt(sum);
}

/**
 * x + expm1(-x) (sign -1) or expm1(x) - x (sign +1), both >= 0, without cancellation for small
 * |x| (series to x^5: relative error below 1e-15 for |x| < 1e-3).
 */
export function expm1PlusMinus(x: number, sign: 1 | -1): number {
  if (Math.abs(x) < 1e-3) {
    const y = sign * x;
    return x * x * (1 / 2 + y * (1 / 6 + y * (1 / 24 + y / 120)));
  }
  return sign === 1 ? Math.expm1(x) - x : x + Math.expm1(-x);
}

/** lo + (hi - lo) f for f in [0, 1], finite whenever lo and hi are (hi - lo may overflow). */
export function lerp(lo: number, hi: number, f: number): number {
  const span = hi - lo;
  return Number.isFinite(span) ? lo + span * f : lo * (1 - f) + hi * f;
}
