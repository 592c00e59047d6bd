// Soundness simulation of the sequential rule (ALGORITHM.md section 9) with synthetic base
// classifiers of KNOWN smoothed probability pA: for each (pA, h_eff, n_max, alpha) cell the looks
// of `sequentialSchedule` are run on nested counts (the count at look k is the count at look
// k - 1 plus a fresh Binomial(n_k - n_{k-1}, pA) increment, exactly as nested prefixes of one
// Bernoulli stream behave), with the decision of `decideAtLook`. A certificate is false when
// pA <= h_eff; its rate must stay <= alpha. Each cell also reports the EXACT rate, computed by
// propagating the law of nA through the looks (dynamic programming), and the mean samples drawn.
// Selection is not simulated: it only picks which class is tested, and a null class is null
// whichever way it was picked. The same test as the fixed rule's simulation
// (tools/soundness/simulate.ts) decides a violation.

import { binomialUpperTail, type SimulatedCell } from '@glcert/bounds';
import {
  clopperPearsonLower,
  clopperPearsonUpper,
  decideAtLook,
  DEFAULT_FUTILITY_BETA,
  philoxInto,
  seedKey,
  sequentialSchedule,
  uniform53,
  type Look,
} from '@glcert/stats';

/** Generator stream of this simulation (7 is the fixed rule's). */
export const SEQUENTIAL_SOUNDNESS_STREAM = 8;

/**
 * A cell of the sequential rule: nullCell is pA <= h_eff, exactRate is P(certified) with the law
 * of nA propagated through the looks.
 */
export interface SequentialCell extends SimulatedCell {
  readonly hEff: number;
  readonly nMax: number;
  readonly looks: readonly number[];
  /** Mean estimation samples drawn (n at the stopping look). */
  readonly meanSamples: number;
}

export interface SequentialSoundnessOptions {
  readonly cells: ReadonlyArray<{ pA: number; hEff: number; nMax: number }>;
  readonly alphas: readonly number[];
  readonly replications: number;
  readonly seed?: bigint;
  readonly beta?: number;
  readonly confidence?: number;
  /**
   * The schedule under test (default: `sequentialSchedule`). A positive control passes an
   * unsound one (every look at the full alpha) to show the simulation sees violations.
   */
  readonly schedule?: (hEff: number, alpha: number, nMax: number) => Look[];
}

/**
 * Per look: nA >= certifyAt certifies; nA < continueFrom stops (last look or futile); between:
 * go on. The decision is monotone in nA (Clopper-Pearson bounds increase with the count, and
 * so does the best reachable count), so two thresholds found by bisection describe it; the
 * CI test checks them against decideAtLook at every count.
 */
export interface LookThresholds {
  readonly n: number;
  readonly certifyAt: number;
  readonly continueFrom: number;
}

export function lookThresholds(schedule: readonly Look[], hEff: number, beta: number): LookThresholds[] {
  return schedule.map((look, k) => {
    const certifies = (nA: number): boolean => {
      const d = decideAtLook(schedule, k, nA, hEff, beta);
      return d.stop && d.reason === 'certified';
    };
    const goesOn = (nA: number): boolean => {
      const d = decideAtLook(schedule, k, nA, hEff, beta);
      return !d.stop || d.reason === 'certified';
    };
    const certifyAt = firstTrue(certifies, look.n);
    const continueFrom = k === schedule.length - 1 ? certifyAt : Math.min(firstTrue(goesOn, look.n), certifyAt);
    return { n: look.n, certifyAt, continueFrom };
  });
}

/** Smallest x in [0, n] with pred(x) (pred monotone), n + 1 when none. */
function firstTrue(pred: (x: number) => boolean, n: number): number {
  let lo = 0;
  let hi = n + 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (pred(mid)) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Inverse of an upper tail S (P(X >= k) = S[k]): the largest k with S[k] > u. */
function invertUpperTail(S: Float64Array, u: number): number {
  let lo = 0;
  let hi = S.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (S[mid]! > u) lo = mid;
    else hi = mid;
  }
  return lo;
}

