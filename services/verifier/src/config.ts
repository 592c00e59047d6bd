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
    /** CountSamples calls of a replay in flight per SAMPLER_ADDRS entry. */
    samplerConcurrency: env.int('VERIFIER_SAMPLER_CONCURRENCY', { default: 2, min: 1, max: 1024 }),
    /** Retries of a replay chunk that failed with UNAVAILABLE or MODEL_MISMATCH (on another sampler when there is one). */
    chunkRetries: env.int('VERIFIER_CHUNK_RETRIES', { default: 5, min: 0, max: 100 }),
    /** First retry backoff (ms); doubles per retry, capped at 2 s, with jitter. */
    retryBackoffMs: env.int('VERIFIER_RETRY_BACKOFF_MS', { default: 50, min: 0, max: 60_000 }),
  };
}

export type VerifierConfig = ConfigOf<ReturnType<typeof verifierConfigSchema>>;

/** Defaults of every field (what an empty environment gives). */
export function defaultVerifierConfig(): VerifierConfig {
  return readConfig(verifierConfigSchema(), {});
}
