// @glcert/inference: the model-serving sidecar (InferenceService). Start it in-process with
// `startInferenceService(config)`; run it standalone with `node --import tsx services/inference/src/main.ts`.
export { startInferenceService, WORKERS_HEADER, INTRA_OP_THREADS_HEADER } from './inference-service';
export type { InferenceServiceOptions, InferenceStats, RunningInferenceService } from './inference-service';
export { DEFAULT_MODELS_DIR, DEFAULTS, INFERENCE_SERVICE_NAME, inferenceConfigSchema, machineSizing, withDefaults } from './config';
export type { InferenceConfig } from './config';
export { DynamicBatcher, QueueFullError, CancelledError, BatcherClosedError } from './batcher';
export type { BatcherOptions, BatcherStats, BatchInfo, BatchOutput, BatchRunner, ClassifyResult, SubmitOptions } from './batcher';
export { loadModelRepository, parseModelCard, sha256File, ModelRepositoryError } from './model-repository';
export type { ModelEntry } from './model-repository';
