// @glcert/runtime: what every service uses to be a gRPC server and client. Import it only
// after telemetry started (a service's main.ts calls `bootstrap` from @glcert/telemetry, which
// then loads the module that imports this one). See README.md.
export {
  env,
  readConfig,
  loadConfig,
  describeConfig,
  serverConfigSchema,
  envPrefix,
  parseAddr,
  ConfigError,
  EXIT_CONFIG,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_SHUTDOWN_GRACE_MS,
} from './config';
export type { Field, Schema, ConfigOf, ConfigProblem, LoadConfigOptions, ServerConfig, ServerConfigDefaults } from './config';

export {
  ERROR_DOMAIN,
  STATUS_DETAILS_KEY,
  GlcertError,
  InvalidArgumentError,
  Violations,
  NotFoundError,
  ResourceExhaustedError,
  FailedPreconditionError,
  UnavailableError,
  DeadlineExceededError,
  CancelledError,
  mapError,
  toStatus,
  toServiceError,
  toRpcStatus,
  okRpcStatus,
  decodeStatus,
  decodeRpcStatus,
  STATUS_LIMITS,
  clip,
  utf8Length,
  scrubInternal,
  grpcCode,
  isGrpcError,
} from './errors';
export type { FieldViolation, ErrorOptions, StatusContext, MappedError, DecodedStatus } from './errors';

export { REASONS, modelMismatchError, modelMismatchOf, modelNotFoundError, isModelNotFound, fromServiceError } from './reasons';
export type { ModelMismatch } from './reasons';

export {
  MAX_NAME_BYTES,
  MAX_ID_BYTES,
  MAX_THREAT_MODEL_ENTRIES,
  PREVIEW_CHARS,
  preview,
  identifierViolation,
  textViolation,
  threatModelIdentifierViolations,
  rejectViolations,
} from './limits';
export type { IdentifierKind, IdentifierOptions } from './limits';

export { unaryHandler, clientStreamHandler, serverStreamHandler, bidiHandler, send } from './handlers';
export type { CallContext, HandlerOptions } from './handlers';

export { DEADLINE_MARGIN_MS, downstreamDeadline, unaryCall, sleep, shared, anySignal } from './call';
export type { UnaryMethod, UnaryCallOptions } from './call';
export { SharedWork } from './shared-work';

export { deadlineToMs, callDeadline, remainingMs, deadlineIn, propagate, cancellationInterceptor, PARENT_CALL } from './deadline';
export type { PropagateOptions, PropagatedCallOptions, ServerCall } from './deadline';

export type { ServiceOptions, ServiceHandle } from './service';
export { createServer, bindServer, hostPort, shutdownServer, startService, serviceNameOf } from './server';
export type {
  ServerLimits,
  CreateServerOptions,
  ShutdownServerOptions,
  ServiceRegistration,
  SignalTarget,
  StartServiceOptions,
  RunningService,
} from './server';

export {
  createClient,
  clientTarget,
  clientChannelOptions,
  serviceConfigJson,
  defaultDeadlineInterceptor,
  createHealthClient,
  checkHealth,
  waitForServing,
  DEFAULT_DEADLINE_MS,
} from './client';
export type { ClientOptions, ClientConstructor, HealthClient, HealthStatus } from './client';

export { followHealth, watchHealth, createWatchHealthClient, WATCH_KEEPALIVE_MS, WATCH_KEEPALIVE_TIMEOUT_MS } from './follow-health';
export type { Dependency, DependencyStatus, FollowHealthOptions, Readiness } from './follow-health';

export { sizeServices, usableCpus, sizingOverridesFromEnv, readCgroupCpuQuota, detectCpuBudget, describeBudget, MAX_DEFAULT_WORKERS } from './sizing';
export type { CpuBudget, Sizing, SizingOverrides, ReadText } from './sizing';

export { tlsFromEnv, tlsConfigSchema, serverCredentials, channelCredentials, tlsChannelOptions } from './tls';
export { addReflection, reflectionFromEnv, REFLECTION_ENV } from './reflection';
export type { TlsFiles } from './tls';

// the structured logger lives in @glcert/telemetry (no gRPC there); re-exported for services
export { createLogger } from '@glcert/telemetry';
export type { Logger, LogLevel, LogFields } from '@glcert/telemetry';

export { optOutOfOnnxRuntimeTelemetry, ORT_TELEMETRY_ENV } from './onnxruntime-env';
