import { BoundMethod, Certificate, Distribution, Outcome, ThresholdMethod } from '@glcert/contracts';
import { clopperPearsonLower, normalCdf } from '@glcert/stats';
import { CERTIFICATE_VERSION, KeyRing, checkCertificate, generateSigningKey, sequentialReplayPoints, sequentialReplayProblems, signCertificate } from './index';

// b +-0.4 at sigma 0.3: h* = Phi(4/3) = 0.90879, the worked example of ALGORITHM.md section 9:
// looks 84, 168, 336, 672, 1000 at levels alpha/3, alpha/9, alpha/9, alpha/9, alpha/3 (alpha 0.001)
const H = normalCdf(4 / 3);
const ALPHA = 0.001;

function sequentialCertificate(over: Partial<Certificate> = {}): Certificate {
  return Certificate.fromPartial({
    certificateVersion: CERTIFICATE_VERSION,
    requestId: 'seq-1',
    modelName: 'mnist-cnn',
    modelVersion: '1',
    modelSha256: 'ab'.repeat(32),
    inputSha256: 'cd'.repeat(32),
    inputShape: [1n, 28n, 28n],
    preprocessing: ['decode:png'],
    threatModel: {
      transform: 'b',
      box: [{ name: 'b', min: -0.4, max: 0.4 }],
      smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
      note: 'no clipping',
    },
    boundSettings: { ns: 20000n, gridPoints: [11], seed: 0n, method: BoundMethod.BOUND_METHOD_AUTO },
    // one selection block of 32, all class 7
    n0: 32n,
    selectionClassCounts: [0n, 0n, 0n, 0n, 0n, 0n, 0n, 32n, 0n, 0n],
    predictedClass: 7,
    // all 84 samples of the first look agree: pa_lower = (alpha/3)^(1/84), the closed form
    n: 84n,
    na: 84n,
    alpha: ALPHA,
    paLower: Math.pow(ALPHA / 3, 1 / 84),
    threshold: H,
    thresholdMethod: ThresholdMethod.THRESHOLD_METHOD_CLOSED_FORM,
    boundCacheKey: 'k',
    solverVersion: 'gl-1',
    outcome: Outcome.OUTCOME_CERTIFIED,
    seed: 5n,
    generator: 'philox4x32-10/box-muller-53',
    issueTime: new Date('2026-12-07T00:00:00Z'),
    sequential: { rule: 'glcert-sequential/1', look: 1, looks: 5, level: ALPHA / 3, beta: 0.001, n0Max: 200n, nMax: 1000n, stopReason: 'certified' },
    ...over,
  });
}

describe('checkCertificate on SEQUENTIAL certificates', () => {
  const key = generateSigningKey();
  const keys = new KeyRing([key.publicKey]);
  const check = (c: Certificate) => checkCertificate(signCertificate(c, key), { keys, threshold: { value: H } });

  it('a certificate at the first look verifies, and survives a JSON round trip', () => {
    const cert = signCertificate(sequentialCertificate(), key);
    const res = checkCertificate(cert, { keys, threshold: { value: H } });
    expect(res.reasons).toEqual([]);
    expect(res.recomputedPaLower).toBe(Math.pow(ALPHA / 3, 1 / 84));
    const back = Certificate.fromJSON(JSON.parse(JSON.stringify(Certificate.toJSON(cert))));
    expect(checkCertificate(back, { keys }).valid).toBe(true);
  });

  it('a certificate at a middle look verifies at that look level', () => {
    // look 3 (336, alpha/9): 330 of 336
    const pa = clopperPearsonLower(330, 336, ALPHA / 9);
    expect(pa).toBeGreaterThan(H);
    const res = check(sequentialCertificate({ n: 336n, na: 330n, paLower: pa, sequential: { ...sequentialCertificate().sequential!, look: 3, level: ALPHA / 9 } }));
    expect(res.reasons).toEqual([]);
  });

  it('a futility abstention verifies; claiming futility where the rule goes on does not', () => {
    const seq = sequentialCertificate().sequential!;
    const ok = check(
      sequentialCertificate({ na: 60n, paLower: clopperPearsonLower(60, 84, ALPHA / 3), outcome: Outcome.OUTCOME_ABSTAINED, sequential: { ...seq, stopReason: 'futility-upper' } }),
    );
    expect(ok.reasons).toEqual([]);
    const bad = check(
      sequentialCertificate({ na: 80n, paLower: clopperPearsonLower(80, 84, ALPHA / 3), outcome: Outcome.OUTCOME_ABSTAINED, sequential: { ...seq, stopReason: 'futility-upper' } }),
    );
    expect(bad.valid).toBe(false);
    expect(bad.reasons.join('\n')).toMatch(/sequential\.stop_reason: .*goes on/);
  });

  it('changing its look makes it invalid, with a reason', () => {
    const seq = sequentialCertificate().sequential!;
    // look 2 says n = 168 at alpha/9; the certificate keeps n = 84 and pa_lower at that level
    const res = check(sequentialCertificate({ paLower: Math.pow(ALPHA / 9, 1 / 84), sequential: { ...seq, look: 2, level: ALPHA / 9 } }));
    expect(res.valid).toBe(false);
    expect(res.reasons.join('\n')).toMatch(/^n: certificate says 84, look 2 of the schedule is n = 168/m);
    const outside = check(sequentialCertificate({ sequential: { ...seq, look: 6 } }));
    expect(outside.reasons.join('\n')).toMatch(/sequential\.look: 6 is not in \[1, 5\]/);
    const fewer = check(sequentialCertificate({ sequential: { ...seq, looks: 4 } }));
    expect(fewer.reasons.join('\n')).toMatch(/sequential\.looks: certificate says 4, .* has 5/);
  });

  it('changing its level makes it invalid, with a reason (pa_lower recomputed at the level the schedule gives)', () => {
    const seq = sequentialCertificate().sequential!;
    // the whole alpha at the first look: a larger pa_lower, consistent with the claimed level
    const res = check(sequentialCertificate({ paLower: Math.pow(ALPHA, 1 / 84), sequential: { ...seq, level: ALPHA } }));
    expect(res.valid).toBe(false);
    expect(res.reasons.join('\n')).toMatch(/sequential\.level: certificate says 0\.001, look 1 of the schedule has level 0\.000333/);
    expect(res.reasons.join('\n')).toMatch(/pa_lower: certificate says .* level=0\.000333/);
  });

  it('changing its n makes it invalid, with a reason', () => {
    const res = check(sequentialCertificate({ n: 100n, na: 100n, paLower: Math.pow(ALPHA / 3, 1 / 100) }));
    expect(res.valid).toBe(false);
    expect(res.reasons.join('\n')).toMatch(/^n: certificate says 100, look 1 of the schedule is n = 84/m);
    // or its n_max (another schedule: 84, 168, 336, 500 at alpha/3, alpha/6, alpha/6, alpha/3)
    const nMax = check(sequentialCertificate({ sequential: { ...sequentialCertificate().sequential!, nMax: 500n } }));
    expect(nMax.reasons.join('\n')).toMatch(/sequential\.looks: certificate says 5, .* has 4/);
  });

  it('a certified outcome whose stop reason is not "certified", a selection that would have gone on, an unknown rule: invalid', () => {
    const seq = sequentialCertificate().sequential!;
    expect(check(sequentialCertificate({ sequential: { ...seq, stopReason: 'last-look' } })).reasons.join('\n')).toMatch(/stop_reason: certificate says 'last-look'.* gives certified/);
    const sel = check(sequentialCertificate({ n0: 32n, selectionClassCounts: [10n, 0n, 0n, 0n, 0n, 0n, 0n, 22n, 0n, 0n] }));
    expect(sel.reasons.join('\n')).toMatch(/^n0: the adaptive selection does not stop at n0 = 32/m);
    const rule = check(sequentialCertificate({ sequential: { ...seq, rule: 'glcert-sequential/0' } }));
    expect(rule.valid).toBe(false);
    expect(rule.reasons.join('\n')).toMatch(/sequential\.rule: 'glcert-sequential\/0' is not a known rule/);
  });

  it('without its record the same counts are checked as fixed sampling at alpha (pa_lower then disagrees)', () => {
    const res = check(sequentialCertificate({ sequential: undefined }));
    expect(res.valid).toBe(false);
    expect(res.reasons.join('\n')).toMatch(/pa_lower: certificate says .* alpha=0\.001/);
  });
});

