// An upper confidence band on B(q), the integral of the upper quantile function of a score
// projection eta (ALGORITHM.md section 4, step 1), from a Monte Carlo sample.
//
// Why: section 4 as written plugs the empirical B_hat into the bound. B_hat(q) has a relative
// Monte Carlo error of about 1% at ns = 20000, and a threshold computed from an underestimate of
// B certifies more than is true (measured: up to 0.003 below the exact closed forms). What the
// GL argument needs is only a pointwise upper bound: if B_beta(q) <= Bplus_beta(q) for every q
// and every evaluated (beta, u), then with M+ = max_q Bplus and p(q) = max over (beta, u) of
// Bplus(q)/M+ we have B_beta(q) <= M+(beta, u) p(q), which is all the path argument uses
// (dQ/dt <= |delta| B(Q) <= |delta| M+ p(Q)). So the threshold is sound whenever the band holds.
//
// The band (variational form of B, as for CVaR): for every real w,
//     B(q) = min_w { q w + g(w) },   g(w) = E[(eta - w)^+],
// so B(q) <= q w + g(w) for ANY fixed w, with equality at the upper q-quantile. Given upper
// confidence bounds a_k >= g(w_k) at finitely many levels w_k,
//     Bplus(q) = min_k (a_k + q w_k)
// bounds B on all of [0, 1] at once (no uniformity argument over q is needed); it is concave and
// piecewise linear. The levels must not depend on the sample that estimates g: they are upper
// quantiles of eta at fixed probabilities q_k in an independent pilot sample (other counters of
// the same generator stream), plus w = 0 (a_0 >= g(0) = M).
//
// Each a_k is a one-sided CLT bound on the mean g(w_k) = E[Y] with z = Phi^-1(1 - delta/(levels x
// directions)): a Bonferroni union over every level of every distinct score direction of the
// solve, so all bands hold together with probability >= 1 - delta (asymptotically, see below).
// Y is the Rao-Blackwellised term of conditional.ts, E[(eta - w)^+ | rest], which has the same
// mean as (eta - w)^+ and no more variance; where eta is exactly normal it is a constant and
// the band is exact.
//
// Honest limits. The CLT is asymptotic. It is used only on Y >= 0 (bounded below), whose mean has
// a lower tail lighter than normal when Y is right-skewed, as every Y here is; levels need about
// MIN_EXCEEDANCES expected exceedances, and a level with fewer than MIN_COUNT actual ones is left
// out (fewer lines only make the band larger). We tried control variates in powers of eta
// (degree 4): they shrink the band five-fold but give the residual heavy lower tails, and the
// measured coverage was 2-17 times worse than nominal (tools/soundness/band-coverage.ts); not used.
// psi is read from a table with linear interpolation: psi is convex, so the chord lies above it
// and the table can only overestimate g.

import { normalCdf, normalPdf, normalQuantile, normalSf } from '@glcert/stats';

import type { ConditionalLaw } from './conditional';
import { NumericDomainError } from './errors';

/** Minimum expected number of exceedances (q_k ns) for a band level. */
export const MIN_EXCEEDANCES = 50;
/** Levels whose estimation sample has fewer exceedances than this are left out. */
const MIN_COUNT = 20;
/** Ratio between consecutive band levels q_k (geometric grid from q_min to 1/2). */
export const LEVEL_RATIO = 1.15;

/**
 * The band levels q_k: geometric (ratio LEVEL_RATIO) from qMin up to 1/2 (inclusive). The
 * default qMin = MIN_EXCEEDANCES/ns suits a Monte Carlo band; a known law (no CLT) can go down
 * to what the pilot resolves, `lawLevelMin`.
 */
export function bandLevels(ns: number, qMin = MIN_EXCEEDANCES / ns): Float64Array {
  qMin = Math.min(0.5, Math.max(qMin, 1e-6));
  const levels: number[] = [];
  for (let q = 0.5; q >= qMin * (1 - 1e-12); q /= LEVEL_RATIO) levels.push(q);
  if (levels[levels.length - 1] > qMin * (1 + 1e-9)) levels.push(qMin);
  return Float64Array.from(levels.reverse());
}

/** Pilot sample size for ns score samples: enough for the quantiles that place the levels. */
export function pilotSize(ns: number): number {
  return Math.max(4096, Math.ceil(ns / 8));
}

/** Lowest level for a known law: what the pilot resolves (2 values above), or one cell 1/ns. */
export function lawLevelMin(ns: number): number {
  return Math.max(2 / pilotSize(ns), 1 / ns);
}

