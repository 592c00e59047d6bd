// Loaded by main.ts once telemetry is running: configuration from the environment, then the server.
import { createLogger, loadConfig } from '@glcert/runtime';
import { boundsConfigSchema, SERVICE_NAME } from './config';
import { startBoundsService } from './bound-service';

export async function main(): Promise<void> {
  const log = createLogger(SERVICE_NAME);
  const config = loadConfig(boundsConfigSchema(), { log });
  await startBoundsService(config, { logger: log, signals: ['SIGTERM', 'SIGINT'] });
}
