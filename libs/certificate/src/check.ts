import { Certificate, Outcome, ThresholdMethod } from '@glcert/contracts';
import { clopperPearsonLower } from '@glcert/stats';
import { SUPPORTED_CERTIFICATE_VERSIONS } from './canonical';
import { KeyRing } from './keys';
import { checkSequentialRecord } from './sequential-check';
import { openCertificate } from './sign';
import { decideOutcome, THRESHOLD_FLOOR_TOLERANCE, thresholdFloorOf } from './verdict';

export interface CertificateCheck {
  valid: boolean;
  signatureValid: boolean;
  /** Every reason the certificate is not valid; empty when valid. */
  reasons: string[];
  recomputedPaLower: number | null;
  recomputedOutcome: Outcome | null;
}

export interface CheckOptions {
  keys: KeyRing;
  /**
   * The threshold recomputed (or fetched) independently for the certificate's threat model and
   * bound settings. Omitted: the certificate's own threshold is taken as given, and a note says so.
   */
  threshold?: { value: number; method?: ThresholdMethod };
  /** Tolerance for recomputed floating-point values (same code: exact; other platforms: ulps). */
  tolerance?: number;
}

/**
 * The model-free check of a certificate: signature, sample counts, the Clopper-Pearson bound
 * recomputed from (nA, n, alpha), the threshold (when given), and the verdict. A version-2
 * certificate is checked as its DSSE payload says, once the signature over it verified.
 */
export function checkCertificate(given: Certificate, opts: CheckOptions): CertificateCheck {
  const tol = opts.tolerance ?? 1e-12;
  const reasons: string[] = [];
  const opened = openCertificate(given, opts.keys);
  const cert = opened.certificate;
  const sig = opened.signature;
  if (!sig.ok) reasons.push(`signature: ${sig.reason}`);
  reasons.push(...opened.problems);
  if (!SUPPORTED_CERTIFICATE_VERSIONS.includes(cert.certificateVersion)) {
    reasons.push(`certificate_version: ${cert.certificateVersion} is not one of ${SUPPORTED_CERTIFICATE_VERSIONS.join(', ')}`);
  }

  const n = Number(cert.n);
  const na = Number(cert.na);
  let paLower: number | null = null;
  if (!(n >= 1) || !Number.isSafeInteger(n)) reasons.push(`n: ${cert.n} is not a positive sample count`);
  else if (!(na >= 0 && na <= n) || !Number.isSafeInteger(na)) reasons.push(`na: ${cert.na} is not within [0, n=${n}]`);
  else if (!(cert.alpha > 0 && cert.alpha < 1)) reasons.push(`alpha: ${cert.alpha} is not in (0, 1)`);
  else {
    // sequential sampling (ALGORITHM.md section 9): pa_lower is at the recorded look's level,
    // which the recomputed schedule must give; fixed sampling: at alpha
    const seq = cert.sequential ? checkSequentialRecord(cert, tol) : undefined;
    if (seq) reasons.push(...seq.problems);
    const level = seq ? seq.level : cert.alpha;
    if (level !== null) {
      paLower = clopperPearsonLower(na, n, level);
      if (!close(paLower, cert.paLower, tol)) {
        reasons.push(`pa_lower: certificate says ${cert.paLower}, Clopper-Pearson of (na=${na}, n=${n}, ${seq ? 'level' : 'alpha'}=${level}) is ${paLower}`);
      }
    }
  }
  if (Number(cert.n0) < 1) reasons.push(`n0: ${cert.n0} is not a positive sample count`);

  let threshold = cert.threshold;
  if (opts.threshold) {
    if (!close(opts.threshold.value, cert.threshold, tol)) {
      reasons.push(`threshold: certificate says ${cert.threshold}, the bound for its threat model is ${opts.threshold.value}`);
    }
    if (opts.threshold.method !== undefined && opts.threshold.method !== cert.thresholdMethod) {
      reasons.push(`threshold_method: certificate says ${ThresholdMethod[cert.thresholdMethod]}, the bound used ${ThresholdMethod[opts.threshold.method]}`);
    }
    threshold = Math.max(threshold, opts.threshold.value);
  }
  if (!(threshold >= 0 && threshold <= 1)) reasons.push(`threshold: ${cert.threshold} is not in [0, 1]`);
  // Never below the exact threshold of the threat model where one is known (issue 11: a numeric
  // bound that lost its soundness in floating point issued 0.50005 for a box whose exact
  // threshold is 1, and a recomputation by the same solver agreed with it).
  const floor = thresholdFloorOf(cert.threatModel);
  if (!floor.ok) reasons.push(...floor.problems);
  else if (floor.value !== null) {
    // the verdict uses max(threshold, 1/2), and every floor is >= 1/2
    if (Math.max(cert.threshold, 0.5) < floor.value - THRESHOLD_FLOOR_TOLERANCE || Number.isNaN(cert.threshold)) {
      reasons.push(`threshold: ${cert.threshold} is below ${floor.value}, the exact threshold of the threat model (${floor.rule}): the certificate certifies more than is true`);
    }
    threshold = Math.max(threshold, floor.value);
  }

  let outcome: Outcome | null = null;
  if (paLower !== null) {
    outcome = decideOutcome(paLower, threshold);
    if (outcome !== cert.outcome) {
      reasons.push(`outcome: certificate says ${Outcome[cert.outcome]}, the recomputed verdict is ${Outcome[outcome]}`);
    }
  }
  return { valid: reasons.length === 0, signatureValid: sig.ok, reasons, recomputedPaLower: paLower, recomputedOutcome: outcome };
}

function close(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(a), Math.abs(b));
}
