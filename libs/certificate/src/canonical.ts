import { Certificate } from '@glcert/contracts';

/** Version of the signed byte layout; bump when canonicalBytes changes. */
export const CERTIFICATE_VERSION = 1;

// Domain separation: a signature over these bytes can never be replayed as a signature over
// some other glcert message that happens to serialise the same way.
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

/**
 * The bytes a certificate's signature covers: the proto3 JSON mapping of every field except
 * `signature` (ts-proto's toJSON: int64 as decimal strings, enums by name, defaults omitted,
 * issue_time as RFC 3339), keys sorted, no whitespace, prefixed by a domain tag. JSON rather
 * than protobuf binary because protobuf serialisation is not canonical across implementations,
 * and a third party must be able to rebuild these bytes from the certificate alone.
 */
export function canonicalBytes(cert: Certificate): Buffer {
  const json = Certificate.toJSON({ ...cert, signature: Buffer.alloc(0) }) as Record<string, unknown>;
  delete json.signature;
  return Buffer.from(DOMAIN + stableStringify(json), 'utf8');
}