describe('audit replay of a sequential certificate', () => {
  const seq = sequentialCertificate().sequential!;
  // look 3 (336) after a selection of 96 (three blocks)
  const atLook3 = sequentialCertificate({ n0: 96n, selectionClassCounts: [4n, 0n, 0n, 0n, 0n, 0n, 0n, 92n, 0n, 0n], n: 336n, na: 330n, sequential: { ...seq, look: 3, level: ALPHA / 9 } });
  const cls = (c7: number, other: number): number[] => [other, 0, 0, 0, 0, 0, 0, c7, 0, 0];

  it('replays exactly the samples used, cut at every selection block and every look', () => {
    expect(sequentialReplayPoints(atLook3)).toEqual({ selectionEnds: [32, 64, 96], estimationEnds: [84, 168, 336] });
    expect(sequentialReplayPoints(sequentialCertificate())).toEqual({ selectionEnds: [32], estimationEnds: [84] });
    // the last block is cut at n0_max
    expect(sequentialReplayPoints(sequentialCertificate({ n0: 200n }))!.selectionEnds).toEqual([32, 64, 96, 128, 160, 192, 200]);
    expect(sequentialReplayPoints(sequentialCertificate({ sequential: undefined }))).toBeNull();
  });

  it('a path where the rule went on at every earlier point is consistent', () => {
    // selection 28/32, 58/64 (< 95 %), then 92/96; looks: 80/84 and 160/168 go on (neither certifies nor is futile)
    const problems = sequentialReplayProblems(atLook3, [cls(28, 4), cls(58, 6), cls(92, 4)], [cls(80, 4), cls(160, 8), cls(330, 6)], 7);
    expect(problems).toEqual([]);
  });

  it('a certificate that should have stopped at an earlier look, or selected earlier, is found', () => {
    // 84 of 84 at the first look certifies there: the certificate claims look 3
    const late = sequentialReplayProblems(atLook3, [cls(28, 4), cls(58, 6), cls(92, 4)], [cls(84, 0), cls(164, 4), cls(330, 6)], 7);
    expect(late).toEqual([expect.stringMatching(/^sequential\.look: replayed, the rule stops at look 1 \(certified, na = 84 of 84\), the certificate says look 3/)]);
    // 32 of 32 agree in the first block: the selection stops at 32
    const sel = sequentialReplayProblems(atLook3, [cls(32, 0), cls(60, 4), cls(92, 4)], [cls(80, 4), cls(160, 8), cls(330, 6)], 7);
    expect(sel).toEqual([expect.stringMatching(/^n0: replayed, the adaptive selection stops after 32 samples, the certificate drew 96/)]);
  });
});
