import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Certificate, Outcome, ThresholdMethod, Distribution, BoundMethod } from '@glcert/contracts';
import {
  KeyRing,
  argmaxLowest,
  certificatePayload,
  checkCertificate,
  decideOutcome,
  generateSigningKey,
  loadOrCreateSigningKey,
  parsePublicKey,
  parseCertificatePayload,
  signCertificate,
  stableStringify,
} from './index';

// pa_lower for nA = n = 1000 at alpha = 0.001 has the closed form alpha^(1/n) (ALGORITHM.md sec 6).
const PA_ALL = Math.pow(0.001, 1 / 1000);

function baseCertificate(): Certificate {
  return Certificate.fromPartial({
    certificateVersion: 1,
    requestId: 'req-1',
    modelName: 'mnist-cnn',
    modelVersion: '1',
    modelSha256: 'ab'.repeat(32),
    inputSha256: 'cd'.repeat(32),
    inputShape: [1n, 28n, 28n],
    preprocessing: ['decode:png', 'scale:1/255'],
    threatModel: {
      transform: 'b',
      box: [{ name: 'b', min: -0.1, max: 0.1 }],
      smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
      note: 'no clipping',
    },
    boundSettings: { ns: 20000n, gridPoints: [11], seed: 0n, method: BoundMethod.BOUND_METHOD_AUTO },
    n0: 100n,
    n: 1000n,
    na: 1000n,
    predictedClass: 7,
    alpha: 0.001,
    paLower: PA_ALL,
    threshold: 0.6305586598182363, // Phi(0.1 / 0.3), the exact threshold of the box
    thresholdMethod: ThresholdMethod.THRESHOLD_METHOD_CLOSED_FORM,
    boundCacheKey: 'k',
    solverVersion: 'gl-1',
    outcome: Outcome.OUTCOME_CERTIFIED,
    seed: 18446744073709551615n,
    generator: 'philox4x32-10/box-muller-53',
    issueTime: new Date('2026-11-28T00:00:00.123Z'),
  });
}

