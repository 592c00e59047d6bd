import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPublicKey, verify } from 'node:crypto';
import { Certificate, Outcome } from '@glcert/contracts';
import {
  CERTIFICATE_PAYLOAD_TYPE,
  CERTIFICATE_VERSION,
  KeyRing,
  certificateContent,
  checkCertificate,
  generateSigningKey,
  openCertificate,
  pae,
  parsePublicKey,
  signCertificate,
} from './index';

const FIXTURES = join(__dirname, '__fixtures__');

function certificate(): Certificate {
  return Certificate.fromPartial({
    requestId: 'item-7',
    modelName: 'mnist-cnn',
    modelVersion: '1',
    modelSha256: 'ab'.repeat(32),
    inputSha256: 'cd'.repeat(32),
    inputShape: [1n, 28n, 28n],
    // a complete threat model whose exact threshold (1/2: the box is the identity) the threshold below respects
    threatModel: {
      transform: 't',
      box: [{ name: 'tx', min: 0, max: 0 }, { name: 'ty', min: 0, max: 0 }],
      smoothing: [{ name: 'tx', distribution: 1, sigma: 3 }, { name: 'ty', distribution: 1, sigma: 3 }],
    },
    n0: 200n,
    n: 1000n,
    na: 1000n,
    predictedClass: 3,
    alpha: 0.001,
    paLower: Math.pow(0.001, 1 / 1000),
    // JavaScript prints these as 2 and 1e-7: what a re-serialising verifier got wrong (issue 15)
    threshold: 1e-7,
    outcome: Outcome.OUTCOME_CERTIFIED,
    seed: 2n,
    issueTime: new Date('2026-12-07T10:00:00.120Z'),
  });
}

