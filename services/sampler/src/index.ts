// @glcert/sampler: the SamplingService. `startSamplerService(config)` is what main.ts, tests and
// `glcert up` call; the pure parts (sample source, pipeline, request encoding) are exported for
// the benchmark.
export { startSamplerService } from './sampler-service';
export type { SamplerService, SamplerStats, StartSamplerOptions } from './sampler-service';
export { samplerConfigSchema, samplerSizing, defaultSamplerConfig, DEFAULT_SAMPLER_PORT, DEFAULT_INFERENCE_ADDR } from './config';
export type { SamplerConfig } from './config';
export { SampleSource } from './sample-source';
export type { SampleSourceOptions } from './sample-source';
export { runCountPipeline } from './count-pipeline';
export type { PipelineOptions, PipelineResult, PipelineBatch, SentBatch } from './count-pipeline';
export { ClassifyRequestBuffer, classifyRequestHeader } from './classify-request';
export { SAMPLE_TRANSFORMS_MAX } from './validate';
