import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { googleRpc, packAny, RPC_TYPE_NAMES, unpackAny } from '@glcert/contracts';
import { createLogger, type Logger } from '@glcert/telemetry';

/**
 * Errors and their gRPC status: ONE mapping for every service (STYLE.md "Errors", AIP-193).
 *
 * Handlers throw typed domain errors; `toStatus` (and its two siblings `toServiceError`,
 * `toRpcStatus`) turns anything thrown into a status whose details carry a
 * `google.rpc.ErrorInfo` (reason, domain `glcert.dev`, metadata) and, for bad fields, a
 * `google.rpc.BadRequest`. On the wire the details travel as a serialized `google.rpc.Status`
 * in the `grpc-status-details-bin` trailer; `decodeStatus` reads them back.
 */

export const ERROR_DOMAIN = 'glcert.dev';
export const STATUS_DETAILS_KEY = 'grpc-status-details-bin';

export interface FieldViolation {
  /** Path of the field in the request, e.g. `threat_model.contrast.min`. */
  field: string;
  description: string;
  /** UPPER_SNAKE_CASE; default `INVALID_FIELD`. */
  reason?: string;
}

export interface ErrorOptions {
  /** ErrorInfo.reason, UPPER_SNAKE_CASE. Each error class has a default. */
  reason?: string;
  /** ErrorInfo.metadata. Never put secrets or payloads here: clients see it. */
  metadata?: Record<string, string>;
  cause?: unknown;
}

/** Base of the typed domain errors: a gRPC code plus the ErrorInfo fields. */
export class GlcertError extends Error {
  readonly code: grpc.status;
  readonly reason: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly fieldViolations: readonly FieldViolation[];

  constructor(code: grpc.status, message: string, options: ErrorOptions = {}, fieldViolations: FieldViolation[] = []) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.reason = options.reason ?? grpc.status[code];
    this.metadata = { ...options.metadata };
    this.fieldViolations = fieldViolations;
  }
}

/** INVALID_ARGUMENT naming the field: `new InvalidArgumentError('n', 'must be > 0')`. */
export class InvalidArgumentError extends GlcertError {
  constructor(field: string, description: string, options: ErrorOptions = {}) {
    super(grpc.status.INVALID_ARGUMENT, `${field}: ${description}`, { reason: 'INVALID_ARGUMENT', ...options }, [
      { field, description, reason: options.reason ?? 'INVALID_FIELD' },
    ]);
  }

  /** Several bad fields at once; the message names all of them. */
  static of(violations: FieldViolation[], options: ErrorOptions = {}): GlcertError {
    if (violations.length === 0) throw new RangeError('InvalidArgumentError.of needs at least one violation');
    const message = violations.map((v) => `${v.field}: ${v.description}`).join('; ');
    return new GlcertError(grpc.status.INVALID_ARGUMENT, message, { reason: 'INVALID_ARGUMENT', ...options }, violations);
  }
}

/** Collects a request's bad fields, to refuse them all at once as one INVALID_ARGUMENT. */
export class Violations {
  readonly list: FieldViolation[] = [];
  add(field: string, description: string): void {
    this.list.push({ field, description });
  }
  get any(): boolean {
    return this.list.length > 0;
  }
  throwIfAny(): void {
    if (this.list.length > 0) throw InvalidArgumentError.of(this.list);
  }
}

/** NOT_FOUND, e.g. an unknown model. */
export class NotFoundError extends GlcertError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(grpc.status.NOT_FOUND, message, options);
  }
}

/** RESOURCE_EXHAUSTED: queue full, payload too big. */
export class ResourceExhaustedError extends GlcertError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(grpc.status.RESOURCE_EXHAUSTED, message, options);
  }
}

/** FAILED_PRECONDITION: the system is not in a state the request needs. */
export class FailedPreconditionError extends GlcertError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(grpc.status.FAILED_PRECONDITION, message, options);
  }
}

/** UNAVAILABLE: not ready, dependency down; clients may retry idempotent calls. */
export class UnavailableError extends GlcertError {
  constructor(message: string, options: ErrorOptions = {}) {
    super(grpc.status.UNAVAILABLE, message, options);
  }
}