describe('DSSE envelope (certificate version 2)', () => {
  const key = generateSigningKey();
  const keys = new KeyRing([key.publicKey]);

  it('PAE is the DSSE v1 encoding (the spec example)', () => {
    // github.com/secure-systems-lab/dsse protocol.md
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    // lengths are byte lengths, not UTF-16 code units
    expect(pae('t', Buffer.from('é', 'utf8')).toString('utf8')).toBe('DSSEv1 1 t 2 é');
  });

  it('signs version 2 and verifies with a stock Ed25519 verify over PAE of the carried bytes', () => {
    const cert = signCertificate(certificate(), key);
    expect(cert.certificateVersion).toBe(CERTIFICATE_VERSION);
    expect(cert.signature.length).toBe(0);
    const env = cert.dsseEnvelope!;
    expect(env.payloadType).toBe('application/vnd.glcert.certificate+json; version=2');
    expect(env.signatures).toHaveLength(1);
    expect(env.signatures[0]!.keyid).toBe(key.publicKey.keyId);
    // the message built by hand, not with pae()
    const message = Buffer.concat([Buffer.from(`DSSEv1 ${env.payloadType.length} ${env.payloadType} ${env.payload.length} `), env.payload]);
    expect(verify(null, message, createPublicKey(key.publicKey.pem), env.signatures[0]!.sig)).toBe(true);
    const payload = JSON.parse(env.payload.toString('utf8'));
    expect(payload).toMatchObject({ certificateVersion: 2, keyId: key.publicKey.keyId, threshold: 1e-7, n: '1000', seed: '2', issueTime: '2026-12-07T10:00:00.120Z' });
    expect(payload).not.toHaveProperty('signature');
    expect(payload).not.toHaveProperty('dsseEnvelope');
    expect(checkCertificate(cert, { keys })).toMatchObject({ valid: true, signatureValid: true, reasons: [] });
  });

  it('the proto3 JSON of the envelope is the standard DSSE JSON envelope', () => {
    const cert = signCertificate(certificate(), key);
    const json = Certificate.toJSON(cert) as { dsseEnvelope: Record<string, unknown> };
    expect(Object.keys(json.dsseEnvelope).sort()).toEqual(['payload', 'payloadType', 'signatures']);
    const env = json.dsseEnvelope as { payload: string; signatures: Array<Record<string, string>> };
    expect(Buffer.from(env.payload, 'base64').equals(cert.dsseEnvelope!.payload)).toBe(true);
    expect(Object.keys(env.signatures[0]!).sort()).toEqual(['keyid', 'sig']);
    expect(Buffer.from(env.signatures[0]!.sig, 'base64')).toHaveLength(64);
  });

  it('the envelope alone is a complete certificate: the check uses the signed payload', () => {
    const cert = signCertificate(certificate(), key);
    const bare = Certificate.fromPartial({ dsseEnvelope: cert.dsseEnvelope });
    const check = checkCertificate(bare, { keys });
    expect(check).toMatchObject({ valid: true, signatureValid: true, reasons: [] });
    expect(check.recomputedPaLower).toBeCloseTo(Math.pow(0.001, 1 / 1000), 15);
    expect(certificateContent(bare).n).toBe(1000n);
    expect(openCertificate(bare, keys).certificate.requestId).toBe('item-7');
  });

  it('a signature under another payload type is refused (PAE binds the type)', () => {
    const cert = signCertificate(certificate(), key);
    const env = cert.dsseEnvelope!;
    const other = 'application/vnd.in-toto+json';
    const resigned = { ...env, payloadType: other, signatures: [{ keyid: key.publicKey.keyId, sig: key.sign(pae(other, env.payload)) }] };
    const check = checkCertificate({ ...cert, dsseEnvelope: resigned }, { keys });
    expect(check.signatureValid).toBe(false);
    expect(check.reasons[0]).toMatch(/payload_type/);
    // and the original signature does not verify under the other type
    expect(verify(null, pae(other, env.payload), key.publicKey.publicKey, env.signatures[0]!.sig)).toBe(false);
  });

  it('any one trusted signature suffices; unknown keys and garbage payloads are reasons, not crashes', () => {
    const cert = signCertificate(certificate(), key);
    const env = cert.dsseEnvelope!;
    const stranger = generateSigningKey();
    const two = { ...env, signatures: [{ keyid: stranger.publicKey.keyId, sig: stranger.sign(pae(env.payloadType, env.payload)) }, ...env.signatures] };
    expect(checkCertificate({ ...cert, dsseEnvelope: two }, { keys }).valid).toBe(true);
    expect(checkCertificate({ ...cert, dsseEnvelope: { ...env, signatures: [] } }, { keys }).reasons[0]).toMatch(/no signatures/);
    const junk = Buffer.from('not json');
    const garbage = { ...env, payload: junk, signatures: [{ keyid: key.publicKey.keyId, sig: key.sign(pae(env.payloadType, junk)) }] };
    const check = checkCertificate(Certificate.fromPartial({ dsseEnvelope: garbage }), { keys });
    expect(check.valid).toBe(false);
    expect(check.reasons.join('\n')).toMatch(/dsse_envelope.payload: is not JSON/);
  });

  it('a version-2 certificate without its envelope does not verify', () => {
    const cert = signCertificate(certificate(), key);
    const check = checkCertificate({ ...cert, dsseEnvelope: undefined }, { keys });
    expect(check.signatureValid).toBe(false);
    expect(check.reasons[0]).toMatch(/dsse_envelope is missing/);
  });

  it('a version-1 certificate issued by the previous release still verifies (legacy signature), and tampering is caught', () => {
    const v1 = Certificate.fromJSON(JSON.parse(readFileSync(join(FIXTURES, 'v1-certificate.json'), 'utf8')));
    const ring = new KeyRing([parsePublicKey(readFileSync(join(FIXTURES, 'v1-key.pub.pem'), 'utf8'))]);
    expect(v1.certificateVersion).toBe(1);
    expect(v1.dsseEnvelope).toBeUndefined();
    // the legacy signature verifies; the fixture's threshold (2e-7 for a box whose exact threshold is
    // Phi(sqrt 2) = 0.92) is below the threat model's exact threshold, which is the only reason
    expect(checkCertificate(v1, { keys: ring })).toMatchObject({ valid: false, signatureValid: true, reasons: [expect.stringMatching(/^threshold: 2e-7 is below 0\.92/)] });
    const tampered = { ...v1, na: 999n };
    expect(checkCertificate(tampered, { keys: ring }).signatureValid).toBe(false);
    expect(checkCertificate(v1, { keys })).toMatchObject({ valid: false, signatureValid: false });
  });

  it('the payload type constant is what docs/certificate.md documents', () => {
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'certificate.md'), 'utf8');
    expect(doc).toContain(CERTIFICATE_PAYLOAD_TYPE);
  });
});
