import type { Logger } from '@glcert/telemetry';
import type { SignalTarget } from './server';

/**
 * The shape every service shares: `start<Name>Service(partial config, options)` in
 * `<name>-service.ts` takes these options besides its own, and hands back at least a handle.
 */
export interface ServiceOptions {
  logger?: Logger;
  /** Signals that trigger a graceful shutdown; default none (serve.ts passes SIGTERM, SIGINT). */
  signals?: readonly NodeJS.Signals[];
  /** Where those signals are listened for; default process (tests inject an emitter). */
  signalTarget?: SignalTarget;
  /** Called after a signal-triggered shutdown; default process.exit. */
  exit?: (code: number) => void;
}

/** What every started service hands back. */
export interface ServiceHandle {
  readonly port: number;
  /** `host:port` to dial. */
  readonly address: string;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}