/** DEADLINE_EXCEEDED: the work could not finish in the caller's time. */
export class DeadlineExceededError extends GlcertError {
  constructor(message = 'deadline exceeded', options: ErrorOptions = {}) {
    super(grpc.status.DEADLINE_EXCEEDED, message, options);
  }
}

/** CANCELLED: the caller went away; thrown at the next batch boundary. */
export class CancelledError extends GlcertError {
  constructor(message = 'call cancelled', options: ErrorOptions = {}) {
    super(grpc.status.CANCELLED, message, options);
  }
}

/** Codes of a failed downstream call that are passed on as they are; any other becomes INTERNAL. */
const PASS_THROUGH = new Set<grpc.status>([
  grpc.status.CANCELLED,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.UNAVAILABLE,
  grpc.status.RESOURCE_EXHAUSTED,
]);

export interface StatusContext {
  /** Where INTERNAL causes are logged. Default: a `runtime` logger. */
  log?: Logger;
  /** The RPC, for the log line (`/pkg.Service/Method`). */
  method?: string;
}

/** The protocol-independent form every mapping goes through. */
export interface MappedError {
  code: grpc.status;
  message: string;
  errorInfo: googleRpc.ErrorInfo;
  fieldViolations: FieldViolation[];
}

let defaultLog: Logger | undefined;
function fallbackLog(): Logger {
  return (defaultLog ??= createLogger('runtime'));
}

/** The code of a failed gRPC client call (a grpc-js ServiceError), else undefined. Our own GlcertErrors are not calls. */
export function grpcCode(err: unknown): grpc.status | undefined {
  // a GlcertError has `metadata` too (its ErrorInfo record), not grpc.Metadata
  if (!(err instanceof Error) || !((err as { metadata?: unknown }).metadata instanceof grpc.Metadata)) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' && Number.isInteger(code) && code > 0 && code <= 16 ? (code as grpc.status) : undefined;
}

/** Whether `err` is a failed gRPC call (with `code`, when given). */
export function isGrpcError(err: unknown, code?: grpc.status): err is grpc.ServiceError {
  const c = grpcCode(err);
  return c !== undefined && (code === undefined || c === code);
}

/**
 * What one status may carry, so that no status can overflow an HTTP/2 header block (the
 * message travels twice, in `grpc-message` percent-encoded and in `grpc-status-details-bin`
 * base64-encoded): at worst about 7 kB of trailers. Longer strings are cut with a marker;
 * field violations and metadata entries past the details budget are dropped (the message says
 * how many).
 */
export const STATUS_LIMITS = {
  messageBytes: 768,
  reasonBytes: 64,
  metadataEntries: 16,
  metadataKeyBytes: 64,
  metadataValueBytes: 200,
  fieldBytes: 128,
  descriptionBytes: 300,
  /** Serialized ErrorInfo + BadRequest together. */
  detailsBytes: 2560,
} as const;

/** UTF-8 length of `s`, without encoding it (a 1 MB string costs no copy). */
export function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes (at a character boundary), with a
 * `...[N bytes, cut]` marker when cut; the marker counts toward `maxBytes`.
 */
export function clip(text: string, maxBytes: number): string {
  const total = utf8Length(text);
  if (total <= maxBytes) return text;
  const marker = `...[${total} bytes, cut]`;
  const room = Math.max(0, maxBytes - marker.length);
  // `room` bytes hold at most `room` UTF-16 units; shorten until they fit
  let end = Math.min(text.length, room);
  while (end > 0 && utf8Length(text.slice(0, end)) > room) end--;
  if (end > 0 && /[\uD800-\uDBFF]/.test(text[end - 1]!)) end--; // never split a surrogate pair
  return text.slice(0, end) + marker;
}

const ADDRESS = '<internal address>';
/**
 * grpc-js diagnostics and internal addresses, never shown to a client: the deadline breakdown
 * (`Deadline exceeded after 0.7s,LB pick: 0.000s,remote_addr=127.0.0.1:50052`), peer
 * addresses, resolver targets, `host:port` of internal services.
 */
