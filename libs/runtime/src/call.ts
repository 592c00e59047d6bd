import { setMaxListeners } from 'node:events';
import * as grpc from '@grpc/grpc-js';

/**
 * Client calls as promises: the one way a service calls another (deadline from the caller,
 * cancellation by an AbortSignal), and the one deadline margin every hop keeps.
 */

/**
 * Kept back from the caller's deadline by every downstream call, so this server still has time
 * to answer after the downstream call returns, and so a deadline never grows hop by hop
 * (grpc-timeout is sent rounded up to the millisecond and re-anchored on receipt).
 */
export const DEADLINE_MARGIN_MS = 5;

/**
 * Epoch ms of a downstream call's deadline: the caller's (`callerDeadlineMs`, Infinity when
 * none) less the margin, capped at `capMs` from now (Infinity when neither is finite).
 */
export function downstreamDeadline(callerDeadlineMs: number, capMs = Infinity, marginMs = DEADLINE_MARGIN_MS): number {
  return Math.min(callerDeadlineMs - marginMs, Date.now() + capMs);
}

/** A unary method of a grpc-js client (bound to it), or any function of that shape. */
export type UnaryMethod<Req, Res> = (
  req: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (err: grpc.ServiceError | null, res?: Res) => void,
) => grpc.ClientUnaryCall;

export interface UnaryCallOptions extends Partial<grpc.CallOptions> {
  /**
   * Aborting it cancels the call (the promise rejects with the CANCELLED ServiceError); when it
   * is already aborted no call is made and the promise rejects with `signal.reason`.
   */
  signal?: AbortSignal;
  metadata?: grpc.Metadata;
}

/**
 * One unary call as a promise: `await unaryCall(client.getModel.bind(client), req, { ...propagate(call), signal })`.
 * Rejects with the ServiceError of a failed call as grpc-js gives it (read it with the readers of
 * reasons.ts, or pass it on with `fromServiceError`).
 */
export function unaryCall<Req, Res>(method: UnaryMethod<Req, Res>, req: Req, options: UnaryCallOptions = {}): Promise<Res> {
  const { signal, metadata, ...callOptions } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<Res>((resolve, reject) => {
    let call: grpc.ClientUnaryCall | undefined;
    const onAbort = (): void => call?.cancel();
    call = method(req, metadata ?? new grpc.Metadata(), callOptions, (err, res) => {
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(res as Res);
    });
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller checks the signal after). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * A signal that many concurrent operations listen to at once (every chunk call, backoff and
 * slot wait of a certification adds its own 'abort' listener and removes it when done), so
 * Node's leak warning at 11 listeners is lifted for it.
 */
export function shared<S extends AbortSignal>(signal: S): S {
  setMaxListeners(0, signal);
  return signal;
}

/** AbortSignal.any, shared. */
export function anySignal(signals: AbortSignal[]): AbortSignal {
  return shared(AbortSignal.any(signals));
}
