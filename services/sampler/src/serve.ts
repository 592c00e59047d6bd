// Loaded by main.ts once telemetry runs: config from the environment (exits 78 when invalid),
// then the server; SIGTERM/SIGINT shut it down gracefully.
import { createLogger, describeBudget, detectCpuBudget, loadConfig } from '@glcert/runtime';
import { samplerConfigSchema, samplerSizing } from './config';
import { startSamplerService } from './sampler-service';

export async function main(): Promise<void> {
  const log = createLogger('sampler');
  const budget = detectCpuBudget();
  const sizing = samplerSizing(process.env, budget);
  const config = loadConfig(samplerConfigSchema(sizing), { log });
  const basis = sizing.overridden.includes('inferenceWorkers') ? `INFERENCE_WORKERS ${sizing.inference.workers}` : `${sizing.inference.workers} inference workers`;
  log.info(
    `sizing: ${describeBudget(budget)}, ${basis} -> batch ${config.batchSize}, pipeline depth ${config.pipelineDepth}, ` +
      `${config.maxInFlight * config.batchSize} samples (${config.maxInFlight} batches) in flight at most, ` +
      `${config.sidecarBatchSize} samples per call the sidecar builds`,
    {
      cpus: sizing.cpus,
      batch_size: config.batchSize,
      pipeline_depth: config.pipelineDepth,
      max_in_flight: config.maxInFlight,
      sidecar_batch_size: config.sidecarBatchSize,
    },
  );
  await startSamplerService(config, { logger: log, signals: ['SIGTERM', 'SIGINT'] });
}
