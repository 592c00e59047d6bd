import { thresholdFloor } from '@glcert/bounds';
import { Outcome, type ThreatModel } from '@glcert/contracts';
import { validateThreatModelEntries } from '@glcert/transforms';

/**
 * The verdict rule (ALGORITHM.md section 6): certified iff the Clopper-Pearson lower bound
 * beats the threshold and 1/2. Strict inequalities: a tie never certifies.
 */
export function decideOutcome(paLower: number, threshold: number): Outcome {
  return paLower > threshold && paLower > 0.5 ? Outcome.OUTCOME_CERTIFIED : Outcome.OUTCOME_ABSTAINED;
}

/**
 * The selection's class (ALGORITHM.md section 6): the largest count, ties to the lowest class
 * index, so the certifier and a replay pick the same class. -1 for an empty vector.
 */
export function argmaxLowest(counts: ReadonlyArray<number>): number {
  let best = -1;
  for (let i = 0; i < counts.length; i++) if (best < 0 || counts[i]! > counts[best]!) best = i;
  return best;
}

/** How far below the floor a threshold may sit before it is refused (rounding of Phi, not slack). */
export const THRESHOLD_FLOOR_TOLERANCE = 1e-12;

export type ThresholdFloor =
  /** `value` null: no exact threshold is known for this transform (gc, r; cb/cbt without b = 0 in the box). */
  | { ok: true; value: number | null; rule: string }
  /** The threat model itself is not one any certificate may carry (unknown transform or name, outside the domains). */
  | { ok: false; problems: string[] };

/**
 * The smallest threshold a sound bound may give for a certificate's threat model (@glcert/bounds
 * `thresholdFloor`: the exact threshold of the box where it is known). A certificate whose
 * threshold is below it certifies more than is true, whoever signed it. The threat model goes
 * through the shared wire validator first, so names like `constructor` or `__proto__` are a
 * problem like any unknown name.
 */
export function thresholdFloorOf(tm: ThreatModel | undefined): ThresholdFloor {
  if (!tm) return { ok: false, problems: ['threat_model: missing'] };
  const checked = validateThreatModelEntries({ transform: tm.transform, box: tm.box, smoothing: tm.smoothing });
  if (!checked.ok) return { ok: false, problems: checked.violations.map((v) => `${v.field}: ${v.message}`) };
  const { spec, lo, hi, sigma } = checked.value;
  try {
    const floor = thresholdFloor(spec, sigma, lo, hi);
    return floor ? { ok: true, value: floor.threshold, rule: floor.rule } : { ok: true, value: null, rule: `no exact threshold is known for transform '${spec.key}'` };
  } catch (e) {
    // the validator's domains are narrower than thresholdFloor's: not expected, but never a throw
    return { ok: false, problems: [`threat_model: ${(e as Error).message}`] };
  }
}
