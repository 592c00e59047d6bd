// @glcert/certifier: CertificationService (Certify, StreamingCertify, GetPublicKeys).
// `startCertifierService` is what main.ts, `glcert up` and the tests call; the pure parts
// (chunking, seeds, admission, the request cache) are exported for tools and tests.
export { startCertifierService } from './certifier-service';
export type { CertifierService, StartCertifierOptions } from './certifier-service';
export {
  certifierConfigSchema,
  defaultCertifierConfig,
  workspaceRoot,
  DEFAULT_CERTIFIER_PORT,
  DEFAULT_SAMPLER_ADDRS,
  DEFAULT_BOUNDS_ADDR,
  DEFAULT_SIGNING_KEY_PATH,
} from './config';
export type { CertifierConfig } from './config';
export { drawSeed, deriveItemSeed, SEED_MAX } from './seeds';
export { NO_CLIPPING_NOTE, BLUR_NOTE, threatModelNote } from './validate';
export type { EndpointStats } from '@glcert/sampling';
