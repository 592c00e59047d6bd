// Sequential certification (ALGORITHM.md section 9): adaptive selection on stream 0, then looks
// at doubling sizes on stream 1, each at a level fixed before sampling ("ends" spending), with
// futility stops. The guarantee is the union bound over the looks: P(exists k: pA < L_k) <=
// sum_k alpha_k <= alpha whatever the dependence between looks, so testing only at sizes and
// levels that are a pure function of (h_eff, alpha, n_max) keeps P(false certificate) <= alpha.
// Abstaining is never a false claim, so the futility stops cannot hurt it. Pure: no I/O; the
// certifier and the verifier both call these functions, so the verifier recomputes exactly what
// the certifier used.

import { clopperPearsonLower, clopperPearsonUpper, minSamplesToCertify } from './clopper-pearson';

/**
 * The rule and its version, recorded in certificates: ratio 2, "ends" spending, Clopper-Pearson
 * at each look, futility by the upper bound at beta and by unreachability, adaptive selection in
 * blocks of 32 until >= 95 % agree. Any change to these functions needs a new name.
 */
export const SEQUENTIAL_RULE = 'glcert-sequential/1';
/** Growth of the look sizes: n_{k+1} = min(ceil(ratio n_k), n_max). */
export const SEQUENTIAL_RATIO = 2;
/** Level of the futility test (the one-sided Clopper-Pearson upper bound below h_eff). */
export const DEFAULT_FUTILITY_BETA = 0.001;
/** Adaptive selection: blocks of this many samples of stream 0. */
export const SELECTION_BLOCK = 32;
/** Adaptive selection stops once at least this many samples are drawn and ... */
export const SELECTION_MIN = 32;
/** ... the top class holds at least 19/20 (95 %) of them (integer arithmetic: no rounding). */
const SELECTION_AGREE_NUM = 19;
const SELECTION_AGREE_DEN = 20;

export interface Look {
  /** Samples 0 .. n - 1 of stream 1 are counted at this look. */
  readonly n: number;
  /** The Clopper-Pearson level alpha_k of this look. */
  readonly level: number;
}

function checkInputs(hEff: number, alpha: number, nMax: number): void {
  if (!(hEff >= 0.5 && hEff <= 1)) throw new RangeError(`h_eff must be in [1/2, 1], got ${hEff}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${alpha}`);
  if (!Number.isSafeInteger(nMax) || nMax < 1) throw new RangeError(`n_max must be an integer >= 1, got ${nMax}`);
}

/**
 * The looks of the rule: sizes n_1 < ... < n_K = n_max and levels summing to at most alpha.
 * n_1 = n_first(alpha/3), the smallest n with (alpha/3)^(1/n) > h_eff (below it no count could
 * certify at the first look's level); when n_1 >= n_max there is one look, (n_max, alpha): the
 * fixed rule of section 6. Levels: K = 2: alpha/2 each; K >= 3: alpha/3 at the first and the last
 * look, alpha/(3(K - 2)) at each look between (most images stop at the first look, borderline ones
 * need the last). Levels are scaled down by 2^-40 in the rare case their floating-point sum would
 * exceed alpha, so sum <= alpha holds in floating point too.
 */
export function sequentialSchedule(hEff: number, alpha: number, nMax: number): Look[] {
  checkInputs(hEff, alpha, nMax);
  // ln a / ln h first: minSamplesToCertify settles rounding one n at a time, which for h within
  // a few ulps of 1 would take as many steps as n is large
  const estimate = Math.log(alpha / 3) / Math.log(hEff);
  const first = estimate < nMax + 1 ? minSamplesToCertify(hEff, alpha / 3) : Infinity;
  if (!(first < nMax)) return [{ n: nMax, level: alpha }];
  const sizes = [first];
  while (sizes[sizes.length - 1]! < nMax) sizes.push(Math.min(Math.ceil(SEQUENTIAL_RATIO * sizes[sizes.length - 1]!), nMax));
  const K = sizes.length;
  let levels = K === 2 ? [alpha / 2, alpha / 2] : sizes.map((_, k) => (k === 0 || k === K - 1 ? alpha / 3 : alpha / (3 * (K - 2))));
  if (sumInOrder(levels) > alpha) levels = levels.map((l) => l * (1 - 2 ** -40));
  return sizes.map((n, k) => ({ n, level: levels[k]! }));
}

/** Left-to-right floating-point sum (the order the property tests and the verifier use). */
export function sumInOrder(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}

/** Why a sequential certification stopped. */
export type StopReason =
  /** L_k > h_eff at look k. */
  | 'certified'
  /** The Clopper-Pearson upper bound at beta is below h_eff: pA is very likely too small. */
  | 'futility-upper'
  /** Even if every later sample were of class cA, no later look could certify. */
  | 'futility-unreachable'
  /** The last look did not certify. */
  | 'last-look';