/** One-sided normal quantile for a union of `tests` bounds at total failure probability delta. */
export function bonferroniZ(delta: number, tests: number): number {
  return -normalQuantile(delta / Math.max(1, tests));
}

// psi(x) = x Phi(x) + phi(x) = E[(x + Z)^+] on [-PSI_MAX, PSI_MAX], step 1/PSI_STEPS.
const PSI_MAX = 10;
const PSI_STEPS = 512;
const PSI = (() => {
  const n = 2 * PSI_MAX * PSI_STEPS;
  const t = new Float64Array(n + 2);
  for (let i = 0; i <= n; i++) {
    const x = -PSI_MAX + i / PSI_STEPS;
    // x >= 0: x + psi(-x); x < 0: phi(x) - |x| Phi(-|x|) >= 0
    const v = x >= 0 ? x + normalPdf(x) - x * normalSf(x) : normalPdf(x) + x * normalCdf(x);
    t[i] = Math.max(0, v);
  }
  t[n + 1] = t[n] + 1 / PSI_STEPS; // slope 1 beyond the table
  return t;
})();
const PSI_FLOOR = PSI[0];

/** An upper bound of psi(x) (exact to ~2e-7 inside [-10, 10]; convexity makes the chord an upper bound). */
export function psiUpper(x: number): number {
  if (x <= -PSI_MAX) return PSI_FLOOR; // psi increasing
  if (x >= PSI_MAX) return x + PSI_FLOOR; // psi(x) = x + psi(-x) <= x + psi(-10)
  const u = (x + PSI_MAX) * PSI_STEPS;
  const i = Math.floor(u);
  const f = u - i;
  return PSI[i] + f * (PSI[i + 1] - PSI[i]);
}

/** g(w) = E[(eta - w)^+] for eta = a (2E - 2), E ~ Exp(1) (exact). */
export function expExcess(a: number, w: number): number {
  if (a > 0) {
    const t = 1 + w / (2 * a); // 2a E[(E - t)^+]
    return 2 * a * (t >= 0 ? Math.exp(-t) : 1 - t);
  }
  if (a < 0) {
    const t = 1 - w / (-2 * a); // -2a E[(t - E)^+] = -2a (t - 1 + e^-t)
    return t <= 0 ? 0 : -2 * a * Math.max(0, t + Math.expm1(-t));
  }
  return Math.max(0, -w);
}

/** B(q) <= min_k (a[k] + w[k] q) for q in [0, 1]; M >= max_q B(q). */
export interface UpperBand {
  readonly w: Float64Array;
  readonly a: Float64Array;
  /** max over q in [0, 1] of min_k (a_k + w_k q): an upper bound of M = max_q B(q). */
  readonly M: number;
}

/** The value min_k (a_k + w_k q). */
export function bandAt(band: Pick<UpperBand, 'w' | 'a'>, q: number): number {
  let m = Infinity;
  for (let k = 0; k < band.w.length; k++) {
    const v = band.a[k] + band.w[k] * q;
    if (v < m) m = v;
  }
  return m;
}

/** max over q in [0, 1] of the concave piecewise-linear min_k (a_k + w_k q). */
function bandMax(w: Float64Array, a: Float64Array): number {
  const band = { w, a };
  // The maximum sits at an end or where a line of slope > 0 meets one of slope <= 0.
  let best = Math.max(bandAt(band, 0), bandAt(band, 1));
  for (let i = 0; i < w.length; i++) {
    if (!(w[i] > 0)) continue;
    for (let j = 0; j < w.length; j++) {
      if (!(w[j] <= 0)) continue;
      const q = (a[j] - a[i]) / (w[i] - w[j]);
      if (q > 0 && q < 1) best = Math.max(best, bandAt(band, q));
    }
  }
  return best;
}

export interface BandInput {
  /**
   * The law of eta when it is known (conditional.ts): the band is then deterministic. null:
   * Monte Carlo on `eta` with a CLT bound at quantile `z`.
   */
  readonly law: ConditionalLaw | null;
  /** The estimation sample of eta (used when `law` is null), ns values. */
  readonly eta: Float64Array | null;
  /** An independent pilot sample of eta, sorted DESCENDING (places the levels). */
  readonly pilotDescending: Float64Array;
  /** Probabilities q_k of the levels, e.g. `bandLevels(ns)`. */
  readonly levels: Float64Array;
  /** One-sided normal quantile applied to every Monte Carlo level. */
  readonly z: number;
}

