import * as grpc from '@grpc/grpc-js';
import { decodeStatus, FailedPreconditionError, GlcertError, grpcCode, NotFoundError, type FieldViolation } from './errors';

/**
 * The vocabulary of errors that cross a hop: which failure of a downstream call is which, and
 * how to pass it on. A reason that one service raises and another reads has its constant, its
 * builder and its reader here, and nowhere else.
 */

/** ErrorInfo reasons read by another service than the one that raises them. */
export const REASONS = {
  /** FAILED_PRECONDITION: the model that answered is not the file the caller expects. */
  MODEL_MISMATCH: 'MODEL_MISMATCH',
  /** NOT_FOUND: no model of that name is served. */
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
} as const;

/** ErrorInfo of `err`: a GlcertError's own, or the one a failed call carried. */
function errorInfoOf(err: unknown): { code: grpc.status; reason: string; metadata: Readonly<Record<string, string>> } | undefined {
  if (err instanceof GlcertError) return { code: err.code, reason: err.reason, metadata: err.metadata };
  const code = grpcCode(err);
  if (code === undefined) return undefined;
  const info = decodeStatus(err as grpc.ServiceError)?.errorInfo;
  return { code, reason: info?.reason ?? '', metadata: info?.metadata ?? {} };
}

export interface ModelMismatch {
  /** The model name, when the side that noticed knows it. */
  model?: string;
  /** The sha256 the caller expected. */
  expected: string;
  /** The sha256 that answered ('' when it did not say). */
  served: string;
}

/** FAILED_PRECONDITION, reason MODEL_MISMATCH, with the two sha256s (and the model) as metadata. */
export function modelMismatchError(message: string, m: ModelMismatch, cause?: unknown): FailedPreconditionError {
  const metadata: Record<string, string> = m.model === undefined ? {} : { model: m.model };
  metadata['expected_model_sha256'] = m.expected;
  metadata['model_sha256'] = m.served;
  return new FailedPreconditionError(message, { reason: REASONS.MODEL_MISMATCH, metadata, cause });
}

/** The sha256s of a MODEL_MISMATCH failure (ours, or a downstream one's), else undefined. */
export function modelMismatchOf(err: unknown): ModelMismatch | undefined {
  const info = errorInfoOf(err);
  if (!info || info.code !== grpc.status.FAILED_PRECONDITION || info.reason !== REASONS.MODEL_MISMATCH) return undefined;
  const m: ModelMismatch = { expected: info.metadata['expected_model_sha256'] ?? '', served: info.metadata['model_sha256'] ?? '' };
  if (info.metadata['model'] !== undefined) m.model = info.metadata['model'];
  return m;
}

/** NOT_FOUND, reason MODEL_NOT_FOUND (metadata `model` when given). */
export function modelNotFoundError(message: string, model?: string): NotFoundError {
  return new NotFoundError(message, { reason: REASONS.MODEL_NOT_FOUND, ...(model === undefined ? {} : { metadata: { model } }) });
}

/**
 * Whether `err` says the model is not served: our MODEL_NOT_FOUND, or any NOT_FOUND of a
 * downstream model lookup (GetModel / GetModelMetadata know no other NOT_FOUND).
 */
export function isModelNotFound(err: unknown): boolean {
  if (err instanceof GlcertError) return err.code === grpc.status.NOT_FOUND && err.reason === REASONS.MODEL_NOT_FOUND;
  return grpcCode(err) === grpc.status.NOT_FOUND;
}

/**
 * A failed downstream call passed on to our caller as it came: its code, message (after
 * `what: `), ErrorInfo and field violations, as a GlcertError that the error mapper sends on.
 * Only for the codes in `codes` (default: any); anything else is returned unchanged.
 */
export function fromServiceError(err: unknown, what: string, codes?: ReadonlySet<grpc.status>): unknown {
  const code = grpcCode(err);
  if (code === undefined || (codes !== undefined && !codes.has(code))) return err;
  const e = err as grpc.ServiceError;
  const decoded = decodeStatus(e);
  const violations: FieldViolation[] = (decoded?.badRequest?.fieldViolations ?? []).map((f) => ({
    field: f.field,
    description: f.description,
    reason: f.reason || undefined,
  }));
  const message = `${what}: ${e.details || e.message}`;
  return new GlcertError(code, message, { reason: decoded?.errorInfo?.reason || grpc.status[code], metadata: decoded?.errorInfo?.metadata, cause: err }, violations);
}