const SCRUBS: ReadonlyArray<[RegExp, string]> = [
  [/(Deadline exceeded after [0-9.]+m?s)(?:,[^;\n]*)?/g, '$1'],
  [/,?\s*(?:remote_addr|local_addr|peer)=[^\s,;)]*/g, ''],
  [/,?\s*(?:LB pick: [0-9.]+m?s|Waiting for LB pick|wait_for_ready)/g, ''],
  [/\b(?:ipv4|ipv6|dns|unix|unix-abstract|vsock):[^\s,;)'"]*/g, ADDRESS],
  [/\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\](?::\d{1,5})?/g, ADDRESS],
  [/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g, ADDRESS],
  [/\b(?:localhost|[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z0-9-]+)*):\d{2,5}\b(?!\.\d)/g, ADDRESS],
];

/** `text` without grpc-js diagnostics or internal addresses (see SCRUBS). */
export function scrubInternal(text: string): string {
  let out = text;
  for (const [re, by] of SCRUBS) out = out.replace(re, by);
  return out;
}

/** A string of a status: scrubbed, then cut to `maxBytes` (cut first when huge, so scrubbing stays cheap). */
function safe(text: string, maxBytes: number): string {
  return clip(scrubInternal(clip(text, 4 * maxBytes)), maxBytes);
}

/** `m` within STATUS_LIMITS: every string scrubbed and cut, entries past the details budget dropped. */
function bounded(m: MappedError): MappedError {
  const L = STATUS_LIMITS;
  const metadata: Record<string, string> = {};
  let budget = L.detailsBytes - 2 * L.reasonBytes - ERROR_DOMAIN.length - 16;
  let dropped = 0;
  for (const [k, v] of Object.entries(m.errorInfo.metadata)) {
    const key = clip(k, L.metadataKeyBytes);
    const value = safe(v, L.metadataValueBytes);
    const cost = utf8Length(key) + utf8Length(value) + 8;
    if (Object.keys(metadata).length >= L.metadataEntries || cost > budget) {
      dropped++;
      continue;
    }
    metadata[key] = value;
    budget -= cost;
  }
  const fieldViolations: FieldViolation[] = [];
  for (const v of m.fieldViolations) {
    const f: FieldViolation = {
      field: clip(v.field, L.fieldBytes),
      description: safe(v.description, L.descriptionBytes),
      reason: clip(v.reason ?? 'INVALID_FIELD', L.reasonBytes),
    };
    const cost = utf8Length(f.field) + utf8Length(f.description) + utf8Length(f.reason!) + 12;
    if (cost > budget) {
      dropped++;
      continue;
    }
    fieldViolations.push(f);
    budget -= cost;
  }
  const suffix = dropped > 0 ? ` (${dropped} more detail(s) left out)` : '';
  return {
    code: m.code,
    message: safe(m.message, L.messageBytes - suffix.length) + suffix,
    errorInfo: { reason: clip(m.errorInfo.reason, L.reasonBytes), domain: m.errorInfo.domain, metadata },
    fieldViolations,
  };
}

/**
 * Maps anything thrown to a code, a client-safe message and the ErrorInfo/BadRequest details:
 * every string scrubbed of internal addresses and cut to STATUS_LIMITS.
 */
export function mapError(err: unknown, ctx: StatusContext = {}): MappedError {
  return bounded(mapUnbounded(err, ctx));
}

function mapUnbounded(err: unknown, ctx: StatusContext): MappedError {
  if (err instanceof GlcertError) {
    if (ctx.log?.isEnabled('debug')) ctx.log.debug('rpc failed', { method: ctx.method, code: grpc.status[err.code], err });
    return {
      code: err.code,
      message: err.message,
      errorInfo: { reason: err.reason, domain: ERROR_DOMAIN, metadata: { ...err.metadata } },
      fieldViolations: [...err.fieldViolations],
    };
  }
  if (err instanceof Error && err.name === 'AbortError') {
    return mapUnbounded(new CancelledError('call cancelled'), ctx);
  }
  if (isGrpcError(err) && PASS_THROUGH.has(err.code)) {
    // a dependency failed in a way the caller can act on (retry, back off, give up); its
    // message is scrubbed of grpc-js diagnostics and internal addresses by `bounded`
    const message = err.details || err.message || grpc.status[err.code];
    return mapUnbounded(new GlcertError(err.code, message, { reason: `UPSTREAM_${grpc.status[err.code]}` }), ctx);
  }
  const errorId = randomUUID();
  (ctx.log ?? fallbackLog()).error('internal error', { method: ctx.method, error_id: errorId, err });
  return {
    code: grpc.status.INTERNAL,
    message: `internal error (error_id ${errorId})`,
    errorInfo: { reason: 'INTERNAL', domain: ERROR_DOMAIN, metadata: { error_id: errorId } },
    fieldViolations: [],
  };
}

