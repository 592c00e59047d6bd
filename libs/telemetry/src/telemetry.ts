import { context, propagation, trace } from '@opentelemetry/api';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createLogger, type Logger } from './logger';
import { IgnoreSpansSampler, samplerFromEnv } from './sampler';

/**
 * `env`: exporters from the standard OTEL_* variables (the default for services);
 * `memory`: spans kept in an InMemorySpanExporter (tests);
 * `off`: nothing is started.
 */
export type TelemetryMode = 'env' | 'memory' | 'off';

export interface TelemetryOptions {
  /** `service.name` of every span (OTEL_SERVICE_NAME, if set, wins over it). */
  serviceName: string;
  mode?: TelemetryMode;
  /** Read instead of process.env for the enable/disable decision. */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
}

export interface Telemetry {
  readonly serviceName: string;
  /** False when telemetry is off; then every method is a no-op. */
  readonly enabled: boolean;
  /** What the spans go to: `otlp (http/protobuf)`, `otlp (http/json)`, `otlp (grpc)`, `console`, `memory`, `none`. */
  readonly exporter: string;
  /** Why it is off (for the start-up log line). */
  readonly reason?: string;
  /** Memory mode only. */
  readonly memoryExporter?: InMemorySpanExporter;
  /** Memory mode: the spans ended so far (call `flush()` first). */
  finishedSpans(): ReadableSpan[];
  /** Export everything ended so far. */
  flush(): Promise<void>;
  /**
   * Apply the gRPC instrumentation's patch to this `@grpc/grpc-js` exports object (idempotent).
   * Pass the real exports (`require('@grpc/grpc-js')`), not an `import * as` interop copy.
   */
  instrumentGrpc(grpcModule: object): void;
}

interface ActiveTelemetry extends Telemetry {
  stop(timeoutMs: number): Promise<void>;
}

let current: ActiveTelemetry | undefined;

const GRPC_JS = '@grpc/grpc-js';

function truthy(raw: string | undefined): boolean {
  return (raw ?? '').trim().toLowerCase() === 'true';
}

function listFromEnv(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'null');
}

/** The OTLP protocols sdk-node 0.223.0 builds a trace exporter for. */
export const OTLP_PROTOCOLS: readonly string[] = ['http/protobuf', 'http/json', 'grpc'];

/** A variable's value, or undefined when unset or blank (as @opentelemetry/core reads it). */
function setValue(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw.trim() === '' ? undefined : raw;
}

