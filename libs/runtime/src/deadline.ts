import * as grpc from '@grpc/grpc-js';

/**
 * Deadlines. Every client call has one (createClient adds a default), and a call made while
 * serving another inherits the caller's: `client.score(req, propagate(call), cb)`.
 */

/** Any server-side call object (unary, streams): what grpc-js accepts as `parent`. */
export type ServerCall = NonNullable<grpc.CallOptions['parent']>;

/** Epoch milliseconds of a grpc-js Deadline (Infinity when none). */
export function deadlineToMs(deadline: grpc.Deadline): number {
  return deadline instanceof Date ? deadline.getTime() : deadline;
}

/** The server call's deadline in epoch ms, Infinity when the client set none. */
export function callDeadline(call: { getDeadline(): grpc.Deadline }): number {
  return deadlineToMs(call.getDeadline());
}

/** Milliseconds left before the call's deadline (>= 0; Infinity when none). */
export function remainingMs(call: { getDeadline(): grpc.Deadline }): number {
  return Math.max(0, callDeadline(call) - Date.now());
}

/** `{ deadline }` `ms` from now, for a call's options. */
export function deadlineIn(ms: number): Date {
  return new Date(Date.now() + ms);
}

export interface PropagateOptions {
  /** Cap for this downstream call, from now; the inherited deadline wins when earlier. */
  timeoutMs?: number;
  /**
   * Kept back from the caller's deadline so this server has time to answer after the
   * downstream call returns (and so a deadline never grows hop by hop: grpc-timeout is sent
   * rounded up to the millisecond, and each hop re-anchors it on receipt). Default 20 ms.
   */
  marginMs?: number;
}

/**
 * CallOptions for a downstream call made while serving `call`: grpc-js' `parent` propagation
 * (deadline and cancellation: the downstream call is cancelled when the caller cancels), with
 * the deadline `min(callerDeadline - marginMs, now + timeoutMs)`. When neither is finite the
 * client's default deadline applies.
 */
export function propagate(call: ServerCall, options: PropagateOptions = {}): grpc.CallOptions {
  const inherited = callDeadline(call) - (options.marginMs ?? 20);
  const own = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
  const deadline = Math.min(inherited, own);
  return {
    parent: call,
    propagate_flags: grpc.propagate.DEFAULTS,
    ...(Number.isFinite(deadline) ? { deadline: new Date(deadline) } : {}),
  };
}
