import type { Certificate } from '@glcert/contracts';
import { decideAtLook, nextSelectionBlock, selectionDone, selectionStopValid, SEQUENTIAL_RULE, sequentialSchedule, type Look } from '@glcert/stats';

export interface SequentialCheck {
  /** The level pa_lower must be computed at (alpha_k of the recorded look); null when it cannot be known. */
  level: number | null;
  problems: string[];
}

/**
 * The model-free check of a sequential certificate's record (ALGORITHM.md section 9): the schedule
 * recomputed from (max(threshold, 1/2), alpha, n_max) under the recorded rule, the look's size
 * and level, the stop decision at that look, and where the selection stopped. Earlier looks are
 * not recorded (their counts are the audit's replay); a certificate stopping at look k claims only
 * what look k's level allows, and the levels of all looks sum to at most alpha.
 */
export function checkSequentialRecord(cert: Certificate, tol: number): SequentialCheck {
  const rec = cert.sequential!;
  const problems: string[] = [];
  const fail = (p: string): SequentialCheck => ({ level: null, problems: [...problems, p] });
  if (rec.rule !== SEQUENTIAL_RULE) return fail(`sequential.rule: '${String(rec.rule).slice(0, 64)}' is not a known rule (${SEQUENTIAL_RULE})`);
  const nMax = Number(rec.nMax);
  const n0Max = Number(rec.n0Max);
  const n = Number(cert.n);
  const n0 = Number(cert.n0);
  if (!Number.isSafeInteger(nMax) || nMax < 1) return fail(`sequential.n_max: ${rec.nMax} is not a positive sample count`);
  if (!Number.isSafeInteger(n0Max) || n0Max < 1) return fail(`sequential.n0_max: ${rec.n0Max} is not a positive sample count`);
  if (!(rec.beta > 0 && rec.beta < 1)) return fail(`sequential.beta: ${rec.beta} is not in (0, 1)`);
  if (!(cert.threshold >= 0 && cert.threshold <= 1)) return fail(`sequential: the schedule needs a threshold in [0, 1], got ${cert.threshold}`);
  if (!(cert.alpha > 0 && cert.alpha < 1)) return fail(`sequential: the schedule needs alpha in (0, 1), got ${cert.alpha}`);
  if (nMax > 1e9) return fail(`sequential.n_max: ${nMax} is above the largest schedule checked (1e9)`);
  const hEff = Math.max(cert.threshold, 0.5);
  const schedule: Look[] = sequentialSchedule(hEff, cert.alpha, nMax);
  const K = schedule.length;
  if (rec.looks !== K) problems.push(`sequential.looks: certificate says ${rec.looks}, the schedule of (h_eff ${hEff}, alpha ${cert.alpha}, n_max ${nMax}) has ${K}`);
  if (!Number.isSafeInteger(rec.look) || rec.look < 1 || rec.look > K) return fail(`sequential.look: ${rec.look} is not in [1, ${K}]`);
  const look = schedule[rec.look - 1]!;
  if (n !== look.n) problems.push(`n: certificate says ${cert.n}, look ${rec.look} of the schedule is n = ${look.n}`);
  if (!close(rec.level, look.level, tol)) problems.push(`sequential.level: certificate says ${rec.level}, look ${rec.look} of the schedule has level ${look.level}`);
  const na = Number(cert.na);
  if (n === look.n && Number.isSafeInteger(na) && na >= 0 && na <= n) {
    const d = decideAtLook(schedule, rec.look - 1, na, hEff, rec.beta);
    const reason = d.stop ? d.reason : 'none (the rule goes on to the next look)';
    if (reason !== rec.stopReason) problems.push(`sequential.stop_reason: certificate says '${String(rec.stopReason).slice(0, 64)}', the rule at look ${rec.look} with na = ${na} gives ${reason}`);
  }
  if (!Number.isSafeInteger(n0) || n0 < 1 || n0 > n0Max) problems.push(`n0: ${cert.n0} is not within [1, n0_max = ${n0Max}]`);
  else if (cert.selectionClassCounts.length > 0 && !selectionStopValid(cert.selectionClassCounts.map(Number), n0, n0Max)) {
    problems.push(`n0: the adaptive selection does not stop at n0 = ${n0} with these selection counts`);
  }
  return { level: look.level, problems };
}

function close(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(Math.abs(a), Math.abs(b));
}

/**
 * Where an audit of a sequential certificate cuts its replay: the end of every selection block up
 * to n0 and every look up to n. The replay covers exactly the samples the certificate used
 * (stream 0: 0 .. n0 - 1, stream 1: 0 .. n - 1), counted per segment so that the rule's earlier
 * decisions can be checked too. Null when the record cannot give a schedule (the cheap check
 * reports why).
 */
export function sequentialReplayPoints(cert: Certificate): { selectionEnds: number[]; estimationEnds: number[] } | null {
  const rec = cert.sequential;
  if (!rec) return null;
  const n0 = Number(cert.n0);
  const n = Number(cert.n);
  const n0Max = Number(rec.n0Max);
  try {
    const schedule = sequentialSchedule(Math.max(cert.threshold, 0.5), cert.alpha, Number(rec.nMax));
    const estimationEnds = schedule.map((l) => l.n).filter((x) => x <= n);
    if (estimationEnds[estimationEnds.length - 1] !== n) return null;
    const selectionEnds: number[] = [];
    for (let drawn = 0; drawn < n0; ) {
      drawn += nextSelectionBlock(drawn, n0Max);
      if (drawn > n0 || drawn === 0) return null;
      selectionEnds.push(drawn);
    }
    return { selectionEnds, estimationEnds };
  } catch {
    return null;
  }
}

/**
 * The audit's check of the path: with the replayed counts at every point of
 * `sequentialReplayPoints` (cumulative, per class), the selection must not have stopped before n0
 * and no look before the recorded one may have stopped (certified or futile).
 */
export function sequentialReplayProblems(cert: Certificate, selectionAt: readonly (readonly number[])[], estimationAt: readonly (readonly number[])[], predictedClass: number): string[] {
  const rec = cert.sequential;
  const points = sequentialReplayPoints(cert);
  if (!rec || !points) return [];
  const problems: string[] = [];
  const n0Max = Number(rec.n0Max);
  points.selectionEnds.slice(0, -1).forEach((end, i) => {
    if (selectionDone(selectionAt[i] ?? [], end, n0Max)) problems.push(`n0: replayed, the adaptive selection stops after ${end} samples, the certificate drew ${cert.n0}`);
  });
  const hEff = Math.max(cert.threshold, 0.5);
  const schedule = sequentialSchedule(hEff, cert.alpha, Number(rec.nMax));
  points.estimationEnds.slice(0, -1).forEach((_, j) => {
    const na = estimationAt[j]?.[predictedClass] ?? 0;
    const d = decideAtLook(schedule, j, na, hEff, rec.beta);
    if (d.stop) problems.push(`sequential.look: replayed, the rule stops at look ${j + 1} (${d.reason}, na = ${na} of ${schedule[j]!.n}), the certificate says look ${rec.look}`);
  });
  return problems;
}
