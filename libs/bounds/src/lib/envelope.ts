// The shape envelope p(q) and the function Xi (ALGORITHM.md section 4, steps 1-3 and 5).
//
// p is kept on the grid q_j = j/ns, j = 0..h with h = floor(ns/2) (only q <= 1/2 is ever used),
// as the elementwise maximum of every shape P = B/M added. Xi is integrated with a *lower* sum:
// on the cell [q_j, q_j+1] we use 1/max(p_j, p_j+1). Every P is concave and piecewise linear
// on this grid, so the envelope between two grid points lies below its chord and hence below
// max(p_j, p_j+1): the lower sum never exceeds the exact integral of 1/p, so the discretisation
// can only raise the threshold (never certify more). The cell [0, 1/ns], where 1/p diverges,
// gets the finite value 1/p_1, also a lower bound.

export class ShapeEnvelope {
  /** p(j/ns) for j = 0..h. */
  readonly p: Float64Array;
  readonly h: number;
  shapes = 0;

  constructor(readonly ns: number) {
    this.h = Math.floor(ns / 2);
    this.p = new Float64Array(this.h + 1);
  }

  /**
   * Adds the shape of one (beta, u): `topAscending` holds the h largest values of eta in
   * ascending order and `positiveSum` the sum of all positive values of eta (ns * M).
   */
  add(topAscending: Float64Array, positiveSum: number): void {
    const p = this.p;
    const h = this.h;
    const inv = 1 / positiveSum;
    let cum = 0;
    for (let j = 1, i = topAscending.length - 1; j <= h; j++, i--) {
      cum += topAscending[i];
      const P = cum * inv;
      if (P > p[j]) p[j] = P;
    }
    this.shapes++;
  }

  /**
   * R[j] = Xi(h/ns) - Xi(j/ns) = lower sum of 1/p over [j/ns, h/ns], for j = 0..h.
   * (Xi(1/2) - Xi(q) in the notation of ALGORITHM.md; h/ns <= 1/2, which is conservative.)
   */
  tail(): Float64Array {
    const { p, h, ns } = this;
    const R = new Float64Array(h + 1);
    for (let j = h - 1; j >= 0; j--) {
      const m = Math.max(p[j], p[j + 1]);
      R[j] = R[j + 1] + (m > 0 ? 1 / (ns * m) : Infinity);
    }
    return R;
  }

  /** Xi(1/2) (finite part: Xi measured from q = 0 with the lower sum). */
  xiHalf(): number {
    return this.tail()[0];
  }

  /**
   * The threshold for a largest path integral G: h* = 1 - q*, q* the largest q on the grid's
   * piecewise-linear Xi with Xi(1/2) - Xi(q) >= G. Returns 1 (never certify) when even q = 0
   * does not reach G.
   */
  threshold(maxG: number): { threshold: number; certifiable: boolean } {
    const R = this.tail();
    const { h, ns } = this;
    if (!(maxG <= R[0]) || R[0] === 0) return { threshold: 1, certifiable: false };
    if (maxG <= 0) return { threshold: 1 - h / ns, certifiable: true };
    // R is non-increasing: find the last k with R[k] >= maxG (k < h since R[h] = 0 < maxG).
    let lo = 0;
    let hi = h;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (R[mid] >= maxG) lo = mid;
      else hi = mid;
    }
    const k = lo;
    const width = R[k] - R[k + 1];
    const frac = Number.isFinite(width) && width > 0 ? (R[k] - maxG) / width : 0;
    const q = (k + Math.min(1, Math.max(0, frac))) / ns;
    if (q <= 0) return { threshold: 1, certifiable: false };
    return { threshold: 1 - q, certifiable: true };
  }
}
