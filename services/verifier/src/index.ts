// @glcert/verifier: VerificationService (VerifyCertificate, AuditCertificate).
export { startVerifierService } from './verifier-service';
export type { VerifierServiceHandle, VerifierServiceOptions } from './verifier-service';
export { verifierConfigSchema, defaultVerifierConfig, DEFAULT_PUBLIC_KEYS_DIR, SERVICE_NAME } from './config';
export type { VerifierConfig } from './config';