function rpcStatusOf(m: MappedError): googleRpc.Status {
  const details = [packAny(RPC_TYPE_NAMES.errorInfo, googleRpc.ErrorInfo, m.errorInfo)];
  if (m.fieldViolations.length > 0) {
    details.push(
      packAny(RPC_TYPE_NAMES.badRequest, googleRpc.BadRequest, {
        fieldViolations: m.fieldViolations.map((v) => ({
          field: v.field,
          description: v.description,
          reason: v.reason ?? 'INVALID_FIELD',
        })),
      }),
    );
  }
  return { code: m.code, message: m.message, details };
}

/** A `google.rpc.Status` for `err`: the in-band status of one streamed item (STYLE.md "Streaming"). */
export function toRpcStatus(err: unknown, ctx: StatusContext = {}): googleRpc.Status {
  return rpcStatusOf(mapError(err, ctx));
}

/** The OK `google.rpc.Status` of a streamed item that succeeded. */
export function okRpcStatus(): googleRpc.Status {
  return { code: grpc.status.OK, message: '', details: [] };
}

/** A grpc-js status (code, details, trailers with `grpc-status-details-bin`) for `err`. */
export function toStatus(err: unknown, ctx: StatusContext = {}): grpc.StatusObject {
  const mapped = mapError(err, ctx);
  const metadata = new grpc.Metadata();
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(googleRpc.Status.encode(rpcStatusOf(mapped)).finish()));
  return { code: mapped.code, details: mapped.message, metadata };
}

/** `toStatus` as the Error grpc-js handlers pass to `callback(err)` or `call.emit('error', err)`. */
export function toServiceError(err: unknown, ctx: StatusContext = {}): grpc.ServerErrorResponse & grpc.StatusObject {
  const status = toStatus(err, ctx);
  return Object.assign(new Error(status.details), status);
}

export interface DecodedStatus {
  code: number;
  message: string;
  errorInfo?: googleRpc.ErrorInfo;
  badRequest?: googleRpc.BadRequest;
  /** All details, including types not decoded above. */
  details: googleRpc.Status['details'];
}

/** Reads ErrorInfo and BadRequest out of a `google.rpc.Status` (e.g. an in-band stream item status). */
export function decodeRpcStatus(status: googleRpc.Status): DecodedStatus {
  let errorInfo: googleRpc.ErrorInfo | undefined;
  let badRequest: googleRpc.BadRequest | undefined;
  for (const any of status.details) {
    errorInfo ??= unpackAny(any, RPC_TYPE_NAMES.errorInfo, googleRpc.ErrorInfo);
    badRequest ??= unpackAny(any, RPC_TYPE_NAMES.badRequest, googleRpc.BadRequest);
  }
  return { code: status.code, message: status.message, errorInfo, badRequest, details: status.details };
}

/**
 * Client side: the rich status of a failed call (a grpc-js ServiceError, or its Metadata).
 * Undefined when the trailer is absent (errors raised by grpc-js itself carry none).
 */
export function decodeStatus(errOrMetadata: { metadata?: grpc.Metadata } | grpc.Metadata | undefined): DecodedStatus | undefined {
  const metadata = errOrMetadata instanceof grpc.Metadata ? errOrMetadata : errOrMetadata?.metadata;
  const raw = metadata?.get(STATUS_DETAILS_KEY)[0];
  if (raw === undefined) return undefined;
  const bytes = typeof raw === 'string' ? Buffer.from(raw, 'base64') : raw;
  return decodeRpcStatus(googleRpc.Status.decode(bytes));
}
