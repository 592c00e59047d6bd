// Loaded by main.ts once telemetry runs: config from the environment (exits 78 when invalid),
// then the server; SIGTERM/SIGINT shut it down gracefully.
import { createLogger, loadConfig } from '@glcert/runtime';
import { samplerConfigSchema } from './config';
import { startSamplerService } from './server';

export async function main(): Promise<void> {
  const log = createLogger('sampler');
  const config = loadConfig(samplerConfigSchema(), { log });
  await startSamplerService(config, { log, signals: ['SIGTERM', 'SIGINT'] });
}
