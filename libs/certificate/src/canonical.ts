import { Certificate } from '@glcert/contracts';

/**
 * Version of the certificate format issued now. 2: signed with a DSSE envelope whose payload is
 * `certificatePayload` (docs/certificate.md). 1: the legacy `signature` over `canonicalBytes`;
 * still verified, never issued.
 */
export const CERTIFICATE_VERSION = 2;
/** The legacy format: `signature` over `canonicalBytes`. */
export const LEGACY_CERTIFICATE_VERSION = 1;
/** Every version a verifier accepts. */
export const SUPPORTED_CERTIFICATE_VERSIONS: readonly number[] = [LEGACY_CERTIFICATE_VERSION, CERTIFICATE_VERSION];

/** DSSE payload type of a certificate payload (the version names the payload layout). */
export const CERTIFICATE_PAYLOAD_TYPE = 'application/vnd.glcert.certificate+json; version=2';

// Domain separation of the legacy bytes: a signature over them can never be replayed as a
// signature over some other glcert message that happens to serialise the same way. (Version 2
// gets the same from DSSE's PAE, which binds the payload type.)
const DOMAIN = 'glcert.certificate.v1\n';

/** JSON with object keys sorted at every level and no whitespace. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new RangeError(`non-finite number in certificate: ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`).join(',')}}`;
}

/** The proto3 JSON of a certificate without its signatures (`signature`, `dsse_envelope`). */
function unsignedJson(cert: Certificate): Record<string, unknown> {
  const json = Certificate.toJSON({ ...cert, signature: Buffer.alloc(0), dsseEnvelope: undefined }) as Record<string, unknown>;
  delete json.signature;
  delete json.dsseEnvelope;
  return json;
}

/**
 * Version 1 (legacy): the bytes the `signature` field covers: the proto3 JSON mapping of every
 * field except `signature` (ts-proto's toJSON: int64 as decimal strings, enums by name, defaults
 * omitted, issue_time as RFC 3339), keys sorted, no whitespace, prefixed by a domain tag.
 * Rebuilding them elsewhere means reproducing JavaScript's number formatting, which is why
 * version 2 carries the signed bytes instead.
 */
export function canonicalBytes(cert: Certificate): Buffer {
  return Buffer.from(DOMAIN + stableStringify(unsignedJson(cert)), 'utf8');
}

/**
 * Version 2: the DSSE payload of a certificate: the same proto3 JSON (without `signature` and
 * `dsse_envelope`), keys sorted, no whitespace, UTF-8, no prefix. A verifier never rebuilds
 * these bytes: it checks the signature over the bytes carried, then parses them.
 */
export function certificatePayload(cert: Certificate): Buffer {
  return Buffer.from(stableStringify(unsignedJson(cert)), 'utf8');
}
