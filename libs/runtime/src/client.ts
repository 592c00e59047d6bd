import * as grpc from '@grpc/grpc-js';
import { service as healthServiceDefinition } from 'grpc-health-check';
import { getTelemetry, instrumentGrpc } from '@glcert/telemetry';
import { DEFAULT_MAX_MESSAGE_BYTES } from './config';
import { sleep, unaryCall, type UnaryMethod } from './call';
import { cancellationInterceptor, deadlineIn } from './deadline';
import { grpcExports } from './grpc-module';
import { channelCredentials, tlsChannelOptions, tlsFromEnv } from './tls';

/**
 * Client channels: explicit message limits, keepalive, a default deadline on every call that
 * sets none, and round-robin over several replicas (`ipv4:a:p,b:p` static list) or over every
 * address a DNS name resolves to (`dns:///sampler-headless:50052`, a headless Service).
 * Calls made with `propagate(serverCall)` options are cancelled with their caller.
 */

export const DEFAULT_DEADLINE_MS = 30_000;

export interface ClientOptions {
  /** grpc.max_receive_message_length. Default 16 MiB. */
  maxReceiveMessageBytes?: number;
  /** grpc.max_send_message_length. Default 16 MiB. */
  maxSendMessageBytes?: number;
  /** Deadline of a call that sets none (`deadline: Infinity` opts out, e.g. for a Watch). Default 30 s. */
  defaultDeadlineMs?: number;
  /** HTTP/2 keepalive ping interval while calls are active. Default 30 s. */
  keepaliveTimeMs?: number;
  /** Default 10 s. */
  keepaliveTimeoutMs?: number;
  /** Default round_robin. */
  loadBalancing?: 'round_robin' | 'pick_first';
  /**
   * Idempotent methods retried on UNAVAILABLE only (AIP-194), e.g.
   * `[{ service: 'glcert.certify.v1.CertificationService', method: 'Certify' }]`.
   */
  retryUnavailable?: Array<{ service: string; method?: string }>;
  /** Attempts in all for those methods. Default 3. */
  maxAttempts?: number;
  /** Default: mutual TLS when GLCERT_TLS_* are set (see tls.ts), else insecure (plaintext inside the cluster). */
  credentials?: grpc.ChannelCredentials;
  channelOptions?: grpc.ChannelOptions;
  interceptors?: grpc.Interceptor[];
}

export type ClientConstructor<C extends grpc.Client> = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: Partial<grpc.ClientOptions>,
) => C;

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}:\d+$/;
const IPV6 = /^\[[0-9A-Fa-f:.]+\]:\d+$/;

/**
 * The grpc-js target for one or several addresses: one address passes through (`host:port`
 * resolves by DNS, `dns:///name:port` too); several must be IP literals and become an
 * `ipv4:`/`ipv6:` static list.
 */
export function clientTarget(addrs: string | readonly string[]): string {
  const list = (typeof addrs === 'string' ? addrs.split(',') : addrs).map((a) => a.trim()).filter((a) => a !== '');
  if (list.length === 0) throw new Error('createClient: no address given');
  if (list.length === 1) return list[0]!;
  if (list.every((a) => IPV4.test(a))) return `ipv4:${list.join(',')}`;
  if (list.every((a) => IPV6.test(a))) return `ipv6:${list.join(',')}`;
  throw new Error(
    `createClient: several addresses must all be IPv4 or all IPv6 literals (got ${list.join(',')}); ` +
      'for replicas behind one name use a single dns:///name:port address',
  );
}

/** The JSON of grpc.service_config: load balancing policy plus the retry policy of idempotent methods. */
export function serviceConfigJson(options: ClientOptions = {}): string {
  const config: grpc.ServiceConfig = {
    loadBalancingConfig: [{ [options.loadBalancing ?? 'round_robin']: {} }],
    methodConfig: [],
  };
  if (options.retryUnavailable?.length) {
    config.methodConfig.push({
      name: options.retryUnavailable.map((m) => (m.method ? { service: m.service, method: m.method } : { service: m.service })),
      retryPolicy: {
        maxAttempts: options.maxAttempts ?? 3,
        initialBackoff: '0.1s',
        maxBackoff: '1s',
        backoffMultiplier: 2,
        retryableStatusCodes: [grpc.status.UNAVAILABLE],
      },
    });
  }
  return JSON.stringify(config);
}

/** A client interceptor giving calls without a deadline one `ms` from now. */
export function defaultDeadlineInterceptor(ms: number): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options.deadline === undefined ? { ...options, deadline: deadlineIn(ms) } : options));
}

