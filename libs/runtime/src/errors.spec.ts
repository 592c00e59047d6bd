import * as grpc from '@grpc/grpc-js';
import {
  Violations,
  GlcertError,
  CancelledError,
  decodeRpcStatus,
  decodeStatus,
  DeadlineExceededError,
  InvalidArgumentError,
  NotFoundError,
  ResourceExhaustedError,
  toRpcStatus,
  toServiceError,
  toStatus,
  UnavailableError,
  FailedPreconditionError,
  STATUS_LIMITS,
  clip,
  scrubInternal,
} from './errors';
import { startTestService, captureLogger, type Harness } from './testing/harness';
import { call, callError, type EchoResponse } from './testing/test-service';

describe('toStatus (unit)', () => {
  it.each([
    ['InvalidArgumentError', new InvalidArgumentError('n', 'must be >= 1'), grpc.status.INVALID_ARGUMENT, 'INVALID_ARGUMENT'],
    ['NotFoundError', new NotFoundError('no model'), grpc.status.NOT_FOUND, 'NOT_FOUND'],
    ['ResourceExhaustedError', new ResourceExhaustedError('queue full'), grpc.status.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED'],
    ['FailedPreconditionError', new FailedPreconditionError('not built'), grpc.status.FAILED_PRECONDITION, 'FAILED_PRECONDITION'],
    ['UnavailableError', new UnavailableError('not ready'), grpc.status.UNAVAILABLE, 'UNAVAILABLE'],
    ['DeadlineExceededError', new DeadlineExceededError(), grpc.status.DEADLINE_EXCEEDED, 'DEADLINE_EXCEEDED'],
    ['CancelledError', new CancelledError(), grpc.status.CANCELLED, 'CANCELLED'],
  ])('%s keeps its code and gets an ErrorInfo', (_name, err, code, reason) => {
    const status = toStatus(err);
    expect(status.code).toBe(code);
    expect(status.details).toBe(err.message);
    const decoded = decodeStatus(status.metadata);
    expect(decoded).toMatchObject({ code, message: err.message, errorInfo: { reason, domain: 'glcert.dev' } });
  });

  it('an unknown error becomes INTERNAL: the cause is logged with an error id, not sent', () => {
    const { log, lines } = captureLogger();
    const status = toStatus(new TypeError('password=hunter2 at db.ts:12'), { log, method: '/x.Y/Z' });
    expect(status.code).toBe(grpc.status.INTERNAL);
    expect(status.details).not.toContain('hunter2');
    const info = decodeStatus(status.metadata)!.errorInfo!;
    expect(info.reason).toBe('INTERNAL');
    const errorId = info.metadata['error_id'];
    expect(status.details).toContain(errorId);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 'error', error_id: errorId, method: '/x.Y/Z', err: { name: 'TypeError' } });
  });

  it('passes through UNAVAILABLE/DEADLINE_EXCEEDED/CANCELLED/RESOURCE_EXHAUSTED of a downstream call, hides the rest', () => {
    const { log } = captureLogger();
    const downstream = (code: grpc.status): grpc.ServiceError =>
      Object.assign(new Error(`${code} upstream`), { code, details: 'upstream said no', metadata: new grpc.Metadata() });
    expect(toStatus(downstream(grpc.status.UNAVAILABLE), { log })).toMatchObject({ code: grpc.status.UNAVAILABLE, details: 'upstream said no' });
    expect(toStatus(downstream(grpc.status.DEADLINE_EXCEEDED), { log }).code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(toStatus(downstream(grpc.status.INVALID_ARGUMENT), { log }).code).toBe(grpc.status.INTERNAL);
    expect(decodeStatus(toStatus(downstream(grpc.status.UNAVAILABLE), { log }).metadata)?.errorInfo?.reason).toBe('UPSTREAM_UNAVAILABLE');
  });

  it('an AbortError (from an aborted signal) is CANCELLED', () => {
    const err = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(toStatus(err).code).toBe(grpc.status.CANCELLED);
  });

  it('InvalidArgumentError.of names every field and lists every violation', () => {
    const err = InvalidArgumentError.of([
      { field: 'n', description: 'must be >= n0' },
      { field: 'alpha', description: 'must be in (0, 1)', reason: 'OUT_OF_RANGE' },
    ]);
    expect(err.message).toBe('n: must be >= n0; alpha: must be in (0, 1)');
    const rpc = decodeRpcStatus(toRpcStatus(err));
    expect(rpc.badRequest?.fieldViolations).toEqual([
      { field: 'n', description: 'must be >= n0', reason: 'INVALID_FIELD' },
      { field: 'alpha', description: 'must be in (0, 1)', reason: 'OUT_OF_RANGE' },
    ]);
  });

  it('toRpcStatus is the in-band form of the same mapping; toServiceError the handler form', () => {
    const err = new NotFoundError("model 'x' not found", { reason: 'MODEL_NOT_FOUND', metadata: { model: 'x' } });
    const rpc = toRpcStatus(err);
    expect(rpc.code).toBe(grpc.status.NOT_FOUND);
    expect(decodeRpcStatus(rpc).errorInfo).toEqual({ reason: 'MODEL_NOT_FOUND', domain: 'glcert.dev', metadata: { model: 'x' } });
    const se = toServiceError(err);
    expect(se).toBeInstanceOf(Error);
    expect(se).toMatchObject({ code: grpc.status.NOT_FOUND, details: "model 'x' not found" });
  });

  it('decodeStatus is undefined when there is no details trailer', () => {
    expect(decodeStatus(new grpc.Metadata())).toBeUndefined();
    expect(decodeStatus(undefined)).toBeUndefined();
  });
});

