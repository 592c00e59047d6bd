import { createLogger, type Logger } from './logger';
import { shutdownTelemetry, startTelemetry, type TelemetryOptions } from './telemetry';

export interface BootstrapOptions extends Omit<TelemetryOptions, 'serviceName'> {
  /** Default: process.exit. */
  exit?: (code: number) => void;
  logger?: Logger;
}

/**
 * The start of every service's main.ts: starts telemetry, THEN loads the service module
 * (which imports grpc-js, @glcert/runtime and the contracts), then calls its `main()` export
 * if it has one. A failure to load or start is logged and exits 1 after flushing telemetry.
 *
 * ```ts
 * // services/certifier/src/main.ts: no other imports here
 * import { bootstrap } from '@glcert/telemetry';
 * void bootstrap('certifier', () => import('./server'));
 * ```
 */
export async function bootstrap(
  serviceName: string,
  load: () => Promise<unknown> | unknown,
  options: BootstrapOptions = {},
): Promise<void> {
  const { exit = (code: number) => process.exit(code), logger, ...telemetry } = options;
  const log = logger ?? createLogger(serviceName);
  startTelemetry({ serviceName, logger: log, ...telemetry });
  try {
    const mod = (await load()) as { main?: unknown } | undefined;
    if (mod && typeof mod.main === 'function') await (mod.main as () => unknown)();
  } catch (err) {
    log.error('service failed to start', { err });
    await shutdownTelemetry();
    exit(1);
  }
}
