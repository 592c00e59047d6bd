// Loaded by main.ts once telemetry is running: configuration from the environment, then the server.
import { createLogger, loadConfig } from '@glcert/runtime';
import { inferenceConfigSchema, SERVICE_NAME } from './config';
import { startInferenceService } from './inference-service';

export async function main(): Promise<void> {
  const log = createLogger(SERVICE_NAME);
  const config = loadConfig(inferenceConfigSchema(), { log });
  await startInferenceService(config, { logger: log, signals: ['SIGTERM', 'SIGINT'] });
}