describe('errors through real gRPC', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startTestService();
  });
  afterAll(async () => {
    await h.close();
  });

  it('a thrown InvalidArgumentError arrives as INVALID_ARGUMENT with ErrorInfo and BadRequest', async () => {
    const err = await callError(h.client(), 'echo', { text: 'x', fail: 'invalid' });
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toBe('threat_model.contrast.min: must be > 0, got -1');
    const d = decodeStatus(err)!;
    expect(d.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(d.errorInfo).toEqual({ reason: 'INVALID_ARGUMENT', domain: 'glcert.dev', metadata: {} });
    expect(d.badRequest?.fieldViolations).toEqual([
      { field: 'threat_model.contrast.min', description: 'must be > 0, got -1', reason: 'INVALID_FIELD' },
    ]);
  });

  it.each([
    ['notfound', grpc.status.NOT_FOUND, 'MODEL_NOT_FOUND', { model: 'resnet-9000' }],
    ['exhausted', grpc.status.RESOURCE_EXHAUSTED, 'QUEUE_FULL', { queue_length: '64' }],
    ['precondition', grpc.status.FAILED_PRECONDITION, 'FAILED_PRECONDITION', {}],
    ['unavailable', grpc.status.UNAVAILABLE, 'NOT_READY', {}],
  ])('fail=%s arrives as code %i with reason %s', async (fail, code, reason, metadata) => {
    const err = await callError(h.client(), 'echo', { text: 'x', fail });
    expect(err.code).toBe(code);
    expect(decodeStatus(err)?.errorInfo).toEqual({ reason, domain: 'glcert.dev', metadata });
    expect(decodeStatus(err)?.badRequest).toBeUndefined();
  });

  it('an unexpected error arrives as INTERNAL without its message, which is logged server-side', async () => {
    const err = await callError(h.client(), 'echo', { text: 'x', fail: 'boom' });
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).not.toContain('hunter2');
    const logged = h.lines.find((l) => l['msg'] === 'internal error');
    expect(logged).toMatchObject({ method: '/glcert.test.v1.TestService/Echo', err: { message: expect.stringContaining('hunter2') } });
    expect(logged!['error_id']).toBe(decodeStatus(err)?.errorInfo?.metadata['error_id']);
  });

  it('a bidi stream handler error ends the stream with the mapped status', async () => {
    const stream = h.client().chat({ deadline: Date.now() + 5_000 });
    const got: EchoResponse[] = [];
    stream.on('data', (m: EchoResponse) => got.push(m));
    const ended = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    stream.write({ text: 'a' });
    stream.write({ text: 'b', fail: 'invalid' });
    const err = await ended;
    expect(got).toEqual([{ text: 'A' }]);
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(decodeStatus(err)?.badRequest?.fieldViolations[0]?.field).toBe('threat_model.contrast.min');
  });

  it('a bidi stream ends OK when the handler returns', async () => {
    const stream = h.client().chat({ deadline: Date.now() + 5_000 });
    const got: EchoResponse[] = [];
    stream.on('data', (m: EchoResponse) => got.push(m));
    const status = new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
    stream.write({ text: 'x' });
    stream.end();
    expect((await status).code).toBe(grpc.status.OK);
    expect(got).toEqual([{ text: 'X' }]);
  });

  it('a unary handler still answers normally', async () => {
    expect(await call(h.client(), 'echo', { text: 'ok' })).toMatchObject({ text: 'ok' });
  });
});

