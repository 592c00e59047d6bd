export { CERTIFICATE_VERSION, canonicalBytes, stableStringify } from './canonical';
export {
  KeyRing,
  SigningKey,
  describePublicKey,
  generateSigningKey,
  keyIdOf,
  loadOrCreateSigningKey,
  parsePublicKey,
  type PublicKeyInfo,
} from './keys';
export { signCertificate, verifyCertificateSignature, type SignatureCheck } from './sign';
export { decideOutcome } from './verdict';
export { checkCertificate, type CertificateCheck, type CheckOptions } from './check';
