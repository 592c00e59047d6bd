// The shape envelope p(q) and the function Xi (ALGORITHM.md section 4, steps 2-3 and 5).
//
// p is kept on the cells [q_j, q_j+1], q_j = j/ns, j < h = floor(ns/2) (only q <= 1/2 is ever
// used), as an upper bound of the supremum over the cell of every shape added:
//   - an upper band Bplus(q) = min_k (a_k + w_k q) divided by its M+ (`addBand`, what the solver
//     uses): on a cell, min_k (a_k + max(w_k q_j, w_k q_j+1)) bounds the band from above;
//   - an empirical shape B_hat/M_hat (`add`, section 4 as written, kept for tests and tools):
//     B_hat is linear on every cell, so its supremum there is the larger end value.
// Xi is integrated with a *lower* sum, 1/(cell supremum) on every cell, so the discretisation can
// never certify more than the continuous envelope would. The cell [0, 1/ns], where 1/p may
// diverge, gets a finite value, also a lower bound.

import type { UpperBand } from './band';

export class ShapeEnvelope {
  /** Upper bound of sup p over [j/ns, (j+1)/ns], j = 0..h-1. */
  readonly cell: Float64Array;
  readonly h: number;
  shapes = 0;

  constructor(readonly ns: number) {
    this.h = Math.floor(ns / 2);
    this.cell = new Float64Array(this.h);
  }

  /**
   * Adds an empirical shape (section 4 as written, no Monte Carlo allowance): `topAscending`
   * holds the h largest values of eta in ascending order and `positiveSum` the sum of all
   * positive values of eta (ns * M_hat).
   */
  add(topAscending: Float64Array, positiveSum: number): void {
    const { cell, h } = this;
    const inv = 1 / positiveSum;
    let prev = 0;
    let cum = 0;
    for (let j = 1, i = topAscending.length - 1; j <= h; j++, i--) {
      cum += topAscending[i];
      const P = cum * inv;
      const sup = Math.max(prev, P);
      if (sup > cell[j - 1]) cell[j - 1] = sup;
      prev = P;
    }
    this.shapes++;
  }

  /** Adds the shape Bplus/M+ of an upper band (see band.ts). */
  addBand(band: UpperBand): void {
    const { cell, h, ns } = this;
    const { w, a } = band;
    const K = w.length;
    if (!(Number.isFinite(band.M) && band.M > 0)) throw new RangeError(`addBand: M+ must be finite and > 0, got ${band.M}`);
    const inv = 1 / band.M;
    for (let j = 0; j < h; j++) {
      const q0 = j / ns;
      const q1 = (j + 1) / ns;
      let m = Infinity;
      for (let k = 0; k < K; k++) {
        const wk = w[k];
        const v = a[k] + (wk >= 0 ? wk * q1 : wk * q0);
        if (v < m) m = v;
      }
      // B+ <= M+ everywhere on [0, 1]; a NaN (never expected: M+ is checked finite and > 0)
      // counts as 1, the largest shape value, which can only lower Xi
      const r = m * inv;
      const sup = r >= 1 || Number.isNaN(r) ? 1 : r;
      if (sup > cell[j]) cell[j] = sup;
    }
    this.shapes++;
  }

  /**
   * R[j] = Xi(h/ns) - Xi(j/ns) = lower sum of 1/p over [j/ns, h/ns], for j = 0..h.
   * (Xi(1/2) - Xi(q) in the notation of ALGORITHM.md; h/ns <= 1/2, which is conservative.)
   */
  tail(): Float64Array {
    const { cell, h, ns } = this;
    const R = new Float64Array(h + 1);
    for (let j = h - 1; j >= 0; j--) {
      const m = cell[j];
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
    // An infinite or NaN G certifies nothing. (With G = Inf the search below would take
    // R[k] = Inf >= G as reachable and return 1 - (h-1)/ns: the gl-sound/2 false certificate.)
    if (!Number.isFinite(maxG) || Number.isNaN(R[0])) return { threshold: 1, certifiable: false };
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
