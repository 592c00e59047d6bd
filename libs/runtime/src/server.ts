import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import { createLogger, flushTelemetry, instrumentGrpc, shutdownTelemetry, type Logger } from '@glcert/telemetry';
import {
  ConfigError,
  DEFAULT_MAX_MESSAGE_BYTES,
  EXIT_CONFIG,
  DEFAULT_SHUTDOWN_GRACE_MS,
  loadConfig,
  serverConfigSchema,
  type ServerConfig,
  type ServerConfigDefaults,
} from './config';
import { toStatus, UnavailableError } from './errors';
import { grpcExports } from './grpc-module';
import { addReflection, reflectionFromEnv } from './reflection';
import { serverCredentials, tlsFromEnv } from './tls';

/**
 * Server bootstrap: limits, health, graceful shutdown.
 *
 * Shutdown (SIGTERM/SIGINT, or `shutdown()`): every health key -> NOT_SERVING; health Watch
 * streams end; `server.tryShutdown` lets in-flight calls finish; at `shutdownGraceMs` the
 * calls still running are ended with UNAVAILABLE (reason SHUTTING_DOWN) and, shortly after,
 * `forceShutdown` closes what is left; then `onShutdown` hooks, then telemetry is flushed;
 * on a signal the process then exits (0, or 1 if a step failed). A second signal forces at once.
 */

export interface ServerLimits {
  /** grpc.max_receive_message_length. Default 16 MiB (grpc-js' own default is 4 MiB). */
  maxReceiveMessageBytes?: number;
  /** grpc.max_send_message_length. Default 16 MiB. */
  maxSendMessageBytes?: number;
}

export interface CreateServerOptions extends ServerLimits {
  /** Extra grpc-js server options (interceptors are appended after the runtime's). */
  options?: grpc.ServerOptions;
}

const HEALTH_WATCH = '/grpc.health.v1.Health/Watch';
/** After the in-flight calls were ended with UNAVAILABLE, how long their trailers get before the sockets are destroyed. */
const FORCE_FLUSH_MS = 250;

/** A call in progress, as the shutdown sees it. */
interface ActiveCall {
  path: string;
  /** Messages handed to grpc-js whose write has not completed. */
  writes: number;
  /** Set when shutdown ended the call while messages were still being written. */
  forced?: grpc.StatusObject;
}

const activeCalls = new WeakMap<grpc.Server, Map<grpc.ServerInterceptingCall, ActiveCall>>();

function trackingInterceptor(active: Map<grpc.ServerInterceptingCall, ActiveCall>): grpc.ServerInterceptor {
  return (method, next) => {
    const call: grpc.ServerInterceptingCall = new grpc.ServerInterceptingCall(next, {
      start: (start) =>
        start({
          onCancel: () => {
            active.delete(call);
          },
        }),
      sendStatus: (status, send) => {
        active.delete(call);
        send(status);
      },
    });
    const state: ActiveCall = { path: method.path, writes: 0 };
    // count the writes in flight: a status sent before them would go out ahead of them, and
    // grpc-js then fails the late write (INTERNAL, RST_STREAM): the client would see CANCELLED
    // and lose the last messages of a stream that was finishing when the grace period ended
    const sendForced = (): void => {
      // the handler's own status (queued behind the same writes) goes first when it has one;
      // a write it queued meanwhile goes before ours too
      if (!state.forced || state.writes > 0 || !active.has(call)) return;
      const status = state.forced;
      state.forced = undefined;
      call.sendStatus(status);
    };
    const sendMessage = call.sendMessage.bind(call);
    call.sendMessage = (message: unknown, callback: () => void): void => {
      state.writes++;
      sendMessage(message, () => {
        state.writes--;
        callback();
        if (state.writes === 0 && state.forced) setImmediate(sendForced);
      });
    };
    active.set(call, state);
    return call;
  };
}

/**
 * A grpc-js Server with explicit message limits (both directions), keepalive, and the
 * call tracking graceful shutdown uses to end in-flight calls with UNAVAILABLE.
 */
export function createServer(options: CreateServerOptions = {}): grpc.Server {
  instrumentGrpc(grpcExports);
  const active = new Map<grpc.ServerInterceptingCall, ActiveCall>();
  const server = new grpc.Server({
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': options.maxSendMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 60_000,
    'grpc.keepalive_timeout_ms': 20_000,
    ...options.options,
    interceptors: [trackingInterceptor(active), ...(options.options?.interceptors ?? [])],
  });
  activeCalls.set(server, active);
  return server;
}