/** Bytes of the trailers a status puts on the wire: grpc-message (percent-encoded) and the details. */
function trailerBytes(status: grpc.StatusObject): number {
  const details = status.metadata.get('grpc-status-details-bin')[0] as Buffer;
  return encodeURIComponent(status.details).length + Math.ceil((details.length * 4) / 3);
}

describe('status size and content limits (hostile input)', () => {
  it('clip cuts at a character boundary with a marker, within the byte budget', () => {
    expect(clip('short', 10)).toBe('short');
    const cut = clip('x'.repeat(10_000), 200);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(200);
    expect(cut).toMatch(/^x+\.\.\.\[10000 bytes, cut\]$/);
    // 4-byte characters are never split (no lone surrogate, valid UTF-8 round trip)
    const emoji = clip('\u{1F600}'.repeat(1_000), 101);
    expect(Buffer.byteLength(emoji)).toBeLessThanOrEqual(101);
    expect(Buffer.from(emoji, 'utf8').toString('utf8')).toBe(emoji);
    expect(emoji).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('a 10 kB model name echoed into a message, metadata and violations: cut in every place; the trailers stay small', () => {
    const name = 'm'.repeat(10_000);
    for (const err of [
      new NotFoundError(`model '${name}' not found`, { reason: 'MODEL_NOT_FOUND', metadata: { model: name, [name]: 'key too long' } }),
      InvalidArgumentError.of(Array.from({ length: 200 }, (_, i) => ({ field: `f${i}.${name}`, description: `bad ${name}` }))),
      new FailedPreconditionError('x', { metadata: Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, name])) }),
    ]) {
      const status = toStatus(err);
      expect(status.code).toBe(err.code);
      expect(Buffer.byteLength(status.details)).toBeLessThanOrEqual(STATUS_LIMITS.messageBytes);
      if (err.message.length > STATUS_LIMITS.messageBytes) expect(status.details).toContain('bytes, cut]');
      const d = decodeStatus(status.metadata)!;
      expect(d.code).toBe(err.code);
      for (const [k, v] of Object.entries(d.errorInfo!.metadata)) {
        expect(Buffer.byteLength(k)).toBeLessThanOrEqual(STATUS_LIMITS.metadataKeyBytes);
        expect(Buffer.byteLength(v)).toBeLessThanOrEqual(STATUS_LIMITS.metadataValueBytes);
      }
      for (const v of d.badRequest?.fieldViolations ?? []) {
        expect(Buffer.byteLength(v.field)).toBeLessThanOrEqual(STATUS_LIMITS.fieldBytes);
        expect(Buffer.byteLength(v.description)).toBeLessThanOrEqual(STATUS_LIMITS.descriptionBytes);
      }
      // ErrorInfo + BadRequest within the budget, and the whole trailer far below HTTP/2 header limits
      const detailBytes = d.details.reduce((n, a) => n + a.value.length, 0);
      expect(detailBytes).toBeLessThanOrEqual(STATUS_LIMITS.detailsBytes);
      expect(trailerBytes(status)).toBeLessThan(8_192);
    }
  });

  it('violations past the budget are left out, and the message says so; the first ones are kept in order', () => {
    const err = InvalidArgumentError.of(Array.from({ length: 200 }, (_, i) => ({ field: `f${i}`, description: 'd'.repeat(250) })));
    const status = toStatus(err);
    const kept = decodeStatus(status.metadata)!.badRequest!.fieldViolations;
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.length).toBeLessThan(200);
    expect(kept.map((v) => v.field)).toEqual(kept.map((_, i) => `f${i}`));
    expect(status.details).toContain(`(${200 - kept.length} more detail(s) left out)`);
  });

  it('a downstream status loses grpc-js diagnostics and internal addresses', () => {
    const { log } = captureLogger();
    const downstream = (code: grpc.status, details: string): grpc.ServiceError =>
      Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new grpc.Metadata() });
    const deadline = toStatus(
      downstream(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded after 0.702s,LB pick: 0.000s,remote_addr=127.0.0.1:43211'),
      { log },
    );
    expect(deadline).toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline exceeded after 0.702s' });
    const unavailable = toStatus(
      downstream(grpc.status.UNAVAILABLE, 'No connection established. Last error: Error: connect ECONNREFUSED 10.1.2.3:50052. Resolution note: sampler-0.sampler-headless.glcert.svc:50052, [::1]:50052, ipv4:127.0.0.1:9'),
      { log },
    );
    expect(unavailable.code).toBe(grpc.status.UNAVAILABLE);
    expect(unavailable.details).not.toMatch(/10\.1\.2\.3|50052|sampler-0|::1|127\.0\.0\.1/);
    expect(unavailable.details).toContain('<internal address>');
  });

  it('a typed error quoting an internal address is scrubbed too (one mapper for every path)', () => {
    const status = toStatus(new UnavailableError('samplers unavailable; last: 14 UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:50052 (remote_addr=127.0.0.1:50052)'));
    expect(status.details).toMatch(/^samplers unavailable; last: 14 UNAVAILABLE: connect ECONNREFUSED <internal address>/);
    expect(status.details).not.toMatch(/127\.0\.0\.1|50052|remote_addr/);
  });

  it('scrubInternal leaves ordinary messages alone', () => {
    for (const m of [
      'threat_model.smoothing[0].sigma: must be a finite number > 0, got NaN',
      'n: must be in [1, 100000] (CERTIFIER_MAX_N), got 0',
      "model 'mnist-cnn' has input shape [1, 1, 28, 28]",
      'alpha: must be in (0, 1), got 1.5; seed: must be in [0, 2^63 - 1], got -1',
      'issued 2026-12-07T13:10:03Z',
    ]) {
      expect(scrubInternal(m)).toBe(m);
    }
  });
});