/** The channel options createClient uses. */
export function clientChannelOptions(options: ClientOptions = {}): grpc.ChannelOptions {
  return {
    'grpc.max_receive_message_length': options.maxReceiveMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': options.maxSendMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': options.keepaliveTimeMs ?? 30_000,
    'grpc.keepalive_timeout_ms': options.keepaliveTimeoutMs ?? 10_000,
    'grpc.service_config': serviceConfigJson(options),
    // the policy is ours; do not look up service config in DNS TXT records
    'grpc.service_config_disable_resolution': 1,
    ...options.channelOptions,
  };
}

const tracedCtors = new WeakMap<object, unknown>();

/**
 * The client class to instantiate. instrumentation-grpc traces client calls by wrapping the
 * methods `makeGenericClientConstructor` puts on a class, so a class made before the patch was
 * applied (generated contracts loaded before telemetry started, or any class under jest, whose
 * module registry the require hook never sees) would make calls without client spans and
 * without trace context. When telemetry is on, such a class is rebuilt once from its
 * `service` definition with the patched constructor.
 */
function tracedConstructor<C extends grpc.Client>(Ctor: ClientConstructor<C>): ClientConstructor<C> {
  if (!getTelemetry()?.enabled) return Ctor;
  const statics = Ctor as unknown as { service?: grpc.ServiceDefinition; serviceName?: string };
  if (!statics.service) return Ctor;
  const first = Object.keys(statics.service)[0];
  const method = first === undefined ? undefined : (Ctor.prototype as Record<string, unknown>)[first];
  if (typeof method !== 'function' || (method as { __wrapped?: boolean }).__wrapped) return Ctor;
  let traced = tracedCtors.get(Ctor) as ClientConstructor<C> | undefined;
  if (!traced) {
    traced = grpc.makeGenericClientConstructor(statics.service, statics.serviceName ?? '') as unknown as ClientConstructor<C>;
    tracedCtors.set(Ctor, traced);
  }
  return traced;
}

/**
 * `createClient(SamplingServiceClient, config.samplers, { defaultDeadlineMs: 60_000 })`.
 * Close it with `client.close()` (e.g. in the service's onShutdown).
 */
export function createClient<C extends grpc.Client>(
  Ctor: ClientConstructor<C>,
  addrs: string | readonly string[],
  options: ClientOptions = {},
): C {
  instrumentGrpc(grpcExports);
  let credentials = options.credentials;
  let tlsOptions: grpc.ChannelOptions = {};
  if (!credentials) {
    // mutual TLS when GLCERT_TLS_* name the files (tls.ts); plaintext otherwise
    const tls = tlsFromEnv();
    credentials = channelCredentials(tls);
    tlsOptions = tlsChannelOptions(tls);
  }
  const Traced = tracedConstructor(Ctor);
  return new Traced(clientTarget(addrs), credentials, {
    ...clientChannelOptions(options),
    ...tlsOptions,
    ...options.channelOptions,
    interceptors: [
      defaultDeadlineInterceptor(options.defaultDeadlineMs ?? DEFAULT_DEADLINE_MS),
      cancellationInterceptor(),
      ...(options.interceptors ?? []),
    ],
  });
}

export type HealthStatus = 'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

export interface HealthClient extends grpc.Client {
  check(
    request: { service: string },
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, response?: { status: HealthStatus }) => void,
  ): grpc.ClientUnaryCall;
  watch(request: { service: string }, options?: grpc.CallOptions): grpc.ClientReadableStream<{ status: HealthStatus }>;
}

let HealthClientCtor: ClientConstructor<HealthClient> | undefined;

/** A `grpc.health.v1.Health` client (Check and Watch), for readiness waits and tests. */
export function createHealthClient(addrs: string | readonly string[], options: ClientOptions = {}): HealthClient {
  instrumentGrpc(grpcExports);
  HealthClientCtor ??= grpc.makeGenericClientConstructor(
    healthServiceDefinition as unknown as grpc.ServiceDefinition,
    'grpc.health.v1.Health',
  ) as unknown as ClientConstructor<HealthClient>;
  return createClient(HealthClientCtor, addrs, options);
}

/** One Health/Check; rejects with the ServiceError (NOT_FOUND for an unknown key). */
export function checkHealth(client: HealthClient, service = '', timeoutMs = 5_000): Promise<HealthStatus> {
  const check: UnaryMethod<{ service: string }, { status: HealthStatus }> = (req, _metadata, options, cb) => client.check(req, options as grpc.CallOptions, cb);
  return unaryCall(check, { service }, { deadline: deadlineIn(timeoutMs) }).then((res) => res.status);
}

/** Polls Health/Check until `service` is SERVING; rejects after `timeoutMs`. */
export async function waitForServing(client: HealthClient, service = '', timeoutMs = 30_000, intervalMs = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      if ((await checkHealth(client, service, Math.max(1, Math.min(1_000, end - Date.now())))) === 'SERVING') return;
      last = 'NOT_SERVING';
    } catch (err) {
      last = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`${service || 'server'} not SERVING after ${timeoutMs} ms (last: ${last instanceof Error ? last.message : String(last)})`);
}
