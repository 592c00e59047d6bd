// Configuration of the verifier, from the environment (validated, fail fast).
import * as path from 'node:path';
import { type ConfigOf, env, readConfig, serverConfigSchema } from '@glcert/runtime';

export const SERVICE_NAME = 'verifier';
/** Where the certifier keeps its key by default: its `signing.pem.pub.pem` is published there. */
export const DEFAULT_PUBLIC_KEYS_DIR = path.resolve(__dirname, '..', '..', '..', '.glcert', 'keys');

export function verifierConfigSchema() {
  return {
    ...serverConfigSchema(SERVICE_NAME, { host: '127.0.0.1', port: 50055 }),
    /** Trusted public keys (`*.pub.pem`), current and retired: a certificate names its key by key id. */
    publicKeysDir: env.string('VERIFIER_PUBLIC_KEYS_DIR', { default: DEFAULT_PUBLIC_KEYS_DIR }),
    boundsAddr: env.string('BOUNDS_ADDR', { default: '127.0.0.1:50054' }),
    samplerAddrs: env.list('SAMPLER_ADDRS', { default: ['127.0.0.1:50052'], minLength: 1 }),
    /** Samples per CountSamples call when replaying a certificate. */
    chunkSize: env.int('VERIFIER_CHUNK_SIZE', { default: 10_000, min: 1 }),
    /** Largest n0 + n an audit replays. */
    maxAuditSamples: env.int('VERIFIER_MAX_AUDIT_SAMPLES', { default: 1_000_000, min: 1 }),
  };
}

export type VerifierConfig = ConfigOf<ReturnType<typeof verifierConfigSchema>>;

/** Defaults of every field (what an empty environment gives). */
export function defaultVerifierConfig(): VerifierConfig {
  return readConfig(verifierConfigSchema(), {});
}