describe('certificate signing and checks', () => {
  const key = generateSigningKey();
  const keys = new KeyRing([key.publicKey]);

  it('a correctly issued certificate verifies', () => {
    const cert = signCertificate(baseCertificate(), key);
    expect(cert.keyId).toMatch(/^ed25519:[0-9a-f]{16}$/);
    const check = checkCertificate(cert, { keys });
    expect(check.reasons).toEqual([]);
    expect(check.valid).toBe(true);
    expect(check.recomputedPaLower).toBeCloseTo(PA_ALL, 14);
  });

  it('survives a JSON round trip (what `glcert verify CERT.json` reads)', () => {
    const cert = signCertificate(baseCertificate(), key);
    const back = Certificate.fromJSON(JSON.parse(JSON.stringify(Certificate.toJSON(cert))));
    expect(back.dsseEnvelope!.payload.equals(cert.dsseEnvelope!.payload)).toBe(true);
    expect(checkCertificate(back, { keys }).valid).toBe(true);
  });

  // Every signed field, changed: the signature must fail.
  const tamper: Array<[string, (c: Certificate) => void]> = [
    ['requestId', (c) => (c.requestId = 'other')],
    ['modelName', (c) => (c.modelName = 'fashion-cnn')],
    ['modelVersion', (c) => (c.modelVersion = '2')],
    ['modelSha256', (c) => (c.modelSha256 = 'ef'.repeat(32))],
    ['inputSha256', (c) => (c.inputSha256 = '00'.repeat(32))],
    ['inputShape', (c) => (c.inputShape = [1n, 28n, 29n])],
    ['preprocessing', (c) => (c.preprocessing = ['decode:png'])],
    ['threatModel.box', (c) => (c.threatModel!.box[0].max = 0.5)],
    ['threatModel.smoothing', (c) => (c.threatModel!.smoothing[0].sigma = 0.31)],
    ['threatModel.transform', (c) => (c.threatModel!.transform = 'c')],
    ['boundSettings.ns', (c) => (c.boundSettings!.ns = 10n)],
    ['n0', (c) => (c.n0 = 101n)],
    ['n', (c) => (c.n = 1001n)],
    ['na', (c) => (c.na = 999n)],
    ['predictedClass', (c) => (c.predictedClass = 1)],
    ['alpha', (c) => (c.alpha = 0.01)],
    ['paLower', (c) => (c.paLower = 0.999)],
    ['threshold', (c) => (c.threshold = 0.5)],
    ['thresholdMethod', (c) => (c.thresholdMethod = ThresholdMethod.THRESHOLD_METHOD_NUMERIC)],
    ['boundCacheKey', (c) => (c.boundCacheKey = 'x')],
    ['solverVersion', (c) => (c.solverVersion = 'gl-2')],
    ['outcome', (c) => (c.outcome = Outcome.OUTCOME_ABSTAINED)],
    ['seed', (c) => (c.seed = 1n)],
    ['generator', (c) => (c.generator = 'mt19937')],
    ['issueTime', (c) => (c.issueTime = new Date('2026-11-28T00:00:00.124Z'))],
    ['keyId', (c) => (c.keyId = 'ed25519:0000000000000000')],
    ['selectionClassCounts', (c) => (c.selectionClassCounts = [1n])],
    ['certificateVersion', (c) => (c.certificateVersion = 3)],
  ];
  it.each(tamper)('changing %s in the signed payload breaks the DSSE signature', (_name, change) => {
    const cert = signCertificate(baseCertificate(), key);
    const forged = parseCertificatePayload(cert.dsseEnvelope!.payload);
    change(forged);
    const payload = certificatePayload(forged);
    expect(payload.equals(cert.dsseEnvelope!.payload)).toBe(false);
    const check = checkCertificate({ ...forged, dsseEnvelope: { ...cert.dsseEnvelope!, payload } }, { keys });
    expect(check.valid).toBe(false);
    expect(check.signatureValid).toBe(false);
    expect(check.reasons[0]).toMatch(/^signature: dsse_envelope: signature of ed25519:\w+ does not match the payload/);
  });
  it.each(tamper)('changing %s outside the envelope is reported (the payload is what counts)', (_name, change) => {
    const cert = signCertificate(baseCertificate(), key);
    const forged = Certificate.fromPartial(cert);
    change(forged);
    const check = checkCertificate(forged, { keys });
    expect(check.valid).toBe(false);
    expect(check.signatureValid).toBe(true);
    expect(check.reasons.join('\n')).toMatch(/^certificate: fields outside the envelope differ from the signed payload/m);
  });

  it('a signed certificate whose nA does not support its pa_lower is caught by the recomputation', () => {
    // A buggy or malicious issuer that holds the key: the signature is fine, the maths is not.
    const cert = signCertificate(Certificate.fromPartial({ ...baseCertificate(), na: 990n }), key);
    const check = checkCertificate(cert, { keys });
    expect(check.signatureValid).toBe(true);
    expect(check.valid).toBe(false);
    expect(check.reasons.join('\n')).toMatch(/^pa_lower: /m);
  });

  it('a verdict that does not follow from pa_lower and the threshold is caught', () => {
    const cert = signCertificate(Certificate.fromPartial({ ...baseCertificate(), threshold: 0.995 }), key);
    const check = checkCertificate(cert, { keys });
    expect(check.reasons.join('\n')).toMatch(/^outcome: /m);
  });

  it('an independently recomputed threshold that disagrees is reported', () => {
    const cert = signCertificate(baseCertificate(), key);
    const check = checkCertificate(cert, { keys, threshold: { value: 0.9088 } });
    expect(check.valid).toBe(false);
    expect(check.reasons.join('\n')).toMatch(/^threshold: /m);
  });

  it('unknown key id and truncated signature are reasons, not crashes', () => {
    const cert = signCertificate(baseCertificate(), key);
    expect(checkCertificate(cert, { keys: new KeyRing() }).reasons[0]).toMatch(/unknown keyid/);
    const env = cert.dsseEnvelope!;
    const short = { ...env, signatures: [{ ...env.signatures[0]!, sig: env.signatures[0]!.sig.subarray(0, 10) }] };
    expect(checkCertificate({ ...cert, dsseEnvelope: short }, { keys }).reasons[0]).toMatch(/64 bytes/);
  });

  it('key rotation: old certificates still verify through their key id', () => {
    const oldKey = generateSigningKey();
    const newKey = generateSigningKey();
    const ring = new KeyRing([parsePublicKey(oldKey.publicKey.pem), parsePublicKey(newKey.publicKey.der)]);
    expect(checkCertificate(signCertificate(baseCertificate(), oldKey), { keys: ring }).valid).toBe(true);
    expect(checkCertificate(signCertificate(baseCertificate(), newKey), { keys: ring }).valid).toBe(true);
  });

  it('the verdict rule is strict and needs pA above 1/2', () => {
    expect(decideOutcome(0.9, 0.9)).toBe(Outcome.OUTCOME_ABSTAINED);
    expect(decideOutcome(0.9000001, 0.9)).toBe(Outcome.OUTCOME_CERTIFIED);
    expect(decideOutcome(0.5, 0.1)).toBe(Outcome.OUTCOME_ABSTAINED);
    expect(decideOutcome(0.51, 0.1)).toBe(Outcome.OUTCOME_CERTIFIED);
  });

  it('the selection takes the largest count, the lowest class on ties', () => {
    expect(argmaxLowest([0, 5, 5, 1])).toBe(1);
    expect(argmaxLowest([3, 1, 3])).toBe(0);
    expect(argmaxLowest([0, 0, 0, 9])).toBe(3);
    expect(argmaxLowest([])).toBe(-1);
  });

  it('canonical JSON sorts keys at every level', () => {
    expect(stableStringify({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 'x' } })).toBe('{"a":{"c":"x","d":[2,{"e":0,"f":1}]},"b":1}');
  });
});

describe('signing key files', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'glcert-key-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is generated once (0600), kept across restarts, and never serialised', () => {
    const file = join(dir, 'keys', 'signing.pem');
    const first = loadOrCreateSigningKey(file);
    expect(first.created).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = loadOrCreateSigningKey(file);
    expect(second.created).toBe(false);
    expect(second.key.publicKey.keyId).toBe(first.key.publicKey.keyId);
    expect(readFileSync(`${file}.pub.pem`, 'utf8')).toContain('BEGIN PUBLIC KEY');
    const pem = readFileSync(file, 'utf8');
    const body = pem.split('\n')[1];
    for (const s of [JSON.stringify(first.key), String(first.key), JSON.stringify({ k: first.key })]) {
      expect(s).not.toContain(body);
      expect(s).not.toContain('PRIVATE');
    }
  });
});