describe('status limits through real gRPC', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startTestService();
  });
  afterAll(async () => {
    await h.close();
  });

  it('a handler echoing a 10 kB or 60 kB name: the client gets the real code (not RESOURCE_EXHAUSTED or a dropped connection)', async () => {
    for (const size of [10_000, 60_000]) {
      const err = await callError(h.client(), 'echo', { text: 'n'.repeat(size), fail: 'echo-notfound' });
      expect(grpc.status[err.code]).toBe('NOT_FOUND');
      expect(Buffer.byteLength(err.details)).toBeLessThanOrEqual(STATUS_LIMITS.messageBytes);
      expect(decodeStatus(err)?.errorInfo?.reason).toBe('MODEL_NOT_FOUND');
      const bad = await callError(h.client(), 'echo', { text: 'n'.repeat(size), fail: 'echo-invalid' });
      expect(grpc.status[bad.code]).toBe('INVALID_ARGUMENT');
      expect(decodeStatus(bad)?.badRequest?.fieldViolations[0]?.field).toMatch(/^items\[0\]\.n+\.\.\.\[/);
    }
    // the channel is still good
    expect(await call(h.client(), 'echo', { text: 'ok' })).toMatchObject({ text: 'ok' });
  });
});

describe('Violations', () => {
  it('collects bad fields and refuses them all at once, naming each', () => {
    const v = new Violations();
    expect(v.any).toBe(false);
    expect(() => v.throwIfAny()).not.toThrow();
    v.add('n', 'must be >= 1');
    v.add('threat_model.smoothing[0].sigma', 'must be > 0');
    expect(v.any).toBe(true);
    let err: unknown;
    try {
      v.throwIfAny();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(GlcertError);
    expect((err as GlcertError).code).toBe(grpc.status.INVALID_ARGUMENT);
    expect((err as GlcertError).fieldViolations.map((f) => f.field)).toEqual(['n', 'threat_model.smoothing[0].sigma']);
    expect((err as GlcertError).message).toBe('n: must be >= 1; threat_model.smoothing[0].sigma: must be > 0');
  });
});
