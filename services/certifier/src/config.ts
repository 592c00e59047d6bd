import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { env, readConfig, serverConfigSchema, type ConfigOf } from '@glcert/runtime';

export const DEFAULT_CERTIFIER_PORT = 50051;
export const DEFAULT_SAMPLER_ADDRS = ['127.0.0.1:50052'];
export const DEFAULT_BOUNDS_ADDR = '127.0.0.1:50054';
/** Relative to the workspace root (the directory holding nx.json). */
export const DEFAULT_SIGNING_KEY_PATH = '.glcert/keys/signing.pem';

/** The workspace root: the nearest directory above this file (or the cwd) holding nx.json. */
export function workspaceRoot(start: string = __dirname): string {
  for (const from of [start, process.cwd()]) {
    let dir = resolve(from);
    for (;;) {
      if (existsSync(join(dir, 'nx.json'))) return dir;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  return process.cwd();
}

/**
 * The certifier's environment:
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | CERTIFIER_HOST, CERTIFIER_PORT | 127.0.0.1, 50051 | where it listens (0.0.0.0 in a pod; 0 = any free port) |
 * | CERTIFIER_MAX_RECEIVE_MESSAGE_BYTES, CERTIFIER_MAX_SEND_MESSAGE_BYTES | 16 MiB | message limits (server and clients) |
 * | CERTIFIER_SHUTDOWN_GRACE_MS | 10000 | graceful shutdown; streams drain for 80 % of it |
 * | SAMPLER_ADDRS | 127.0.0.1:50052 | comma list of sampler replicas (`host:port` each, one client per entry) or a `dns:///name:port` headless Service (round-robin over its addresses) |
 * | BOUNDS_ADDR | 127.0.0.1:50054 | the bound service |
 * | CERTIFIER_MAX_N | 1000000 | largest n0 and n of a request |
 * | CERTIFIER_CHUNK_SIZE | 2000 | samples per CountSamples call; the chunks of one certification run concurrently on all samplers |
 * | CERTIFIER_SAMPLER_CONCURRENCY | 4 | CountSamples calls in flight per SAMPLER_ADDRS entry (for a dns:/// entry: per name, so raise it with the replica count) |
 * | CERTIFIER_SAMPLER_BATCH_SIZE | 0 | batch_size sent to the samplers (0: sampler default) |
 * | CERTIFIER_CHUNK_RETRIES | 5 | retries of a chunk that failed with UNAVAILABLE or MODEL_MISMATCH (each on another sampler when there is one) |
 * | CERTIFIER_RETRY_BACKOFF_MS | 50 | first retry backoff; doubles per retry, capped at 2 s, with jitter |
 * | CERTIFIER_CHUNK_TIMEOUT_MS | 120000 | cap on one CountSamples call (the caller's deadline wins when earlier) |
 * | CERTIFIER_BOUNDS_TIMEOUT_MS | 600000 | cap on GetThreshold (a cache miss runs the solver) |
 * | CERTIFIER_MAX_INFLIGHT | 16 | certifications in progress at once (Certify calls + stream items); past it RESOURCE_EXHAUSTED |
 * | CERTIFIER_STREAM_CONCURRENCY | 4 | items of one StreamingCertify stream in progress at once |
 * | CERTIFIER_REQUEST_CACHE_SIZE | 1024 | certificates remembered by request_id (LRU) |
 * | CERTIFIER_SIGNING_KEY_FILE | `<workspace>/.glcert/keys/signing.pem` | Ed25519 PKCS#8 PEM; generated (0600) at first start and kept when CERTIFIER_SIGNING_KEY_CREATE |
 * | CERTIFIER_SIGNING_KEY_CREATE | true | generate a missing key (development, `glcert up`); false (the images): the key must exist, is only read, and its absence exits 78 |
 * | CERTIFIER_RETIRED_KEYS_DIR | (none) | directory of retired public keys (`*.pub.pem`, SPKI PEM) still published by GetPublicKeys |
 */
export function certifierConfigSchema() {
  return {
    ...serverConfigSchema('certifier', { port: DEFAULT_CERTIFIER_PORT }),
    samplerAddrs: env.addrs('SAMPLER_ADDRS', { default: DEFAULT_SAMPLER_ADDRS }),
    boundsAddr: env.addr('BOUNDS_ADDR', { default: DEFAULT_BOUNDS_ADDR }),
    maxN: env.int('CERTIFIER_MAX_N', { default: 1_000_000, min: 1, max: 2 ** 40 }),
    chunkSize: env.int('CERTIFIER_CHUNK_SIZE', { default: 2_000, min: 1 }),
    samplerConcurrency: env.int('CERTIFIER_SAMPLER_CONCURRENCY', { default: 4, min: 1, max: 1024 }),
    samplerBatchSize: env.int('CERTIFIER_SAMPLER_BATCH_SIZE', { default: 0, min: 0, max: 65_536 }),
    chunkRetries: env.int('CERTIFIER_CHUNK_RETRIES', { default: 5, min: 0, max: 100 }),
    retryBackoffMs: env.int('CERTIFIER_RETRY_BACKOFF_MS', { default: 50, min: 0, max: 60_000 }),
    chunkTimeoutMs: env.int('CERTIFIER_CHUNK_TIMEOUT_MS', { default: 120_000, min: 1 }),
    boundsTimeoutMs: env.int('CERTIFIER_BOUNDS_TIMEOUT_MS', { default: 600_000, min: 1 }),
    maxInflight: env.int('CERTIFIER_MAX_INFLIGHT', { default: 16, min: 1 }),
    streamConcurrency: env.int('CERTIFIER_STREAM_CONCURRENCY', { default: 4, min: 1, max: 1024 }),
    requestCacheSize: env.int('CERTIFIER_REQUEST_CACHE_SIZE', { default: 1024, min: 0 }),
    signingKeyFile: env.string('CERTIFIER_SIGNING_KEY_FILE', { default: join(workspaceRoot(), DEFAULT_SIGNING_KEY_PATH) }),
    signingKeyCreate: env.bool('CERTIFIER_SIGNING_KEY_CREATE', { default: true }),
    retiredKeysDir: env.string('CERTIFIER_RETIRED_KEYS_DIR', { optional: true }),
  };
}

export type CertifierConfig = ConfigOf<ReturnType<typeof certifierConfigSchema>>;

/** Defaults of every field (what an empty environment gives). */
export function defaultCertifierConfig(): CertifierConfig {
  return readConfig(certifierConfigSchema(), {});
}
