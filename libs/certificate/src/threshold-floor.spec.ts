import { BoundMethod, Certificate, Distribution, Outcome, ThresholdMethod, type ThreatModel } from '@glcert/contracts';
import { clopperPearsonLower } from '@glcert/stats';

import { KeyRing, checkCertificate, decideOutcome, generateSigningKey, signCertificate, thresholdFloorOf } from './index';

// A certificate may never carry a threshold below the exact threshold of its threat model
// (issue 11, finding 1: the numeric bound issued 0.50005 for a brightness box whose exact threshold
// is 1, and the verifier, recomputing with the same solver, agreed). The exact values here are
// written out from ALGORITHM.md section 5, independently of @glcert/bounds.

const PHI_2_3 = 0.7475074624530771; // Phi(0.2 / 0.3)

function threatModel(transform: string, params: [string, number, number, number, Distribution][]): ThreatModel {
  return {
    transform,
    box: params.map(([name, min, max]) => ({ name, min, max })),
    smoothing: params.map(([name, , , sigma, distribution]) => ({ name, distribution, sigma })),
    note: '',
  };
}
const N = Distribution.DISTRIBUTION_NORMAL;
const BRIGHTNESS = threatModel('b', [['b', -0.2, 0.2, 0.3, N]]);

/** A correctly signed certificate for `tm` whose verdict follows from its (possibly false) threshold. */
function issued(key: ReturnType<typeof generateSigningKey>, tm: ThreatModel, threshold: number, na = 1000n): Certificate {
  const paLower = clopperPearsonLower(Number(na), 1000, 0.001);
  return signCertificate(
    Certificate.fromPartial({
      certificateVersion: 2,
      requestId: 'floor',
      modelName: 'mnist-cnn',
      modelVersion: '1',
      modelSha256: 'ab'.repeat(32),
      inputSha256: 'cd'.repeat(32),
      inputShape: [1n, 28n, 28n],
      preprocessing: ['decode:png'],
      threatModel: tm,
      boundSettings: { ns: 20000n, gridPoints: [11], seed: 0n, method: BoundMethod.BOUND_METHOD_NUMERIC },
      n0: 100n,
      n: 1000n,
      na,
      predictedClass: 2,
      alpha: 0.001,
      paLower,
      threshold,
      thresholdMethod: ThresholdMethod.THRESHOLD_METHOD_NUMERIC,
      boundCacheKey: 'k',
      solverVersion: 'test',
      outcome: decideOutcome(paLower, threshold),
      seed: 2026n,
      generator: 'philox4x32-10/box-muller-53',
      issueTime: new Date('2026-12-07T00:00:00Z'),
    }),
    key,
  );
}

describe('the threshold floor of a certificate', () => {
  const key = generateSigningKey();
  const keys = new KeyRing([key.publicKey]);

  it('the reported false certificate (b, sigma 1e-300, threshold 0.50005, CERTIFIED) is invalid though validly signed', () => {
    const tm = threatModel('b', [['b', -0.2, 0.2, 1e-300, N]]);
    const cert = issued(key, tm, 0.50005);
    expect(cert.outcome).toBe(Outcome.OUTCOME_CERTIFIED);
    const check = checkCertificate(cert, { keys });
    expect(check.signatureValid).toBe(true);
    expect(check.valid).toBe(false);
    // refused for what it is: either the threat model is outside the documented domains, or the
    // threshold is below the exact one (1) and the verdict does not follow
    expect(check.reasons.join('\n')).toMatch(/threat_model\.smoothing\[0\]\.sigma|threshold: 0\.50005 is below 1/);
  });

  it('inside the domains: below the exact threshold is invalid, at it valid', () => {
    const below = checkCertificate(issued(key, BRIGHTNESS, PHI_2_3 - 1e-6), { keys });
    expect(below.signatureValid).toBe(true);
    expect(below.valid).toBe(false);
    expect(below.reasons.join('\n')).toMatch(/^threshold: 0\.74750\d+ is below 0\.74750\d+, the exact threshold of the threat model .*certifies more than is true/m);
    const at = checkCertificate(issued(key, BRIGHTNESS, PHI_2_3), { keys });
    expect(at.reasons).toEqual([]);
    expect(at.valid).toBe(true);
    expect(checkCertificate(issued(key, BRIGHTNESS, 0.76), { keys }).valid).toBe(true); // a looser bound is sound
  });

  it('contrast, translation, gamma (exact 2^-(g^2) below 1), and cb through its b = 0 sub-box', () => {
    const L = Distribution.DISTRIBUTION_LOG_NORMAL;
    const R = Distribution.DISTRIBUTION_RAYLEIGH;
    const cases: [ThreatModel, number][] = [
      [threatModel('c', [['k', 0.6, 1.4, 0.3, L]]), 0.9556927628967586], // Phi(|ln 0.6| / 0.3)
      [threatModel('t', [['tx', -14, 14, 15, N], ['ty', -14, 14, 15, N]]), 0.9065712486684798], // Phi(14 sqrt2 / 15)
      [threatModel('g', [['g', 0.5, 1, 0.1, R]]), 0.8408964152537145], // 2^-(1/4)
      [threatModel('cb', [['k', 0.6, 1.4, 0.3, L], ['b', -0.4, 0.4, 0.3, N]]), 0.9556927628967586],
    ];
    for (const [tm, exact] of cases) {
      const floor = thresholdFloorOf(tm);
      expect(floor).toMatchObject({ ok: true });
      expect((floor as { value: number }).value).toBeCloseTo(exact, 12);
      expect(checkCertificate(issued(key, tm, exact - 1e-9), { keys }).valid).toBe(false);
      expect(checkCertificate(issued(key, tm, exact), { keys }).valid).toBe(true);
    }
    // no exact threshold known (blur): nothing to compare, still valid
    const r = threatModel('r', [['r', 0, 1, 2, R]]);
    expect(thresholdFloorOf(r)).toMatchObject({ ok: true, value: null });
    expect(checkCertificate(issued(key, r, 0.7), { keys }).valid).toBe(true);
  });

  it('a transform or parameter named constructor or __proto__ is a reason, not a crash', () => {
    for (const tm of [
      threatModel('constructor', [['b', -0.2, 0.2, 0.3, N]]),
      threatModel('__proto__', [['b', -0.2, 0.2, 0.3, N]]),
      threatModel('b', [['__proto__', -0.2, 0.2, 0.3, N]]),
      threatModel('b', [['constructor', -0.2, 0.2, 0.3, N]]),
    ]) {
      const check = checkCertificate(issued(key, tm, 0.9), { keys });
      expect(check.signatureValid).toBe(true);
      expect(check.valid).toBe(false);
      expect(check.reasons.join('\n')).toMatch(/^threat_model\.(transform|box|smoothing)/m);
    }
    const missing = checkCertificate(issued(key, undefined as unknown as ThreatModel, 0.9), { keys });
    expect(missing.reasons).toContain('threat_model: missing');
  });
});
