// The identifier and size limits of what VerifyCertificate and AuditCertificate accept,
// checked before anything is parsed further or sent to the bounds service or a sampler (a
// 64 kB model_name used to drop the verifier's connection to the sampler). A certificate the
// certifier issued always fits them: a violation is a malformed request (INVALID_ARGUMENT
// naming the field), while a well-formed certificate that does not check out is still a
// result (valid = false).
import type { Certificate, verifyV1 } from '@glcert/contracts';
import { identifierViolation, textViolation, threatModelIdentifierViolations, type FieldViolation } from '@glcert/runtime';

/** Free-text and hash fields of a certificate: at most this many bytes. */
const TEXT_BYTES = 256;
const MAX_PREPROCESSING_STEPS = 64;
/** A canonical JSON certificate is a few kB. */
const MAX_PAYLOAD_BYTES = 64 << 10;
const MAX_SIGNATURES = 16;
const MAX_PUBLIC_KEYS = 64;
/** An Ed25519 SPKI is 44 bytes DER, about 113 characters PEM. */
const MAX_KEY_BYTES = 1024;

function tooMany(field: string, count: number, max: number): FieldViolation | undefined {
  return count > max ? { field, description: `must have at most ${max} entries, got ${count}`, reason: 'TOO_MANY' } : undefined;
}

/** Violations of one certificate's strings (`root` is its field path, e.g. `certificate`). */
export function certificateViolations(cert: Certificate, root = 'certificate'): FieldViolation[] {
  const checks: Array<FieldViolation | undefined> = [
    identifierViolation(cert.requestId, `${root}.request_id`, 'id'),
    identifierViolation(cert.modelName, `${root}.model_name`, 'name'),
    ...(['modelVersion', 'modelSha256', 'inputSha256', 'boundCacheKey', 'solverVersion', 'generator', 'keyId'] as const).map((k) =>
      textViolation(cert[k], `${root}.${k.replace(/[A-Z0-9]+/g, (m) => `_${m.toLowerCase()}`)}`, TEXT_BYTES),
    ),
    tooMany(`${root}.preprocessing`, cert.preprocessing.length, MAX_PREPROCESSING_STEPS),
    ...cert.preprocessing.slice(0, MAX_PREPROCESSING_STEPS).map((p, i) => textViolation(p, `${root}.preprocessing[${i}]`, TEXT_BYTES)),
    ...threatModelIdentifierViolations(cert.threatModel, `${root}.threat_model`),
  ];
  const env = cert.dsseEnvelope;
  if (env) {
    checks.push(
      env.payload.length > MAX_PAYLOAD_BYTES
        ? { field: `${root}.dsse_envelope.payload`, description: `must be at most ${MAX_PAYLOAD_BYTES} bytes, got ${env.payload.length}`, reason: 'TOO_LONG' }
        : undefined,
      textViolation(env.payloadType, `${root}.dsse_envelope.payload_type`, TEXT_BYTES),
      tooMany(`${root}.dsse_envelope.signatures`, env.signatures.length, MAX_SIGNATURES),
      ...env.signatures.slice(0, MAX_SIGNATURES).map((s, i) => textViolation(s.keyid, `${root}.dsse_envelope.signatures[${i}].keyid`, TEXT_BYTES)),
    );
  }
  return checks.filter((v): v is FieldViolation => v !== undefined);
}

/** Violations of the trusted keys a VerifyCertificate request brings. */
export function publicKeysViolations(keys: verifyV1.VerifyCertificateRequest['publicKeys']): FieldViolation[] {
  const checks: Array<FieldViolation | undefined> = [tooMany('public_keys', keys.length, MAX_PUBLIC_KEYS)];
  keys.slice(0, MAX_PUBLIC_KEYS).forEach((k, i) => {
    checks.push(
      textViolation(k.keyId, `public_keys[${i}].key_id`, TEXT_BYTES),
      textViolation(k.algorithm, `public_keys[${i}].algorithm`, TEXT_BYTES),
      textViolation(k.publicKeyPem, `public_keys[${i}].public_key_pem`, MAX_KEY_BYTES),
      k.publicKeyDer.length > MAX_KEY_BYTES
        ? { field: `public_keys[${i}].public_key_der`, description: `must be at most ${MAX_KEY_BYTES} bytes, got ${k.publicKeyDer.length}`, reason: 'TOO_LONG' }
        : undefined,
    );
  });
  return checks.filter((v): v is FieldViolation => v !== undefined);
}
