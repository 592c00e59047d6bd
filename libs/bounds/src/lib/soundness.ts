// Soundness simulation of the per-image verdict (ALGORITHM.md section 6) with synthetic base
// classifiers of KNOWN smoothed probability pA (no network, no image): for each (pA, threshold h,
// alpha) cell, nA ~ Binomial(n, pA) is drawn, pA_lower = Clopper-Pearson lower bound at level
// alpha, and the verdict is `certifies(pA_lower, h)` (pA_lower > max(h, 1/2)). When pA <= h the
// smoothed classifier is NOT certified robust by the bound, so a CERTIFIED verdict is a false
// certificate; its probability must be at most alpha.
//
// Each cell reports the simulated false-certificate rate with its Clopper-Pearson interval and
// the exact rate P(nA >= k*) (k* = the smallest count that certifies), computed from the binomial
// law. Sampling: one uniform per certification from the counter-based Philox4x32-10 generator
// of @glcert/stats (counter = (replication, cell, stream, 0), key = seed), turned into nA by
// inverting the binomial upper-tail function, so any cell or replication can be reproduced alone.

import { clopperPearsonLower, clopperPearsonUpper, lnGamma, philoxInto, seedKey, uniform53 } from '@glcert/stats';

import { certifies } from './solve';

/** Generator stream of the simulation (0-2 are certification's and the bound solver's). */
export const SOUNDNESS_STREAM = 7;

/** What the false-certification test reads of a cell, of the fixed or the sequential rule. */
export interface NullCellStats {
  /** Every certificate in this cell is false (pA at or below the threshold). */
  readonly nullCell: boolean;
  readonly alpha: number;
  readonly replications: number;
  /** certified when nullCell, else 0 */
  readonly falseCertificates: number;
  /** certified / replications */
  readonly rate: number;
  /** Exact P(certified) under the rule. */
  readonly exactRate: number;
}

/** One simulated cell of either rule: the test's fields plus what both reports print. */
export interface SimulatedCell extends NullCellStats {
  readonly pA: number;
  readonly certified: number;
  /** Two-sided Clopper-Pearson interval of `rate` at level `confidence` (each side confidence/2). */
  readonly ciLower: number;
  readonly ciUpper: number;
}

/** A cell of the fixed rule: nullCell is pA <= threshold, exactRate is P(nA >= k*) under Binomial(n, pA). */
export interface SoundnessCell extends SimulatedCell {
  readonly threshold: number;
  readonly n: number;
  /** The smallest nA that certifies (n + 1 when none does). */
  readonly kStar: number;
}

export interface SoundnessOptions {
  readonly pAs: readonly number[];
  readonly alphas: readonly number[];
  /** Thresholds to test for a given pA (default `defaultThresholds`). */
  readonly thresholds?: (pA: number) => number[];
  readonly n: number;
  readonly replications: number;
  readonly seed?: bigint;
  /** Non-coverage of the reported intervals (default 1e-3). */
  readonly confidence?: number;
  /** The verdict rule under test (default: Clopper-Pearson lower bound + `certifies`). */
  readonly rule?: (nA: number, n: number, alpha: number, threshold: number) => boolean;
}

/**
 * Thresholds for pA: the boundary h = pA (the hardest null: the false rate is largest there),
 * two nulls above it, and two non-null thresholds below (where certifying is correct).
 */
export function defaultThresholds(pA: number): number[] {
  const gap = 1 - pA;
  return [pA - 2 * gap, pA - gap / 2, pA, pA + gap / 4, pA + gap / 2].filter((h) => h > 0.5 && h < 1);
}

/** The section-6 verdict: Clopper-Pearson lower bound at alpha, certified iff > max(h, 1/2). */
export function cpVerdict(nA: number, n: number, alpha: number, threshold: number): boolean {
  return certifies(clopperPearsonLower(nA, n, alpha), threshold);
}

/** S[k] = P(X >= k) for X ~ Binomial(n, p), k = 0..n+1, summed from the top (accurate tails). */
export function binomialUpperTail(n: number, p: number): Float64Array {
  const S = new Float64Array(n + 2);
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  const lnN = lnGamma(n + 1);
  let acc = 0;
  for (let k = n; k >= 0; k--) {
    acc += Math.exp(lnN - lnGamma(k + 1) - lnGamma(n - k + 1) + k * lp + (n - k) * lq);
    S[k] = Math.min(1, acc);
  }
  S[0] = 1;
  return S;
}

