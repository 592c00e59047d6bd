// Loaded by main.ts once telemetry is running: configuration from the environment, then the server.
import { createLogger, describeBudget, detectCpuBudget, loadConfig } from '@glcert/runtime';
import { inferenceConfigSchema, machineSizing, SERVICE_NAME } from './config';
import { startInferenceService } from './inference-service';

export async function main(): Promise<void> {
  const log = createLogger(SERVICE_NAME);
  const budget = detectCpuBudget();
  const sizing = machineSizing(process.env, budget);
  const config = loadConfig(inferenceConfigSchema(sizing), { log });
  const how = (field: 'inferenceWorkers' | 'intraOpThreads', name: string) => (sizing.overridden.includes(field) ? `${name} set` : 'sized');
  log.info(
    `sizing: ${describeBudget(budget)} -> ${config.workers} workers (${how('inferenceWorkers', 'INFERENCE_WORKERS')}) x ` +
      `${config.intraOpNumThreads} intra-op threads (${how('intraOpThreads', 'INFERENCE_INTRA_OP_THREADS')}), ` +
      `nice ${config.workerNice}, max batch ${config.maxBatchSize}, queue delay ${config.maxQueueDelayMs} ms`,
    { cpus: sizing.cpus, workers: config.workers, intra_op_threads: config.intraOpNumThreads, max_batch_size: config.maxBatchSize },
  );
  await startInferenceService(config, { logger: log, signals: ['SIGTERM', 'SIGINT'] });
}