/** Upper bound of g(w) = E[(eta - w)^+] for a known law (no Monte Carlo). */
export function lawExcess(law: ConditionalLaw, w: number): number {
  switch (law.kind) {
    case 'normal':
      return law.sd * psiUpper(-w / law.sd);
    case 'exp':
      return expExcess(law.a, w);
    case 'strata': {
      const { mHi, sHi, mass } = law;
      let sum = 0;
      for (let j = 0; j < mass.length; j++) {
        const sd = sHi[j];
        const d = mHi[j] - w;
        sum += mass[j] * (sd > 0 ? sd * psiUpper(d / sd) : d > 0 ? d : 0);
      }
      return sum + law.tail(w);
    }
  }
}

/**
 * Upper band on B(q) = integral_0^q (upper quantile of eta): deterministic for a known law,
 * else a Monte Carlo confidence band. Returns null only when eta is identically zero (B = 0:
 * the direction contributes nothing).
 */
export function upperBand(input: BandInput): UpperBand | null {
  const { law, eta, pilotDescending: pilot, levels, z } = input;
  const np = pilot.length;
  if (law?.kind === 'normal' && !(Number.isFinite(law.sd) && law.sd >= 0)) throw new NumericDomainError(`score law: sd = ${law.sd}`);
  if (law?.kind === 'exp' && !Number.isFinite(law.a)) throw new NumericDomainError(`score law: scale = ${law.a}`);
  if (law?.kind === 'normal' && law.sd === 0) return null;
  if (law?.kind === 'exp' && law.a === 0) return null;
  if (law === null) {
    if (eta === null) throw new TypeError('upperBand: a Monte Carlo band needs the sample eta');
    let any = false;
    for (let i = 0; i < eta.length && !any; i++) any = eta[i] !== 0;
    for (let i = 0; i < np && !any; i++) any = pilot[i] !== 0;
    if (!any) return null;
  }

  // Levels: pilot upper quantiles at q_k, and 0; descending, deduplicated.
  const raw: number[] = [0];
  for (let k = 0; k < levels.length; k++) {
    const idx = Math.min(np - 1, Math.max(0, Math.ceil(levels[k] * np) - 1));
    raw.push(pilot[idx]);
  }
  raw.sort((x, y) => y - x);
  const wl: number[] = [];
  for (const v of raw) if (wl.length === 0 || v < wl[wl.length - 1]) wl.push(v);

  const keepW: number[] = [];
  const keepA: number[] = [];
  if (law !== null) {
    for (const w of wl) {
      keepW.push(w);
      keepA.push(lawExcess(law, w));
    }
  } else {
    const x = eta!;
    const n = x.length;
    for (const w of wl) {
      let sum = 0;
      let sum2 = 0;
      let sum3 = 0;
      let count = 0;
      for (let i = 0; i < n; i++) {
        const d = x[i] - w;
        if (d > 0) {
          sum += d;
          const d2 = d * d;
          sum2 += d2;
          sum3 += d2 * d;
          count++;
        }
      }
      if (count < MIN_COUNT) continue; // too few terms for the CLT: leave the level out
      const mean = sum / n;
      const m2 = Math.max(0, sum2 / n - mean * mean);
      const m3 = sum3 / n - 3 * mean * (sum2 / n) + 2 * mean * mean * mean;
      const sd = Math.sqrt(m2 * (n / (n - 1)));
      // Hall's (1992) skewness correction of the studentised one-sided bound: a right-skewed Y
      // makes the mean and the sd estimate rise and fall together, so the plain t bound fails
      // more often than nominal; never corrected downwards.
      const skew = m2 > 0 ? Math.max(0, m3 / m2 ** 1.5) : 0;
      const zc = z + (skew * (2 * z * z + 1)) / (6 * Math.sqrt(n));
      keepW.push(w);
      keepA.push(mean + zc * (sd / Math.sqrt(n)));
    }
  }
  // A band that cannot be computed certifies nothing (the solver answers threshold 1).
  if (keepW.length === 0) throw new NumericDomainError('score band: no level has enough exceedances (is the score degenerate?)');
  for (let k = 0; k < keepW.length; k++) {
    if (!Number.isFinite(keepW[k]) || !Number.isFinite(keepA[k])) {
      throw new NumericDomainError(`score band: level ${keepW[k]} has the bound ${keepA[k]} in double precision`);
    }
  }
  const w = Float64Array.from(keepW);
  const a = Float64Array.from(keepA);
  const M = bandMax(w, a);
  if (!(M > 0 && Number.isFinite(M))) throw new NumericDomainError(`score band: the bound on M is ${M}`);
  return { w, a, M };
}