/** X with P(X >= k) = S[k]: the largest k with S[k] > u (u uniform in (0, 1)). */
function invertUpperTail(S: Float64Array, u: number): number {
  let lo = 0; // S[0] = 1 > u
  let hi = S.length - 1; // S[n + 1] = 0 <= u
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (S[mid] > u) lo = mid;
    else hi = mid;
  }
  return lo;
}

/** Runs the grid; cells in the order pA, threshold, alpha. */
export function simulateSoundness(options: SoundnessOptions): SoundnessCell[] {
  const { pAs, alphas, n, replications } = options;
  const thresholdsOf = options.thresholds ?? defaultThresholds;
  const rule = options.rule ?? cpVerdict;
  const confidence = options.confidence ?? 1e-3;
  const [k0, k1] = seedKey(options.seed ?? 0n);
  const words = new Uint32Array(4);
  const cells: SoundnessCell[] = [];
  let cellIndex = 0;
  for (const pA of pAs) {
    const S = binomialUpperTail(n, pA);
    for (const threshold of thresholdsOf(pA)) {
      for (const alpha of alphas) {
        // the verdict depends on nA only: tabulate it once per cell
        const verdict = new Uint8Array(n + 1);
        let kStar = n + 1;
        for (let k = n; k >= 0; k--) {
          verdict[k] = rule(k, n, alpha, threshold) ? 1 : 0;
          if (verdict[k]) kStar = k;
        }
        let certified = 0;
        for (let r = 0; r < replications; r++) {
          philoxInto(r >>> 0, Math.floor(r / 2 ** 32), SOUNDNESS_STREAM, cellIndex, k0, k1, words);
          const nA = invertUpperTail(S, uniform53(words[0], words[1]));
          certified += verdict[nA];
        }
        const nullCell = pA <= threshold;
        let exactRate = 0;
        for (let k = 0; k <= n; k++) if (verdict[k]) exactRate += S[k] - S[k + 1];
        cells.push({
          pA,
          threshold,
          alpha,
          n,
          replications,
          nullCell,
          certified,
          falseCertificates: nullCell ? certified : 0,
          rate: certified / replications,
          exactRate,
          kStar,
          ciLower: clopperPearsonLower(certified, replications, confidence / 2),
          ciUpper: clopperPearsonUpper(certified, replications, confidence / 2),
        });
        cellIndex++;
      }
    }
  }
  return cells;
}

/**
 * The soundness verdict both simulations use: over the null cells (every certificate false), a
 * violation is an exact rate above alpha or an observed rate significantly above alpha (one-sided
 * Clopper-Pearson lower bound at 1e-3 / null cells, Bonferroni, above alpha). Also the totals the
 * reports print.
 */
export function nullCellTest<C extends NullCellStats>(cells: readonly C[]) {
  const nulls = cells.filter((c) => c.nullCell);
  const level = 1e-3 / Math.max(1, nulls.length);
  const violations = nulls.filter((c) => c.exactRate > c.alpha || clopperPearsonLower(c.falseCertificates, c.replications, level) > c.alpha);
  return {
    nulls,
    level,
    violations,
    certifications: cells.reduce((s, c) => s + c.replications, 0),
    falseCertificates: nulls.reduce((s, c) => s + c.falseCertificates, 0),
    maxExactOverAlpha: Math.max(...nulls.map((c) => c.exactRate / c.alpha)),
    maxObservedOverAlpha: Math.max(...nulls.map((c) => c.rate / c.alpha)),
  };
}

/** A compact fixed-width table of the cells (one line each). */
export function formatSoundnessTable(cells: readonly SoundnessCell[]): string {
  const lines = ['    pA  threshold   alpha   reps  certified  rate      exact     CI                   verdict'];
  for (const c of cells) {
    const verdict = !c.nullCell ? 'true certs' : c.ciLower <= c.alpha && c.exactRate <= c.alpha ? 'ok (<= alpha)' : 'VIOLATION';
    lines.push(
      `${c.pA.toFixed(3).padStart(6)}  ${c.threshold.toFixed(5).padStart(9)}  ${c.alpha.toExponential(0).padStart(6)}  ${String(c.replications).padStart(5)}  ` +
        `${String(c.certified).padStart(9)}  ${c.rate.toExponential(2).padStart(8)}  ${c.exactRate.toExponential(2).padStart(8)}  ` +
        `[${c.ciLower.toExponential(2)}, ${c.ciUpper.toExponential(2)}]  ${verdict}`,
    );
  }
  return lines.join('\n');
}
