import * as grpc from '@grpc/grpc-js';
import { decodeStatus, GlcertError, InvalidArgumentError, NotFoundError, toServiceError, UnavailableError, grpcCode, isGrpcError } from './errors';
import { fromServiceError, isModelNotFound, modelMismatchError, modelMismatchOf, modelNotFoundError, REASONS } from './reasons';

/** What a client sees of `err` thrown by a handler: the ServiceError grpc-js builds from its status. */
function overTheWire(err: unknown): grpc.ServiceError {
  const status = toServiceError(err);
  return Object.assign(new Error(`${status.code} ${grpc.status[status.code]}: ${status.details}`), {
    code: status.code,
    details: status.details,
    metadata: status.metadata,
  });
}

describe('grpcCode / isGrpcError', () => {
  it('reads the code of a failed call only', () => {
    const wire = overTheWire(new UnavailableError('down'));
    expect(grpcCode(wire)).toBe(grpc.status.UNAVAILABLE);
    expect(isGrpcError(wire)).toBe(true);
    expect(isGrpcError(wire, grpc.status.UNAVAILABLE)).toBe(true);
    expect(isGrpcError(wire, grpc.status.NOT_FOUND)).toBe(false);
    // our own typed errors, plain errors and non-errors are not calls
    expect(grpcCode(new UnavailableError('down'))).toBeUndefined();
    expect(grpcCode(new Error('x'))).toBeUndefined();
    expect(grpcCode({ code: 14, metadata: new grpc.Metadata() })).toBeUndefined();
    expect(grpcCode(Object.assign(new Error('ok?'), { code: 0, metadata: new grpc.Metadata() }))).toBeUndefined();
    expect(grpcCode(Object.assign(new Error('odd'), { code: 99, metadata: new grpc.Metadata() }))).toBeUndefined();
  });
});

describe('MODEL_MISMATCH', () => {
  it('is built once and read back on both sides of a hop', () => {
    const err = modelMismatchError('served another model', { model: 'mnist', expected: 'a'.repeat(64), served: 'b'.repeat(64) });
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.reason).toBe(REASONS.MODEL_MISMATCH);
    expect(err.metadata).toEqual({ model: 'mnist', expected_model_sha256: 'a'.repeat(64), model_sha256: 'b'.repeat(64) });
    const want = { model: 'mnist', expected: 'a'.repeat(64), served: 'b'.repeat(64) };
    expect(modelMismatchOf(err)).toEqual(want);
    expect(modelMismatchOf(overTheWire(err))).toEqual(want);
  });

  it('carries no model when the side that noticed does not name it, and an empty served sha256', () => {
    const err = modelMismatchError('m', { expected: 'abc', served: '' }, new Error('cause'));
    expect(err.metadata).toEqual({ expected_model_sha256: 'abc', model_sha256: '' });
    expect(err.cause).toBeInstanceOf(Error);
    expect(modelMismatchOf(overTheWire(err))).toEqual({ expected: 'abc', served: '' });
  });

  it('is not read out of other failures', () => {
    expect(modelMismatchOf(overTheWire(new GlcertError(grpc.status.FAILED_PRECONDITION, 'x', { reason: 'OTHER' })))).toBeUndefined();
    // the reason alone under another code is not a mismatch
    expect(modelMismatchOf(overTheWire(new GlcertError(grpc.status.INTERNAL, 'x', { reason: REASONS.MODEL_MISMATCH })))).toBeUndefined();
    // a FAILED_PRECONDITION without details (raised by grpc-js itself)
    expect(modelMismatchOf(Object.assign(new Error('x'), { code: grpc.status.FAILED_PRECONDITION, metadata: new grpc.Metadata() }))).toBeUndefined();
    expect(modelMismatchOf(new Error('x'))).toBeUndefined();
  });
});

describe('MODEL_NOT_FOUND', () => {
  it('is built once, with the model as metadata when given', () => {
    const err = modelNotFoundError("model 'x' is not served", 'x');
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    expect(err.reason).toBe(REASONS.MODEL_NOT_FOUND);
    expect(err.metadata).toEqual({ model: 'x' });
    expect(modelNotFoundError('no model').metadata).toEqual({});
    expect(decodeStatus(overTheWire(err))?.errorInfo).toMatchObject({ reason: 'MODEL_NOT_FOUND', metadata: { model: 'x' } });
  });

  it('is read from our error and from any NOT_FOUND of a downstream model lookup', () => {
    expect(isModelNotFound(modelNotFoundError('m', 'x'))).toBe(true);
    expect(isModelNotFound(overTheWire(modelNotFoundError('m', 'x')))).toBe(true);
    expect(isModelNotFound(overTheWire(new NotFoundError('no such model')))).toBe(true);
    // a typed NOT_FOUND of our own is about something else unless it says MODEL_NOT_FOUND
    expect(isModelNotFound(new NotFoundError('no such preset'))).toBe(false);
    expect(isModelNotFound(overTheWire(new UnavailableError('down')))).toBe(false);
    expect(isModelNotFound(new Error('x'))).toBe(false);
  });
});

describe('fromServiceError', () => {
  const refusal = InvalidArgumentError.of(
    [
      { field: 'bound_settings.ns', description: 'too many', reason: 'COST' },
      { field: 'bound_settings.grid_points', description: 'too fine' },
    ],
    { reason: 'SOLVE_TOO_COSTLY', metadata: { cost: '9e9' } },
  );

  it('passes a downstream status on with its code, message, ErrorInfo and field violations', () => {
    const passed = fromServiceError(overTheWire(refusal), 'bound service');
    expect(passed).toBeInstanceOf(GlcertError);
    const e = passed as GlcertError;
    expect(e.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(e.message).toBe(`bound service: ${refusal.message}`);
    expect(e.reason).toBe('SOLVE_TOO_COSTLY');
    expect(e.metadata).toEqual({ cost: '9e9' });
    expect(e.fieldViolations).toEqual([
      { field: 'bound_settings.ns', description: 'too many', reason: 'COST' },
      { field: 'bound_settings.grid_points', description: 'too fine', reason: 'INVALID_FIELD' },
    ]);
    // and the next hop reads the same status again
    const again = decodeStatus(overTheWire(e));
    expect(again?.errorInfo?.reason).toBe('SOLVE_TOO_COSTLY');
    expect(again?.badRequest?.fieldViolations.map((v) => v.field)).toEqual(['bound_settings.ns', 'bound_settings.grid_points']);
  });

  it('names the code when the status carried no details, and leaves other codes and non-calls alone', () => {
    const bare = Object.assign(new Error('5 NOT_FOUND: gone'), { code: grpc.status.NOT_FOUND, details: 'gone', metadata: new grpc.Metadata() });
    const e = fromServiceError(bare, 'x') as GlcertError;
    expect([e.code, e.message, e.reason, e.fieldViolations]).toEqual([grpc.status.NOT_FOUND, 'x: gone', 'NOT_FOUND', []]);
    const only = new Set([grpc.status.INVALID_ARGUMENT]);
    expect(fromServiceError(bare, 'x', only)).toBe(bare);
    const own = new UnavailableError('down');
    expect(fromServiceError(own, 'x')).toBe(own);
  });
});