export type LookDecision =
  | { readonly stop: true; readonly reason: StopReason; readonly paLower: number }
  | { readonly stop: false; readonly paLower: number };

/**
 * The decision at look `k` (0-based) of `schedule` with nA counts of cA among its n_k samples:
 * certified iff the Clopper-Pearson lower bound at alpha_k exceeds h_eff (strictly, as in
 * section 6, with h_eff = max(h*, 1/2)); otherwise abstain at the last look or when futile;
 * otherwise continue to look k + 1.
 */
export function decideAtLook(schedule: readonly Look[], k: number, nA: number, hEff: number, beta: number = DEFAULT_FUTILITY_BETA): LookDecision {
  if (!Number.isSafeInteger(k) || k < 0 || k >= schedule.length) throw new RangeError(`look must be in [0, ${schedule.length - 1}], got ${k}`);
  if (!(beta > 0 && beta < 1)) throw new RangeError(`beta must be in (0, 1), got ${beta}`);
  const look = schedule[k]!;
  const paLower = clopperPearsonLower(nA, look.n, look.level);
  if (paLower > hEff) return { stop: true, reason: 'certified', paLower };
  if (k === schedule.length - 1) return { stop: true, reason: 'last-look', paLower };
  if (clopperPearsonUpper(nA, look.n, beta) < hEff) return { stop: true, reason: 'futility-upper', paLower };
  if (!canCertifyLater(schedule, k, nA, hEff)) return { stop: true, reason: 'futility-unreachable', paLower };
  return { stop: false, paLower };
}

/** Whether some later look j could certify if all n_j - n_k samples drawn before it were cA. */
export function canCertifyLater(schedule: readonly Look[], k: number, nA: number, hEff: number): boolean {
  const nk = schedule[k]!.n;
  for (let j = k + 1; j < schedule.length; j++) {
    const { n, level } = schedule[j]!;
    if (clopperPearsonLower(nA + (n - nk), n, level) > hEff) return true;
  }
  return false;
}

/** One sequential run over nested counts: what a certifier or a simulation does with them. */
export interface SequentialOutcome {
  /** 0-based index of the look where it stopped. */
  readonly look: number;
  readonly reason: StopReason;
  readonly n: number;
  readonly nA: number;
  readonly level: number;
  readonly paLower: number;
}

/**
 * Runs the looks of `schedule` with `countAt(n)` = the count of cA among samples 0 .. n - 1 (the
 * looks are nested: the same samples, however they were drawn). Synchronous form for
 * simulations and tests; the certifier drives decideAtLook itself between sampler rounds.
 */
export function runSequential(schedule: readonly Look[], hEff: number, countAt: (n: number) => number, beta: number = DEFAULT_FUTILITY_BETA): SequentialOutcome {
  for (let k = 0; ; k++) {
    const { n, level } = schedule[k]!;
    const nA = countAt(n);
    const d = decideAtLook(schedule, k, nA, hEff, beta);
    if (d.stop) return { look: k, reason: d.reason, n, nA, level, paLower: d.paLower };
  }
}

/**
 * Adaptive selection (section 9 step 1; any rule reading stream 0 alone is valid): true once at
 * least SELECTION_MIN samples are drawn and the top class holds >= 95 % of them, or n0_max are.
 */
export function selectionDone(counts: readonly number[], drawn: number, n0Max: number): boolean {
  if (drawn >= n0Max) return true;
  if (drawn < SELECTION_MIN) return false;
  let top = 0;
  for (const c of counts) if (c > top) top = c;
  return top * SELECTION_AGREE_DEN >= drawn * SELECTION_AGREE_NUM;
}

/** Size of the next selection block after `drawn` samples (0 when selection is done at n0_max). */
export function nextSelectionBlock(drawn: number, n0Max: number): number {
  return Math.max(0, Math.min(SELECTION_BLOCK, n0Max - drawn));
}

/**
 * Whether `n0` drawn samples with final `counts` is where the adaptive rule can stop: n0 is a
 * whole number of blocks (or n0_max) and the stop condition holds there. The verifier's check of
 * a certificate's selection (earlier blocks are not recorded; their replay is the audit's job).
 */
export function selectionStopValid(counts: readonly number[], n0: number, n0Max: number): boolean {
  if (!Number.isSafeInteger(n0) || n0 < 1 || n0 > n0Max) return false;
  if (n0 !== n0Max && n0 % SELECTION_BLOCK !== 0) return false;
  let total = 0;
  for (const c of counts) total += c;
  return total === n0 && selectionDone(counts, n0, n0Max);
}
