// Loaded by main.ts once telemetry is running: configuration from the environment, then the server.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { ConfigError, createLogger, EXIT_CONFIG, loadConfig } from '@glcert/runtime';
import { boundsConfigSchema, SERVICE_NAME } from './config';
import { startBoundsService } from './bound-service';

export async function main(): Promise<void> {
  const log = createLogger(SERVICE_NAME);
  const config = loadConfig(boundsConfigSchema(), { log });
  // an unusable bound cache (e.g. no volume mounted on a read-only root) is a configuration error
  try {
    mkdirSync(config.cacheDir, { recursive: true });
    accessSync(config.cacheDir, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    const error = new ConfigError([
      { env: 'BOUNDS_CACHE_DIR', message: `cannot use ${JSON.stringify(config.cacheDir)} as the bound cache (${code}): mount a writable volume there (the PVC bounds-cache in the manifests)` },
    ]);
    log.error(error.message, { problems: error.problems });
    process.exit(EXIT_CONFIG);
  }
  await startBoundsService(config, { logger: log, signals: ['SIGTERM', 'SIGINT'] });
}
