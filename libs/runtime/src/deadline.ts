import * as grpc from '@grpc/grpc-js';
import { downstreamDeadline } from './call';

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
  /** Kept back from the caller's deadline; default DEADLINE_MARGIN_MS (call.ts), the one margin of every hop. */
  marginMs?: number;
}

/** The key under which `propagate` hands the caller's call to the client's cancellation interceptor. */
export const PARENT_CALL = 'glcertParentCall';

/** CallOptions carrying the caller, for `cancellationInterceptor` (createClient installs it). */
export type PropagatedCallOptions = grpc.CallOptions & { [PARENT_CALL]?: ServerCall };

/**
 * CallOptions for a downstream call made while serving `call`: the deadline is
 * `min(callerDeadline - marginMs, now + timeoutMs)` (when neither is finite the client's
 * default deadline applies), and the downstream call is cancelled when the caller is (by the
 * interceptor every `createClient` client has).
 *
 * Not grpc-js' own `parent` option: it adds a 'cancelled' listener to the parent call for
 * every child call and never removes it, so a long stream making thousands of downstream calls
 * would pile up listeners without bound. Here each parent holds at most one listener, removed
 * when its last child call ends.
 */
export function propagate(call: ServerCall, options: PropagateOptions = {}): PropagatedCallOptions {
  const deadline = downstreamDeadline(callDeadline(call), options.timeoutMs, options.marginMs);
  return {
    [PARENT_CALL]: call,
    ...(Number.isFinite(deadline) ? { deadline: new Date(deadline) } : {}),
  };
}

/** Per parent call: its single 'cancelled' listener and the child calls it cancels. */
const children = new WeakMap<ServerCall, { cancelAll: () => void; cancels: Set<() => void> }>();

interface CancelEvents {
  on(event: 'cancelled', listener: () => void): unknown;
  removeListener(event: 'cancelled', listener: () => void): unknown;
}

function attach(parent: ServerCall, cancel: () => void): () => void {
  const events = parent as unknown as CancelEvents;
  let entry = children.get(parent);
  if (!entry) {
    const cancels = new Set<() => void>();
    const cancelAll = (): void => {
      for (const c of [...cancels]) c();
    };
    entry = { cancelAll, cancels };
    children.set(parent, entry);
    events.on('cancelled', cancelAll);
  }
  entry.cancels.add(cancel);
  const e = entry;
  return () => {
    e.cancels.delete(cancel);
    if (e.cancels.size === 0 && children.get(parent) === e) {
      events.removeListener('cancelled', e.cancelAll);
      children.delete(parent);
    }
  };
}

/**
 * Client interceptor: a call whose options came from `propagate(parentCall)` is cancelled
 * (CANCELLED) when the parent call is cancelled. createClient installs it on every client.
 */
export function cancellationInterceptor(): grpc.Interceptor {
  return (options, nextCall) => {
    const { [PARENT_CALL]: parent, ...rest } = options as grpc.InterceptorOptions & { [PARENT_CALL]?: ServerCall };
    if (!parent) return new grpc.InterceptingCall(nextCall(options));
    const child: grpc.InterceptingCall = new grpc.InterceptingCall(nextCall(rest as grpc.InterceptorOptions), {
      start(metadata, _listener, next) {
        const cancel = (): void => child.cancelWithStatus(grpc.status.CANCELLED, 'cancelled by the caller');
        const detach = attach(parent, cancel);
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            detach();
            nextStatus(status);
          },
        });
        if (parent.cancelled) cancel();
      },
    });
    return child;
  };
}