/** `host:port`, bracketing IPv6 hosts. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** bindAsync as a promise; the error names the address (EADDRINUSE and friends). Resolves to the bound port. */
export function bindServer(
  server: grpc.Server,
  host: string,
  port: number,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<number> {
  const address = hostPort(host, port);
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, bound) => {
      if (err) reject(new Error(`cannot bind ${address}: ${err.message}`, { cause: err }));
      else resolve(bound);
    });
  });
}

function endCalls(server: grpc.Server, filter: (path: string) => boolean, message: string): number {
  const active = activeCalls.get(server);
  if (!active) return 0;
  const status = toStatus(new UnavailableError(message, { reason: 'SHUTTING_DOWN' }));
  let n = 0;
  for (const [call, state] of [...active]) {
    if (!filter(state.path)) continue;
    n++;
    if (state.writes > 0) {
      // after its writes (still tracked: forceShutdown ends it if they never complete)
      state.forced = status;
      continue;
    }
    active.delete(call);
    call.sendStatus(status);
  }
  return n;
}

export interface ShutdownServerOptions {
  /** How long in-flight calls may take. Default 10 s. */
  graceMs?: number;
  log?: Logger;
}

/**
 * tryShutdown; at `graceMs` the calls still running get UNAVAILABLE, then forceShutdown.
 * Resolves when the server is down; `forced` says whether the grace period ran out.
 */
export function shutdownServer(server: grpc.Server, options: ShutdownServerOptions = {}): Promise<{ forced: boolean }> {
  const graceMs = options.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS;
  const log = options.log;
  return new Promise((resolve) => {
    let forced = false;
    let done = false;
    let forceTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearTimeout(graceTimer);
      clearTimeout(forceTimer);
      resolve({ forced });
    };
    const graceTimer = setTimeout(() => {
      forced = true;
      const n = endCalls(server, () => true, 'server shutting down');
      log?.warn('shutdown grace period over: in-flight calls ended with UNAVAILABLE', { calls: n, grace_ms: graceMs });
      forceTimer = setTimeout(() => {
        server.forceShutdown();
        finish();
      }, FORCE_FLUSH_MS);
    }, graceMs);
    server.tryShutdown(() => finish());
  });
}

export interface ServiceRegistration {
  definition: grpc.ServiceDefinition;
  implementation: any;
  /** Health key; default the full service name (`glcert.certify.v1.CertificationService`). */
  healthName?: string;
}

/** Where shutdown signals come from (process by default; tests pass an EventEmitter). */
export interface SignalTarget {
  on(event: NodeJS.Signals, listener: () => void): unknown;
  removeListener(event: NodeJS.Signals, listener: () => void): unknown;
}

export interface StartServiceOptions {
  /** Short service name: logger name and env prefix (`certifier` -> CERTIFIER_PORT ...). */
  name: string;
  services: ServiceRegistration[];
  /**
   * The server config, when the service loaded it already (as part of its own schema:
   * `loadConfig({ ...serverConfigSchema('certifier', { port: 50051 }), ... })`).
   * Default: read from the environment with `serverConfigSchema(name, defaults)` (exit 78 when invalid).
   */
  config?: ServerConfig;
  defaults?: ServerConfigDefaults;
  log?: Logger;
  /** Default: mutual TLS when GLCERT_TLS_* are set (see tls.ts), else insecure. */
  credentials?: grpc.ServerCredentials;
  serverOptions?: grpc.ServerOptions;
  /** Default ['SIGTERM', 'SIGINT']; [] installs no handlers. */
  signals?: readonly NodeJS.Signals[];
  signalTarget?: SignalTarget;
  /** Called after a signal-triggered shutdown (and on invalid config). Default process.exit. */
  exit?: (code: number) => void;
  /** Cleanup after the server stopped and before telemetry is flushed: close clients, workers. */
  onShutdown?: () => Promise<void> | void;
  /**
   * gRPC server reflection (v1 and v1alpha) for the services. Default: GRPC_REFLECTION
   * (true unless set to false; an invalid value is a configuration error, exit 78).
   */
  reflection?: boolean;
}

export interface RunningService {
  readonly server: grpc.Server;
  readonly host: string;
  readonly port: number;
  /** `host:port` to dial. */
  readonly address: string;
  readonly health: HealthImplementation;
  /** `''` and one per service. */
  readonly healthNames: readonly string[];
  /** Every health key -> SERVING. Call once dependencies are ready (model loaded and warmed). */
  ready(): void;
  /** Every health key -> NOT_SERVING (a dependency was lost); `ready()` again later. */
  notReady(): void;
  /** The graceful sequence without exiting. Idempotent: later calls return the same promise. */
  shutdown(reason?: string): Promise<void>;
}

