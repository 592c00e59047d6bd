// Loaded by main.ts once telemetry is running: configuration from the environment, then the server.
import { createLogger, loadConfig } from '@glcert/runtime';
import { verifierConfigSchema, SERVICE_NAME } from './config';
import { startVerifierService } from './verifier-service';

export async function main(): Promise<void> {
  const log = createLogger(SERVICE_NAME);
  const config = loadConfig(verifierConfigSchema(), { log });
  await startVerifierService(config, { logger: log, signals: ['SIGTERM', 'SIGINT'] });
}