/** The OTLP protocol the environment asks for, as written (blank counts as unset). */
function requestedProtocol(env: NodeJS.ProcessEnv): string | undefined {
  return setValue(env, 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL') ?? setValue(env, 'OTEL_EXPORTER_OTLP_PROTOCOL');
}

/**
 * The OTLP protocol the trace exporter will use, decided as sdk-node 0.223.0 decides it:
 * OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL (a blank value counts as
 * unset), default `http/protobuf`; a value it does not support also gives `http/protobuf`.
 */
export function otlpProtocol(env: NodeJS.ProcessEnv = process.env): string {
  const wanted = requestedProtocol(env);
  return wanted !== undefined && OTLP_PROTOCOLS.includes(wanted) ? wanted : 'http/protobuf';
}

/** Decides from the environment whether traces are exported, and how. */
export function exporterFromEnv(env: NodeJS.ProcessEnv = process.env): { exporter: string; reason?: string } {
  if (truthy(env['OTEL_SDK_DISABLED'])) return { exporter: 'none', reason: 'OTEL_SDK_DISABLED=true' };
  const exporters = listFromEnv(env['OTEL_TRACES_EXPORTER']);
  if (exporters.includes('none')) return { exporter: 'none', reason: 'OTEL_TRACES_EXPORTER=none' };
  const wanted = exporters.length === 0 ? ['otlp'] : exporters;
  const endpoint = (env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'] ?? '').trim();
  const usable = wanted.filter((e) => e !== 'otlp' || endpoint !== '');
  if (usable.length === 0) {
    return { exporter: 'none', reason: 'no OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) set' };
  }
  return { exporter: usable.map((e) => (e === 'otlp' ? `otlp (${otlpProtocol(env)})` : e)).join(',') };
}

function grpcLoadedAlready(): boolean {
  // jest's module registry has no require.cache; there the patch is applied by instrumentGrpc().
  const cache = typeof require !== 'undefined' ? require.cache : undefined;
  return !!cache && Object.keys(cache).some((k) => /[\\/]@grpc[\\/]grpc-js[\\/]build[\\/]src[\\/]index\.js$/.test(k));
}

function disabled(serviceName: string, reason: string): ActiveTelemetry {
  return {
    serviceName,
    enabled: false,
    exporter: 'none',
    reason,
    finishedSpans: () => [],
    flush: async () => undefined,
    instrumentGrpc: () => undefined,
    stop: async () => undefined,
  };
}

function withTimeout(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  return Promise.race([p.then(() => undefined), timeout]).finally(() => clearTimeout(timer));
}

/**
 * Starts the OpenTelemetry NodeSDK with the gRPC instrumentation. Call it before anything
 * imports `@grpc/grpc-js` (see README: a service's main.ts uses `bootstrap`). Traces only:
 * metrics and logs exporters are not started. Health-check RPCs are never recorded.
 *
 * Idempotent: a second call returns the running instance.
 */
export function startTelemetry(options: TelemetryOptions): Telemetry {
  if (current) return current;
  const env = options.env ?? process.env;
  const log = options.logger ?? createLogger('telemetry');
  const mode = options.mode ?? 'env';

  const decision =
    mode === 'off'
      ? { exporter: 'none', reason: 'mode off' }
      : mode === 'memory'
        ? truthy(env['OTEL_SDK_DISABLED'])
          ? { exporter: 'none', reason: 'OTEL_SDK_DISABLED=true' }
          : { exporter: 'memory' }
        : exporterFromEnv(env);
  if (decision.reason !== undefined) {
    current = disabled(options.serviceName, decision.reason);
    log.info('telemetry off', { service: options.serviceName, reason: decision.reason });
    return current;
  }

  if (grpcLoadedAlready()) {
    log.warn('@grpc/grpc-js was loaded before telemetry started; start telemetry first (see @glcert/telemetry README)');
  }

  const instrumentation = new GrpcInstrumentation();
  const memoryExporter = mode === 'memory' ? new InMemorySpanExporter() : undefined;
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    instrumentations: [instrumentation],
    sampler: new IgnoreSpansSampler(samplerFromEnv(env)),
    // traces only: an empty list keeps sdk-node from starting its default OTLP metrics/logs exporters
    metricReaders: [],
    logRecordProcessors: [],
    ...(memoryExporter ? { spanProcessors: [new SimpleSpanProcessor(memoryExporter)], autoDetectResources: false } : {}),
  });
  sdk.start();

  const patched = new WeakSet<object>();
  const flush = async (): Promise<void> => {
    const provider = trace.getTracerProvider() as { getDelegate?: () => unknown };
    const delegate = (provider.getDelegate?.() ?? provider) as { forceFlush?: () => Promise<void> };
    await delegate.forceFlush?.();
  };

  current = {
    serviceName: options.serviceName,
    enabled: true,
    exporter: decision.exporter,
    memoryExporter,
    finishedSpans: () => memoryExporter?.getFinishedSpans() ?? [],
    flush,
    instrumentGrpc(grpcModule: object): void {
      if (patched.has(grpcModule)) return;
      patched.add(grpcModule);
      for (const def of instrumentation.getModuleDefinitions()) {
        if (def.name !== GRPC_JS) continue;
        try {
          def.patch?.(grpcModule);
        } catch (err) {
          // tracing is never worth a crash; the likely cause is a read-only interop copy of the
          // module instead of its real exports object
          log.warn('could not apply the gRPC instrumentation; RPC spans will be missing', { err });
        }
      }
    },
    async stop(timeoutMs: number): Promise<void> {
      await withTimeout(
        flush().catch((err: unknown) => log.warn('telemetry flush failed', { err })),
        timeoutMs,
      );
      await withTimeout(
        sdk.shutdown().catch((err: unknown) => log.warn('telemetry shutdown failed', { err })),
        timeoutMs,
      );
      instrumentation.disable();
      // let a later startTelemetry() register fresh globals (tests start and stop it repeatedly)
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
  const wanted = requestedProtocol(env);
  if (mode === 'env' && decision.exporter.includes('otlp') && wanted !== undefined && !OTLP_PROTOCOLS.includes(wanted)) {
    log.warn('unsupported OTLP protocol; traces go out as http/protobuf', { protocol: wanted, supported: OTLP_PROTOCOLS.join(', ') });
  }
  log.info('telemetry on', { service: options.serviceName, exporter: decision.exporter });
  return current;
}

/** The running telemetry, if startTelemetry was called. */
export function getTelemetry(): Telemetry | undefined {
  return current;
}

/**
 * Applies the gRPC instrumentation to this `@grpc/grpc-js` exports object. A no-op when
 * telemetry is off or not started. Needed where the require hook cannot see the load
 * (jest's module registry); harmless where it already patched (plain node).
 */
export function instrumentGrpc(grpcModule: object): void {
  current?.instrumentGrpc(grpcModule);
}

/** Exports every span ended so far. */
export async function flushTelemetry(): Promise<void> {
  await current?.flush();
}

/** Flushes and stops the SDK (each step bounded by `timeoutMs`). Safe to call when not started. */
export async function shutdownTelemetry(timeoutMs = 5000): Promise<void> {
  const t = current;
  current = undefined;
  await t?.stop(timeoutMs);
}
