import { verify } from 'node:crypto';
import { Certificate, type DsseEnvelope } from '@glcert/contracts';
import {
  CERTIFICATE_PAYLOAD_TYPE,
  CERTIFICATE_VERSION,
  LEGACY_CERTIFICATE_VERSION,
  canonicalBytes,
  certificatePayload,
  stableStringify,
} from './canonical';
import { KeyRing, SigningKey } from './keys';

/**
 * DSSE pre-authentication encoding: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN the
 * byte length in ASCII decimal. Binding the type into the signed bytes is the domain separation.
 */
export function pae(payloadType: string, payload: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
}

/**
 * Returns a copy of `cert` as a signed version-2 certificate: certificate_version 2, key_id set,
 * and a DSSE envelope over its canonical JSON payload. The fields outside the envelope are kept
 * as an unsigned copy of the payload for readers that do not verify.
 */
export function signCertificate(cert: Certificate, key: SigningKey): Certificate {
  const unsigned: Certificate = {
    ...cert,
    certificateVersion: CERTIFICATE_VERSION,
    keyId: key.publicKey.keyId,
    signature: Buffer.alloc(0),
    dsseEnvelope: undefined,
  };
  const payload = certificatePayload(unsigned);
  const envelope: DsseEnvelope = {
    payload,
    payloadType: CERTIFICATE_PAYLOAD_TYPE,
    signatures: [{ keyid: key.publicKey.keyId, sig: key.sign(pae(CERTIFICATE_PAYLOAD_TYPE, payload)) }],
  };
  return { ...unsigned, dsseEnvelope: envelope };
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** A certificate as its signature vouches for it. */
export interface OpenedCertificate {
  /** The signature check (DSSE for version 2, the legacy signature for version 1). */
  signature: SignatureCheck;
  /**
   * The certificate to check: the parsed DSSE payload when there is an envelope (whatever the
   * fields outside it say), else the certificate as given (version 1).
   */
  certificate: Certificate;
  /** Problems beyond the signature (unparsable payload, fields outside the envelope that differ). */
  problems: string[];
}

/** The certificate an envelope carries, parsed; throws with a message when the payload is not one. */
export function parseCertificatePayload(payload: Buffer): Certificate {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    throw new Error(`dsse_envelope.payload: is not JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('dsse_envelope.payload: is not a JSON object');
  try {
    return Certificate.fromJSON(json);
  } catch (e) {
    throw new Error(`dsse_envelope.payload: is not a certificate (${(e as Error).message})`);
  }
}

/** The certificate's content without checking anything: the envelope's payload when present (audit, bound lookup). */
export function certificateContent(cert: Certificate): Certificate {
  return cert.dsseEnvelope ? parseCertificatePayload(cert.dsseEnvelope.payload) : cert;
}

/** Names of the top-level fields outside the envelope that are set and differ from the payload. */
function outerDifferences(outer: Certificate, signed: Certificate): string[] {
  const strip = (c: Certificate): Record<string, unknown> =>
    Certificate.toJSON({ ...c, signature: Buffer.alloc(0), dsseEnvelope: undefined }) as Record<string, unknown>;
  const a = strip(outer);
  const b = strip(signed);
  return Object.keys(a)
    .filter((k) => stableStringify(a[k]) !== stableStringify(b[k]))
    .sort();
}

function verifyEnvelope(env: DsseEnvelope, keys: KeyRing): SignatureCheck {
  if (env.payloadType !== CERTIFICATE_PAYLOAD_TYPE) {
    return { ok: false, reason: `dsse_envelope.payload_type is '${env.payloadType.slice(0, 80)}', not '${CERTIFICATE_PAYLOAD_TYPE}'` };
  }
  if (env.signatures.length === 0) return { ok: false, reason: 'dsse_envelope has no signatures' };
  const message = pae(env.payloadType, env.payload);
  const problems: string[] = [];
  for (const s of env.signatures.slice(0, 16)) {
    const key = keys.get(s.keyid);
    if (!key) {
      problems.push(`unknown keyid ${s.keyid.slice(0, 80) || '(empty)'}`);
      continue;
    }
    if (s.sig.length !== 64) {
      problems.push(`signature of ${s.keyid} is not 64 bytes`);
      continue;
    }
    if (verify(null, message, key.publicKey, s.sig)) return { ok: true };
    problems.push(`signature of ${s.keyid} does not match the payload`);
  }
  return { ok: false, reason: `dsse_envelope: ${problems.join('; ')}` };
}

/**
 * Verifies a certificate's signature and returns the content it vouches for. Version 2 (an
 * envelope): the signature over the payload bytes as received, then the payload parsed; the
 * fields outside the envelope must either be empty or equal the payload. Version 1: the legacy
 * signature over the canonical bytes rebuilt from the fields.
 */
export function openCertificate(cert: Certificate, keys: KeyRing): OpenedCertificate {
  const env = cert.dsseEnvelope;
  if (env) {
    const signature = verifyEnvelope(env, keys);
    let signed: Certificate;
    try {
      signed = parseCertificatePayload(env.payload);
    } catch (e) {
      return { signature, certificate: { ...cert, dsseEnvelope: undefined }, problems: [(e as Error).message] };
    }
    const problems: string[] = [];
    if (signed.certificateVersion !== CERTIFICATE_VERSION) {
      problems.push(`certificate_version: the payload says ${signed.certificateVersion}, an envelope carries version ${CERTIFICATE_VERSION}`);
    }
    const differ = outerDifferences(cert, signed);
    if (differ.length > 0) {
      problems.push(`certificate: fields outside the envelope differ from the signed payload (${differ.slice(0, 8).join(', ')})`);
    }
    return { signature, certificate: signed, problems };
  }
  if (cert.certificateVersion !== LEGACY_CERTIFICATE_VERSION) {
    return {
      signature: { ok: false, reason: `dsse_envelope is missing (certificate_version ${cert.certificateVersion} is signed with an envelope)` },
      certificate: cert,
      problems: [],
    };
  }
  return { signature: verifyLegacySignature(cert, keys), certificate: cert, problems: [] };
}

/** Version 1: the Ed25519 `signature` over `canonicalBytes`, with the key named by key_id. */
function verifyLegacySignature(cert: Certificate, keys: KeyRing): SignatureCheck {
  if (!cert.keyId) return { ok: false, reason: 'key_id is empty' };
  const key = keys.get(cert.keyId);
  if (!key) return { ok: false, reason: `unknown key_id ${cert.keyId.slice(0, 80)}` };
  if (!cert.signature || cert.signature.length !== 64) return { ok: false, reason: 'signature is missing or not 64 bytes' };
  const ok = verify(null, canonicalBytes(cert), key.publicKey, cert.signature);
  return ok ? { ok: true } : { ok: false, reason: 'signature does not match the certificate contents' };
}

/** Checks the signature (either version) with the trusted keys. */
export function verifyCertificateSignature(cert: Certificate, keys: KeyRing): SignatureCheck {
  const opened = openCertificate(cert, keys);
  if (!opened.signature.ok) return opened.signature;
  if (opened.problems.length > 0) return { ok: false, reason: opened.problems.join('; ') };
  return { ok: true };
}
