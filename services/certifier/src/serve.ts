// Loaded by main.ts once telemetry runs: config from the environment (exits 78 when invalid),
// then the server; SIGTERM/SIGINT drain the streams and shut it down gracefully.
import { ConfigError, createLogger, EXIT_CONFIG, loadConfig } from '@glcert/runtime';
import { certifierConfigSchema } from './config';
import { startCertifierService } from './certifier-service';
import { loadSigningKey } from './signing-key';

export async function main(): Promise<void> {
  const log = createLogger('certifier');
  const config = loadConfig(certifierConfigSchema(), { log });
  // a missing or unreadable signing key is a configuration error too: say so and exit 78
  let signing: ReturnType<typeof loadSigningKey>;
  try {
    signing = loadSigningKey(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    log.error(err.message, { problems: err.problems });
    process.exit(EXIT_CONFIG);
  }
  log.info(signing.created ? 'signing key generated' : 'signing key loaded', { key_id: signing.key.publicKey.keyId, file: config.signingKeyFile });
  await startCertifierService(config, { logger: log, signals: ['SIGTERM', 'SIGINT'], signingKey: signing.key });
}
