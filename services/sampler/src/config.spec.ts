import { readConfig } from '@glcert/runtime';
import { defaultSamplerConfig, samplerConfigSchema, samplerSizing } from './config';

describe('sampler config sizing', () => {
  const load = (env: NodeJS.ProcessEnv, availableParallelism: number, cgroupQuota?: number) =>
    readConfig(samplerConfigSchema(samplerSizing(env, { availableParallelism, cgroupQuota })), env);

  it('follows the inference workers of the same CPUs', () => {
    // the sidecar-built call carries half the samples in flight: 2048, a FIXED certification's
    // default n0 + n = 1200 in one Classify call
    expect(load({}, 1)).toMatchObject({ batchSize: 256, pipelineDepth: 2, maxInFlight: 16, sidecarBatchSize: 2048 });
    expect(load({}, 2)).toMatchObject({ batchSize: 256, pipelineDepth: 3, maxInFlight: 16, sidecarBatchSize: 2048 });
    expect(load({}, 16)).toMatchObject({ batchSize: 128, pipelineDepth: 16, maxInFlight: 32, sidecarBatchSize: 2048 });
    expect(load({}, 16, 0.5)).toMatchObject({ batchSize: 256, pipelineDepth: 2, maxInFlight: 16, sidecarBatchSize: 2048 });
  });

  it('follows INFERENCE_WORKERS when set, and keeps its own variables', () => {
    expect(load({ INFERENCE_WORKERS: '6' }, 2)).toMatchObject({ batchSize: 128, pipelineDepth: 7, maxInFlight: 16 });
    expect(load({ SAMPLER_BATCH_SIZE: '100', SAMPLER_PIPELINE_DEPTH: '4', SAMPLER_MAX_IN_FLIGHT: '9' }, 16)).toMatchObject({
      batchSize: 100,
      pipelineDepth: 4,
      maxInFlight: 9,
      sidecarBatchSize: 450,
    });
    expect(load({ SAMPLER_SIDECAR_BATCH_SIZE: '300' }, 2)).toMatchObject({ sidecarBatchSize: 300 });
    expect(() => load({ SAMPLER_PIPELINE_DEPTH: '17' }, 2)).toThrow(/SAMPLER_PIPELINE_DEPTH/);
  });

  it('embedded defaults are the one-core sizing', () => {
    expect(defaultSamplerConfig()).toMatchObject({ batchSize: 256, pipelineDepth: 2, maxInFlight: 16, sidecarBatchSize: 2048 });
  });
});
