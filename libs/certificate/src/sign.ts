import { verify } from 'node:crypto';
import { Certificate } from '@glcert/contracts';
import { canonicalBytes } from './canonical';
import { KeyRing, SigningKey } from './keys';

/** Returns a copy of `cert` with key_id set and the Ed25519 signature over its canonical bytes. */
export function signCertificate(cert: Certificate, key: SigningKey): Certificate {
  const unsigned: Certificate = { ...cert, keyId: key.publicKey.keyId, signature: Buffer.alloc(0) };
  return { ...unsigned, signature: key.sign(canonicalBytes(unsigned)) };
}

export type SignatureCheck = { ok: true } | { ok: false; reason: string };

/** Checks the signature with the public key named by the certificate's key_id. */
export function verifyCertificateSignature(cert: Certificate, keys: KeyRing): SignatureCheck {
  if (!cert.keyId) return { ok: false, reason: 'key_id is empty' };
  const key = keys.get(cert.keyId);
  if (!key) return { ok: false, reason: `unknown key_id ${cert.keyId}` };
  if (!cert.signature || cert.signature.length !== 64) return { ok: false, reason: 'signature is missing or not 64 bytes' };
  const ok = verify(null, canonicalBytes(cert), key.publicKey, cert.signature);
  return ok ? { ok: true } : { ok: false, reason: 'signature does not match the certificate contents' };
}