function exactRun(th: readonly LookThresholds[], tails: Map<number, Float64Array>): { certified: number; meanSamples: number } {
  // law of nA over the paths still going on, at the current look
  let law = new Float64Array(1);
  law[0] = 1;
  let prevN = 0;
  let certified = 0;
  let meanSamples = 0;
  for (const look of th) {
    const S = tails.get(look.n - prevN)!;
    const d = look.n - prevN;
    const next = new Float64Array(look.n + 1);
    for (let a = 0; a < law.length; a++) {
      const w = law[a]!;
      if (w === 0) continue;
      for (let x = 0; x <= d; x++) next[a + x]! += w * (S[x]! - S[x + 1]!);
    }
    let stopped = 0;
    for (let a = 0; a <= look.n; a++) {
      if (a >= look.certifyAt) certified += next[a]!;
      if (a >= look.certifyAt || a < look.continueFrom) {
        stopped += next[a]!;
        next[a] = 0;
      }
    }
    meanSamples += stopped * look.n;
    law = next;
    prevN = look.n;
  }
  return { certified, meanSamples };
}

/** Runs the cells x alphas; cells in the given order, alphas inner. */
export function simulateSequentialSoundness(options: SequentialSoundnessOptions): SequentialCell[] {
  const { replications } = options;
  const beta = options.beta ?? DEFAULT_FUTILITY_BETA;
  const confidence = options.confidence ?? 1e-3;
  const scheduleOf = options.schedule ?? sequentialSchedule;
  const [k0, k1] = seedKey(options.seed ?? 0n);
  const words = new Uint32Array(4);
  const out: SequentialCell[] = [];
  let cellIndex = 0;
  for (const { pA, hEff, nMax } of options.cells) {
    for (const alpha of options.alphas) {
      const schedule = scheduleOf(hEff, alpha, nMax);
      const th = lookThresholds(schedule, hEff, beta);
      const tails = new Map<number, Float64Array>();
      let prev = 0;
      for (const l of schedule) {
        if (!tails.has(l.n - prev)) tails.set(l.n - prev, binomialUpperTail(l.n - prev, pA));
        prev = l.n;
      }
      let certified = 0;
      let samples = 0;
      for (let r = 0; r < replications; r++) {
        let nA = 0;
        let prevN = 0;
        for (let k = 0; k < th.length; k++) {
          const look = th[k]!;
          // counter (replication, cell, stream, look): any replication reproducible alone
          philoxInto(r >>> 0, cellIndex, SEQUENTIAL_SOUNDNESS_STREAM, k, k0, k1, words);
          nA += invertUpperTail(tails.get(look.n - prevN)!, uniform53(words[0]!, words[1]!));
          prevN = look.n;
          if (nA >= look.certifyAt) {
            certified++;
            break;
          }
          if (nA < look.continueFrom) break;
        }
        samples += prevN;
      }
      const exact = exactRun(th, tails);
      const nullCell = pA <= hEff;
      out.push({
        pA,
        hEff,
        nMax,
        alpha,
        looks: schedule.map((l) => l.n),
        replications,
        nullCell,
        certified,
        falseCertificates: nullCell ? certified : 0,
        rate: certified / replications,
        exactRate: exact.certified,
        meanSamples: samples / replications,
        ciLower: clopperPearsonLower(certified, replications, confidence / 2),
        ciUpper: clopperPearsonUpper(certified, replications, confidence / 2),
      });
      cellIndex++;
    }
  }
  return out;
}

/** One line per cell. */
export function formatSequentialTable(cells: readonly SequentialCell[]): string {
  const lines = ['     pA     h_eff  n_max   alpha   reps  certified  rate      exact     mean n   looks'];
  for (const c of cells) {
    lines.push(
      `${c.pA.toFixed(5).padStart(8)}  ${c.hEff.toFixed(5)}  ${String(c.nMax).padStart(5)}  ${c.alpha.toExponential(0).padStart(6)}  ${String(c.replications).padStart(5)}  ` +
        `${String(c.certified).padStart(9)}  ${c.rate.toExponential(2).padStart(8)}  ${c.exactRate.toExponential(2).padStart(8)}  ${c.meanSamples.toFixed(0).padStart(7)}   ${c.looks.join(',')}`,
    );
  }
  return lines.join('\n');
}
