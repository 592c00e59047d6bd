import type * as grpc from '@grpc/grpc-js';
import { createLogger, type Logger } from '@glcert/telemetry';
import { callDeadline } from './deadline';
import { CancelledError, DeadlineExceededError, toServiceError } from './errors';

/**
 * Handler wrappers: the handler is an async function; whatever it throws or rejects with is
 * mapped by `toStatus` (typed domain errors keep their code and details, anything else is
 * INTERNAL with the cause logged). Streams are ended when the function returns.
 */

export interface CallContext {
  /** `/package.Service/Method`. */
  readonly method: string;
  /**
   * Aborted when the call is over for the server: the client cancelled, the deadline passed,
   * or the server ended it at shutdown. `signal.reason` is a CancelledError or
   * DeadlineExceededError.
   */
  readonly signal: AbortSignal;
  /** Epoch ms; Infinity when the client set none. */
  readonly deadline: number;
  remainingMs(): number;
  /** Throws `signal.reason` once the call is over: call it at each batch boundary. */
  throwIfDone(): void;
  /** Logger with `method` on every line. */
  readonly log: Logger;
}

export interface HandlerOptions {
  log?: Logger;
}

/** What the wrappers need of any grpc-js server call object. */
interface AnyServerCall {
  getPath(): string;
  getDeadline(): grpc.Deadline;
  readonly cancelled: boolean;
  once(event: 'cancelled', listener: () => void): unknown;
  removeListener(event: 'cancelled', listener: () => void): unknown;
}

let defaultLog: Logger | undefined;

function context(call: AnyServerCall, options: HandlerOptions): { ctx: CallContext; done(): void } {
  const method = call.getPath();
  const log = (options.log ?? (defaultLog ??= createLogger('runtime'))).child({ method });
  const deadline = callDeadline(call);
  const controller = new AbortController();
  const onCancel = (): void => {
    controller.abort(Date.now() >= deadline ? new DeadlineExceededError() : new CancelledError());
  };
  call.once('cancelled', onCancel);
  if (call.cancelled) onCancel();
  const ctx: CallContext = {
    method,
    signal: controller.signal,
    deadline,
    remainingMs: () => Math.max(0, deadline - Date.now()),
    throwIfDone: () => {
      if (controller.signal.aborted) throw controller.signal.reason;
    },
    log,
  };
  return { ctx, done: () => call.removeListener('cancelled', onCancel) };
}

/** `unaryHandler(async (req, call, ctx) => response)`. */
export function unaryHandler<Req, Res>(
  fn: (request: Req, call: grpc.ServerUnaryCall<Req, Res>, ctx: CallContext) => Promise<Res> | Res,
  options: HandlerOptions = {},
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const { ctx, done } = context(call as unknown as AnyServerCall, options);
    Promise.resolve()
      .then(() => fn(call.request, call, ctx))
      .then(
        (response) => {
          done();
          callback(null, response);
        },
        (err: unknown) => {
          done();
          callback(toServiceError(err, { log: ctx.log, method: ctx.method }));
        },
      );
  };
}

/** `clientStreamHandler(async (call, ctx) => { for await (const m of call) ...; return response })`. */
export function clientStreamHandler<Req, Res>(
  fn: (call: grpc.ServerReadableStream<Req, Res>, ctx: CallContext) => Promise<Res> | Res,
  options: HandlerOptions = {},
): grpc.handleClientStreamingCall<Req, Res> {
  return (call, callback) => {
    const { ctx, done } = context(call as unknown as AnyServerCall, options);
    safeIteration(call);
    Promise.resolve()
      .then(() => fn(call, ctx))
      .then(
        (response) => {
          done();
          callback(null, response);
        },
        (err: unknown) => {
          done();
          callback(toServiceError(err, { log: ctx.log, method: ctx.method }));
        },
      );
  };
}