/** `grpc.health.v1`-style service name of a definition: `/pkg.Service/Method` -> `pkg.Service`. */
export function serviceNameOf(definition: grpc.ServiceDefinition): string {
  const first = Object.values(definition)[0];
  const m = first && /^\/([^/]+)\//.exec(first.path);
  if (!m) throw new Error('service definition has no methods');
  return m[1]!;
}

/**
 * Creates the server with limits from config, adds the services and `grpc.health.v1` (every
 * key NOT_SERVING), binds `<SERVICE>_HOST:<SERVICE>_PORT`, and installs the shutdown signals.
 * The caller flips health with `ready()`.
 */
export async function startService(options: StartServiceOptions): Promise<RunningService> {
  const log = options.log ?? createLogger(options.name);
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const config: ServerConfig =
    options.config ?? loadConfig(serverConfigSchema(options.name, options.defaults), { exit, log });
  // mutual TLS when GLCERT_TLS_* name the files (tls.ts); plaintext otherwise
  let reflection = options.reflection;
  if (reflection === undefined) {
    try {
      reflection = reflectionFromEnv();
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      log.error(err.message, { problems: err.problems });
      exit(EXIT_CONFIG);
      throw err;
    }
  }
  let credentials = options.credentials;
  if (!credentials) {
    try {
      const tls = tlsFromEnv();
      credentials = serverCredentials(tls);
      if (tls) log.info('mutual TLS: client certificates required', { cert_file: tls.certFile, ca_file: tls.caFile });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      log.error(err.message, { problems: err.problems });
      exit(EXIT_CONFIG);
      throw err;
    }
  }

  const server = createServer({
    maxReceiveMessageBytes: config.maxReceiveMessageBytes,
    maxSendMessageBytes: config.maxSendMessageBytes,
    options: options.serverOptions,
  });
  const healthNames = ['', ...options.services.map((s) => s.healthName ?? serviceNameOf(s.definition))];
  const health = new HealthImplementation(Object.fromEntries(healthNames.map((n) => [n, 'NOT_SERVING' as ServingStatus])));
  health.addToServer(server);
  for (const s of options.services) server.addService(s.definition, s.implementation);
  if (reflection) await addReflection(server, healthNames.slice(1));

  let port: number;
  try {
    port = await bindServer(server, config.host, config.port, credentials);
  } catch (err) {
    server.forceShutdown();
    log.error('bind failed', { err });
    throw err;
  }
  const address = hostPort(config.host, port);
  log.info('listening', { address, services: healthNames.slice(1), reflection });

  const setAll = (status: ServingStatus): void => {
    for (const n of healthNames) health.setStatus(n, status);
  };

  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const target = options.signalTarget ?? process;
  let shuttingDown: Promise<void> | undefined;

  const removeSignals = (): void => {
    for (const s of signals) target.removeListener(s, onSignal);
  };

  const shutdown = (reason = 'shutdown'): Promise<void> => {
    if (shuttingDown) return shuttingDown;
    shuttingDown = (async () => {
      log.info('shutting down', { reason, grace_ms: config.shutdownGraceMs });
      setAll('NOT_SERVING');
      // health watchers got NOT_SERVING; end their streams so they don't hold the drain
      await new Promise<void>((r) => setImmediate(r));
      endCalls(server, (path) => path === HEALTH_WATCH, 'server shutting down');
      const { forced } = await shutdownServer(server, { graceMs: config.shutdownGraceMs, log });
      log.info('server stopped', { forced });
      try {
        await options.onShutdown?.();
      } finally {
        await flushTelemetry().catch((err: unknown) => log.warn('telemetry flush failed', { err }));
      }
    })();
    return shuttingDown;
  };

  function onSignal(this: unknown, ...args: unknown[]): void {
    const signal = typeof args[0] === 'string' ? args[0] : 'signal';
    if (shuttingDown) {
      log.warn('second signal: forcing shutdown', { signal });
      endCalls(server, () => true, 'server shutting down');
      server.forceShutdown();
      return;
    }
    shutdown(signal).then(
      async () => {
        removeSignals();
        await shutdownTelemetry();
        exit(0);
      },
      async (err: unknown) => {
        removeSignals();
        log.error('shutdown failed', { err });
        await shutdownTelemetry();
        exit(1);
      },
    );
  }
  for (const s of signals) target.on(s, onSignal);

  return {
    server,
    host: config.host,
    port,
    address,
    health,
    healthNames,
    ready() {
      if (shuttingDown) return;
      setAll('SERVING');
      log.info('ready');
    },
    notReady() {
      setAll('NOT_SERVING');
    },
    shutdown: (reason?: string) => {
      return shutdown(reason).finally(removeSignals);
    },
  };
}
