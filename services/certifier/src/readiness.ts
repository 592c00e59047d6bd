// The certifier's readiness: SERVING while at least one sampler and the bound service are.
//
// Each dependency's health is followed with one Health/Watch stream (the dependency sends its
// status when it changes) instead of a Health/Check every second: polling cost the certifier
// more CPU than anything else it does while idle (two unary calls a second, ~2 ms each on a
// small node), and the dependencies as much again to answer. A dependency that exits or
// restarts ends the stream at once (UNREACHABLE, then watched again); one that hangs is noticed
// by the channel's keepalive (WATCH_KEEPALIVE_MS + WATCH_KEEPALIVE_TIMEOUT_MS).
import type * as grpc from '@grpc/grpc-js';
import { createHealthClient, sleep, type HealthClient, type HealthStatus, type Logger } from '@glcert/runtime';

export type DependencyStatus = HealthStatus | 'UNREACHABLE';

/** Keepalive ping of a watched dependency's channel, and how long its answer may take. */
export const WATCH_KEEPALIVE_MS = 5_000;
export const WATCH_KEEPALIVE_TIMEOUT_MS = 2_000;
/** Backoff before watching again after a stream failed: doubles from the first to the last. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 1_000;

/** A health client for Watch: its keepalive notices a dependency that hangs without closing the connection. */
export function createWatchHealthClient(addr: string): HealthClient {
  return createHealthClient(addr, { keepaliveTimeMs: WATCH_KEEPALIVE_MS, keepaliveTimeoutMs: WATCH_KEEPALIVE_TIMEOUT_MS });
}

/**
 * Follows health key '' of `client` until `signal` aborts: `onStatus` gets every status the
 * dependency sends, and UNREACHABLE when the stream fails (the dependency is down, restarting,
 * or silent past the keepalive); it then watches again after a backoff (reset once a status
 * arrives).
 */
export function watchHealth(client: HealthClient, signal: AbortSignal, onStatus: (status: DependencyStatus) => void): void {
  void (async () => {
    let backoff = RETRY_FIRST_MS;
    while (!signal.aborted) {
      await new Promise<void>((done) => {
        let call: grpc.ClientReadableStream<{ status: HealthStatus }>;
        try {
          call = client.watch({ service: '' }, { deadline: Infinity });
        } catch {
          // the channel is closed (shutdown)
          done();
          return;
        }
        const onAbort = (): void => call.cancel();
        signal.addEventListener('abort', onAbort, { once: true });
        call.on('data', (res: { status: HealthStatus }) => {
          backoff = RETRY_FIRST_MS;
          if (!signal.aborted) onStatus(res.status);
        });
        // 'status' comes last, whether the stream ended, failed or was cancelled
        call.on('error', () => undefined);
        call.on('status', () => {
          signal.removeEventListener('abort', onAbort);
          if (!signal.aborted) onStatus('UNREACHABLE');
          done();
        });
      });
      if (signal.aborted) break;
      await sleep(backoff, signal);
      backoff = Math.min(RETRY_MAX_MS, backoff * 2);
    }
  })();
}

export interface Readiness {
  ready(): void;
  notReady(): void;
}

/**
 * Turns `service` ready while at least one sampler and the bound service report SERVING, not
 * ready otherwise, until `signal` aborts. Resolves the first time it turns ready.
 */
export function followDependencies(
  deps: { samplers: readonly HealthClient[]; bounds: HealthClient },
  service: Readiness,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  let resolveReady!: () => void;
  const firstReady = new Promise<void>((resolve) => (resolveReady = resolve));
  const samplers: DependencyStatus[] = deps.samplers.map(() => 'UNKNOWN');
  let bounds: DependencyStatus = 'UNKNOWN';
  let serving = false;
  const update = (): void => {
    if (signal.aborted) return;
    const ok = samplers.includes('SERVING') && bounds === 'SERVING';
    if (ok && !serving) {
      serving = true;
      service.ready();
      resolveReady();
    } else if (!ok && serving) {
      serving = false;
      service.notReady();
      log.warn('dependencies not SERVING: not ready', { samplers, bounds });
    }
  };
  deps.samplers.forEach((client, i) =>
    watchHealth(client, signal, (status) => {
      samplers[i] = status;
      update();
    }),
  );
  watchHealth(deps.bounds, signal, (status) => {
    bounds = status;
    update();
  });
  return firstReady;
}
