// Loaded by main.ts once telemetry runs: config from the environment (exits 78 when invalid),
// then the server; SIGTERM/SIGINT drain the streams and shut it down gracefully.
import { createLogger, loadConfig } from '@glcert/runtime';
import { certifierConfigSchema } from './config';
import { startCertifierService } from './server';

export async function main(): Promise<void> {
  const log = createLogger('certifier');
  const config = loadConfig(certifierConfigSchema(), { log });
  await startCertifierService(config, { log, signals: ['SIGTERM', 'SIGINT'] });
}
