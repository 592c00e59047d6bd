import { type CpuBudget, detectCpuBudget, env, readConfig, serverConfigSchema, type ConfigOf, type Sizing, sizeServices, sizingOverridesFromEnv } from '@glcert/runtime';

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
 * | SAMPLER_BATCH_SIZE | 256 (128 past 4 inference workers) | images per Classify call when a request says 0 (capped by the model's max batch and the message limit) |
 * | SAMPLER_PIPELINE_DEPTH | inference workers + 1, in [2, 16] | Classify calls in flight per CountSamples call while the next batch is transformed |
 * | SAMPLER_MAX_IN_FLIGHT | max(16, 2 x inference workers) | batches in flight from this sampler across all concurrent CountSamples calls: at most this x SAMPLER_BATCH_SIZE samples are in the sidecar's hands at once (keeps its queue, 4096 images by default, from overflowing) |
 * | SAMPLER_MAX_RANGE | 1000000 | most samples in one CountSamples call |
 * | SAMPLER_CLASSIFY_TIMEOUT_MS | 60000 | cap on one Classify call (the caller's deadline wins when earlier) |
 * | SAMPLER_MODEL_CACHE_MS | 30000 | how long GetModel metadata is cached |
 * | SAMPLER_SIDECAR_TRANSFORMS | true | send the sidecar one image and the parameters of each batch (ClassifyRequest.transformed) when it builds the transform itself (ModelMetadata.transforms); false: always send the transformed images |
 * | SAMPLER_SIDECAR_BATCH_SIZE | SAMPLER_MAX_IN_FLIGHT x SAMPLER_BATCH_SIZE / 2 (2048 with the default sizing) | samples per Classify call when the sidecar builds the images (a request that says 0; at most the in-flight bound above): the sidecar's batcher spreads them over its workers in batches of its max batch size; fewer, larger calls cost less gRPC per sample (a FIXED certification's n0 + n = 1200 samples: one call), and half the in-flight bound keeps the next call queued while one runs |
 *
 * "inference workers" is the sidecar's default for the same CPUs (one per usable core, from
 * os.availableParallelism and the cgroup CPU quota: @glcert/runtime sizing), or INFERENCE_WORKERS
 * when this process's environment sets it (set it on both containers of a pod whose sidecar has
 * other CPU limits than the sampler).
 */
export function samplerSizing(source: NodeJS.ProcessEnv = process.env, budget: CpuBudget = detectCpuBudget()): Sizing {
  return sizeServices(budget, sizingOverridesFromEnv(source));
}

export function samplerConfigSchema(sizing: Sizing = samplerSizing()) {
  return {
    ...serverConfigSchema('sampler', { port: DEFAULT_SAMPLER_PORT }),
    inferenceAddr: env.addr('INFERENCE_ADDR', { default: DEFAULT_INFERENCE_ADDR }),
    batchSize: env.int('SAMPLER_BATCH_SIZE', { default: sizing.sampler.batchSize, min: 1, max: 65_536 }),
    pipelineDepth: env.int('SAMPLER_PIPELINE_DEPTH', { default: sizing.sampler.pipelineDepth, min: 1, max: 16 }),
    maxInFlight: env.int('SAMPLER_MAX_IN_FLIGHT', { default: sizing.sampler.maxInFlight, min: 1, max: 1024 }),
    maxRange: env.int('SAMPLER_MAX_RANGE', { default: 1_000_000, min: 1 }),
    classifyTimeoutMs: env.int('SAMPLER_CLASSIFY_TIMEOUT_MS', { default: 60_000, min: 1 }),
    modelCacheMs: env.int('SAMPLER_MODEL_CACHE_MS', { default: 30_000, min: 0 }),
    sidecarTransforms: env.bool('SAMPLER_SIDECAR_TRANSFORMS', { default: true }),
    // half the samples in flight: one call running on the sidecar while the next is queued
    sidecarBatchSize: env.int('SAMPLER_SIDECAR_BATCH_SIZE', { default: Math.max(1, Math.floor((sizing.sampler.maxInFlight * sizing.sampler.batchSize) / 2)), min: 1, max: 65_536 }),
  };
}

export type SamplerConfig = ConfigOf<ReturnType<typeof samplerConfigSchema>>;

/** Defaults of every field (what an empty environment gives on `budget`; default: one core, the smallest sizing). */
export function defaultSamplerConfig(budget: CpuBudget = { availableParallelism: 1 }): SamplerConfig {
  return readConfig(samplerConfigSchema(samplerSizing({}, budget)), {});
}
