import { env, readConfig, serverConfigSchema, type ConfigOf } from '@glcert/runtime';

export const DEFAULT_SAMPLER_PORT = 50052;
export const DEFAULT_INFERENCE_ADDR = '127.0.0.1:50053';

/**
 * The sampler's environment:
 *
 * | variable | default | meaning |
 * |---|---|---|
 * | SAMPLER_HOST, SAMPLER_PORT | 127.0.0.1, 50052 | where it listens (0.0.0.0 in a pod) |
 * | SAMPLER_MAX_RECEIVE_MESSAGE_BYTES, SAMPLER_MAX_SEND_MESSAGE_BYTES | 16 MiB | message limits of the server and of the sidecar client |
 * | SAMPLER_SHUTDOWN_GRACE_MS | 10000 | graceful shutdown |
 * | INFERENCE_ADDR | 127.0.0.1:50053 | the inference sidecar |
 * | SAMPLER_BATCH_SIZE | 256 | images per Classify call when a request says 0 (capped by the model's max batch and the message limit) |
 * | SAMPLER_PIPELINE_DEPTH | 2 | Classify calls in flight per CountSamples call while the next batch is transformed |
 * | SAMPLER_MAX_IN_FLIGHT | 8 | Classify calls in flight from this sampler across all concurrent CountSamples calls (keeps the sidecar's queue from overflowing) |
 * | SAMPLER_MAX_RANGE | 1000000 | most samples in one CountSamples call |
 * | SAMPLER_CLASSIFY_TIMEOUT_MS | 60000 | cap on one Classify call (the caller's deadline wins when earlier) |
 * | SAMPLER_MODEL_CACHE_MS | 30000 | how long GetModel metadata is cached |
 */
export function samplerConfigSchema() {
  return {
    ...serverConfigSchema('sampler', { port: DEFAULT_SAMPLER_PORT }),
    inferenceAddr: env.addr('INFERENCE_ADDR', { default: DEFAULT_INFERENCE_ADDR }),
    batchSize: env.int('SAMPLER_BATCH_SIZE', { default: 256, min: 1, max: 65_536 }),
    pipelineDepth: env.int('SAMPLER_PIPELINE_DEPTH', { default: 2, min: 1, max: 16 }),
    maxInFlight: env.int('SAMPLER_MAX_IN_FLIGHT', { default: 8, min: 1, max: 1024 }),
    maxRange: env.int('SAMPLER_MAX_RANGE', { default: 1_000_000, min: 1 }),
    classifyTimeoutMs: env.int('SAMPLER_CLASSIFY_TIMEOUT_MS', { default: 60_000, min: 1 }),
    modelCacheMs: env.int('SAMPLER_MODEL_CACHE_MS', { default: 30_000, min: 0 }),
  };
}

export type SamplerConfig = ConfigOf<ReturnType<typeof samplerConfigSchema>>;

/** Defaults of every field (what an empty environment gives). */
export function defaultSamplerConfig(): SamplerConfig {
  return readConfig(samplerConfigSchema(), {});
}