function endStream(
  call: grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>,
  ctx: CallContext,
  err?: unknown,
): void {
  if (call.cancelled) return; // the status is already decided (cancel, deadline, shutdown)
  const status = err === undefined ? undefined : toServiceError(err, { log: ctx.log, method: ctx.method });
  if (!call.destroyed) {
    if (status) call.emit('error', status);
    else if (!call.writableEnded) call.end();
    return;
  }
  // Destroyed without a status (a plain `for await` over a grpc-js stream destroys it when the
  // loop ends): send the status through the underlying call, or the client waits for its deadline.
  const inner = (call as unknown as { call?: { sendStatus(s: { code: number; details: string; metadata: grpc.Metadata | null }): void } })
    .call;
  inner?.sendStatus(status ? { code: status.code, details: status.details, metadata: status.metadata } : { code: 0, details: 'OK', metadata: null });
}

/**
 * `for await (const m of call)` on a grpc-js stream destroys the stream when the loop ends
 * (Readable's default), which for a duplex also kills the response side. Iterating without
 * destroy-on-return keeps the call usable, so handlers can loop and throw freely.
 */
function safeIteration(call: NodeJS.ReadableStream & { iterator?: (o: { destroyOnReturn: boolean }) => AsyncIterableIterator<unknown> }): void {
  const iterator = call.iterator;
  if (typeof iterator !== 'function') return;
  Object.defineProperty(call, Symbol.asyncIterator, {
    configurable: true,
    value: () => iterator.call(call, { destroyOnReturn: false }),
  });
}

/** `serverStreamHandler(async (req, call, ctx) => { await send(call, item) ... })`; the stream ends when it returns. */
export function serverStreamHandler<Req, Res>(
  fn: (request: Req, call: grpc.ServerWritableStream<Req, Res>, ctx: CallContext) => Promise<void> | void,
  options: HandlerOptions = {},
): grpc.handleServerStreamingCall<Req, Res> {
  return (call) => {
    const { ctx, done } = context(call as unknown as AnyServerCall, options);
    const stream = call as unknown as grpc.ServerWritableStream<unknown, unknown>;
    Promise.resolve()
      .then(() => fn(call.request, call, ctx))
      .then(
        () => {
          done();
          endStream(stream, ctx);
        },
        (err: unknown) => {
          done();
          endStream(stream, ctx, err);
        },
      );
  };
}

/** `bidiHandler(async (call, ctx) => { for await (const m of call) await send(call, ...) })`; ends when it returns. */
export function bidiHandler<Req, Res>(
  fn: (call: grpc.ServerDuplexStream<Req, Res>, ctx: CallContext) => Promise<void> | void,
  options: HandlerOptions = {},
): grpc.handleBidiStreamingCall<Req, Res> {
  return (call) => {
    const { ctx, done } = context(call as unknown as AnyServerCall, options);
    const stream = call as unknown as grpc.ServerDuplexStream<unknown, unknown>;
    safeIteration(call);
    Promise.resolve()
      .then(() => fn(call, ctx))
      .then(
        () => {
          done();
          endStream(stream, ctx);
        },
        (err: unknown) => {
          done();
          endStream(stream, ctx, err);
        },
      );
  };
}

/**
 * Writes one message honouring backpressure: resolves at once while the stream's buffer has
 * room, else on 'drain'. Rejects with CancelledError when the call is (or becomes) cancelled,
 * so a producer loop stops instead of buffering without bound.
 */
export function send<Res>(
  call: grpc.ServerWritableStream<unknown, Res> | grpc.ServerDuplexStream<unknown, Res>,
  message: Res,
): Promise<void> {
  if (call.cancelled || call.destroyed) return Promise.reject(new CancelledError());
  if (call.write(message)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      call.removeListener('drain', onDrain);
      call.removeListener('cancelled', onCancel);
      call.removeListener('close', onCancel);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onCancel = (): void => {
      cleanup();
      reject(new CancelledError());
    };
    call.once('drain', onDrain);
    call.once('cancelled', onCancel);
    call.once('close', onCancel);
  });
}
