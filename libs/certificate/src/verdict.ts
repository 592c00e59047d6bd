import { Outcome } from '@glcert/contracts';

/**
 * The verdict rule (ALGORITHM.md section 6): certified iff the Clopper-Pearson lower bound
 * beats the threshold and 1/2. Strict inequalities: a tie never certifies.
 */
export function decideOutcome(paLower: number, threshold: number): Outcome {
  return paLower > threshold && paLower > 0.5 ? Outcome.OUTCOME_CERTIFIED : Outcome.OUTCOME_ABSTAINED;
}
