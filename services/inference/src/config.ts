// Configuration of the inference sidecar, from the environment (validated, fail fast).
import * as path from 'node:path';
import { type ConfigOf, type CpuBudget, detectCpuBudget, env, serverConfigSchema, type Sizing, sizeServices, sizingOverridesFromEnv } from '@glcert/runtime';

export const SERVICE_NAME = 'inference';
/** The fully qualified gRPC service name (also its health-check key). */
export const INFERENCE_SERVICE_NAME = 'glcert.inference.v1.InferenceService';

/** `<repo>/models`, next to this service's folder. */
export const DEFAULT_MODELS_DIR = path.resolve(__dirname, '..', '..', '..', 'models');

export const DEFAULTS = {
  host: '127.0.0.1',
  port: 50053,
  modelsDir: DEFAULT_MODELS_DIR,
  /** withDefaults (tests, embedded use): one worker of one thread. From the environment: sized to the machine (machineSizing). */
  workers: 1,
  intraOpNumThreads: 1,
  /** Worker threads yield to the main thread and the sampler when the cores are full (Linux). */
  workerNice: 5,
  executionProviders: ['cpu'],
  maxBatchSize: 256,
  maxQueueDelayMs: 2,
  maxQueueSize: 4096,
  /** A Classify call carries raw float32 images: 64 MiB is ~5,000 3x32x32 images or ~100 at 224x224. */
  maxReceiveMessageBytes: 64 * 1024 * 1024,
  maxSendMessageBytes: 16 * 1024 * 1024,
  shutdownGraceMs: 10_000,
  warmupBatchSize: 8,
} as const;

/**
 * The workers and intra-op threads an environment gets by default on this machine (see
 * @glcert/runtime sizing): one worker of one thread per usable core for the CPU provider;
 * INFERENCE_WORKERS / INFERENCE_INTRA_OP_THREADS / INFERENCE_EXECUTION_PROVIDERS steer it.
 */
export function machineSizing(source: NodeJS.ProcessEnv = process.env, budget: CpuBudget = detectCpuBudget()): Sizing {
  return sizeServices(budget, sizingOverridesFromEnv(source));
}

/** The environment schema (INFERENCE_* plus MODELS_DIR); worker and thread defaults from `sizing`. */
export function inferenceConfigSchema(sizing: Sizing = machineSizing()) {
  return {
    ...serverConfigSchema(SERVICE_NAME, {
      host: DEFAULTS.host,
      port: DEFAULTS.port,
      maxReceiveMessageBytes: DEFAULTS.maxReceiveMessageBytes,
      maxSendMessageBytes: DEFAULTS.maxSendMessageBytes,
      shutdownGraceMs: DEFAULTS.shutdownGraceMs,
    }),
    modelsDir: env.string('MODELS_DIR', { default: DEFAULTS.modelsDir }),
    workers: env.int('INFERENCE_WORKERS', { default: sizing.inference.workers, min: 1, max: 64 }),
    intraOpNumThreads: env.int('INFERENCE_INTRA_OP_THREADS', { default: sizing.inference.intraOpThreads, min: 0, max: 256 }),
    workerNice: env.int('INFERENCE_WORKER_NICE', { default: DEFAULTS.workerNice, min: 0, max: 19 }),
    executionProviders: env.list('INFERENCE_EXECUTION_PROVIDERS', { default: [...DEFAULTS.executionProviders], minLength: 1 }),
    maxBatchSize: env.int('INFERENCE_MAX_BATCH_SIZE', { default: DEFAULTS.maxBatchSize, min: 1, max: 65536 }),
    maxQueueDelayMs: env.float('INFERENCE_MAX_QUEUE_DELAY_MS', { default: DEFAULTS.maxQueueDelayMs, min: 0, max: 60_000 }),
    maxQueueSize: env.int('INFERENCE_MAX_QUEUE_SIZE', { default: DEFAULTS.maxQueueSize, min: 1 }),
    warmupBatchSize: env.int('INFERENCE_WARMUP_BATCH_SIZE', { default: DEFAULTS.warmupBatchSize, min: 1 }),
  };
}

export type InferenceConfig = ConfigOf<ReturnType<typeof inferenceConfigSchema>>;

/** Fills in defaults for whatever `partial` leaves out (tests and embedded use). */
export function withDefaults(partial: Partial<InferenceConfig> = {}): InferenceConfig {
  const config: InferenceConfig = {
    host: DEFAULTS.host,
    port: DEFAULTS.port,
    maxReceiveMessageBytes: DEFAULTS.maxReceiveMessageBytes,
    maxSendMessageBytes: DEFAULTS.maxSendMessageBytes,
    shutdownGraceMs: DEFAULTS.shutdownGraceMs,
    modelsDir: DEFAULTS.modelsDir,
    workers: DEFAULTS.workers,
    intraOpNumThreads: DEFAULTS.intraOpNumThreads,
    workerNice: DEFAULTS.workerNice,
    executionProviders: [...DEFAULTS.executionProviders],
    maxBatchSize: DEFAULTS.maxBatchSize,
    maxQueueDelayMs: DEFAULTS.maxQueueDelayMs,
    maxQueueSize: DEFAULTS.maxQueueSize,
    warmupBatchSize: DEFAULTS.warmupBatchSize,
  };
  for (const [key, value] of Object.entries(partial)) {
    if (value !== undefined) (config as Record<string, unknown>)[key] = value;
  }
  return config;
}
