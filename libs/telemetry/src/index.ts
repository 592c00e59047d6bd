// @glcert/telemetry: OpenTelemetry set-up and logging. This lib never imports @grpc/grpc-js,
// so a service can start telemetry before grpc-js loads (see README.md).
export {
  startTelemetry,
  shutdownTelemetry,
  flushTelemetry,
  getTelemetry,
  instrumentGrpc,
  exporterFromEnv,
  otlpProtocol,
  OTLP_PROTOCOLS,
} from './telemetry';
export type { Telemetry, TelemetryMode, TelemetryOptions } from './telemetry';
export { bootstrap } from './bootstrap';
export type { BootstrapOptions } from './bootstrap';
export { createLogger, parseLogLevel, isSecretKey, REDACTED } from './logger';
export type { Logger, LogLevel, LogFields, LoggerOptions } from './logger';
export { IgnoreSpansSampler, samplerFromEnv, UNTRACED_SPAN_PREFIXES } from './sampler';
export { withSpan, markSpanError } from './spans';
export type { SpanOptions } from './spans';
export type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
