// Readiness that follows other services' health: one Health/Watch stream per dependency (the
// dependency sends its status when it changes) instead of a Health/Check every second. Polling
// cost more CPU than anything else an idle service does (a unary call a second per dependency,
// ~2 ms each on a small node), and the dependency as much again to answer. A dependency that
// exits or restarts ends the stream at once (UNREACHABLE, then watched again); one that hangs is
// noticed by the channel's keepalive (WATCH_KEEPALIVE_MS + WATCH_KEEPALIVE_TIMEOUT_MS).
import type * as grpc from '@grpc/grpc-js';
import type { Logger } from '@glcert/telemetry';
import { sleep } from './call';
import { createHealthClient, type ClientOptions, type HealthClient, type HealthStatus } from './client';

export type DependencyStatus = HealthStatus | 'UNREACHABLE';

/** Keepalive ping of a watched dependency's channel, and how long its answer may take. */
export const WATCH_KEEPALIVE_MS = 5_000;
export const WATCH_KEEPALIVE_TIMEOUT_MS = 2_000;
/** Backoff before watching again after a stream failed: doubles from the first to the last. */
const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 1_000;

/** A health client for Watch: its keepalive notices a dependency that hangs without closing the connection. */
export function createWatchHealthClient(addrs: string | readonly string[], options: ClientOptions = {}): HealthClient {
  return createHealthClient(addrs, { keepaliveTimeMs: WATCH_KEEPALIVE_MS, keepaliveTimeoutMs: WATCH_KEEPALIVE_TIMEOUT_MS, ...options });
}

/**
 * Follows health key `service` of `client` until `signal` aborts: `onStatus` gets every status
 * the dependency sends, and UNREACHABLE when the stream fails (the dependency is down,
 * restarting, or silent past the keepalive); it then watches again after a backoff (reset once
 * a status arrives). An unknown key is SERVICE_UNKNOWN, sent by the dependency.
 */
export function watchHealth(client: HealthClient, signal: AbortSignal, onStatus: (status: DependencyStatus) => void, service = ''): void {
  void (async () => {
    let backoff = RETRY_FIRST_MS;
    while (!signal.aborted) {
      await new Promise<void>((done) => {
        let call: grpc.ClientReadableStream<{ status: HealthStatus }>;
        try {
          call = client.watch({ service }, { deadline: Infinity });
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

/** What follows the dependencies turns: a RunningService has both. */
export interface Readiness {
  ready(): void;
  notReady(): void;
}

/** A followed dependency: its name (in logs and in `isReady`'s map, unique) and a client from createWatchHealthClient. */
export interface Dependency {
  name: string;
  client: HealthClient;
  /** Health key to watch; '' (the whole server) by default. */
  service?: string;
}

export interface FollowHealthOptions {
  dependencies: readonly Dependency[];
  /** Turned ready / not ready as the dependencies' statuses change. */
  target: Readiness;
  /** Stops following (drain or close); nothing is turned after it aborts. */
  signal: AbortSignal;
  log: Logger;
  /** Whether the statuses (by dependency name) make the target ready. Default: every one SERVING. */
  isReady?: (statuses: ReadonlyMap<string, DependencyStatus>) => boolean;
  /** What the log lines call the dependencies ('dependencies' by default). */
  label?: string;
}

/**
 * Follows each dependency's health with one Watch stream and turns `target` ready when
 * `isReady` holds, not ready when it stops holding, until `signal` aborts. Logs each turn, and
 * the statuses while waiting (at start and when they change). Resolves the first time it turns
 * ready (at once with no dependencies and the default `isReady`).
 */
export function followHealth(options: FollowHealthOptions): Promise<void> {
  const { dependencies, target, signal, log } = options;
  const label = options.label ?? 'dependencies';
  const isReady = options.isReady ?? ((s: ReadonlyMap<string, DependencyStatus>) => [...s.values()].every((v) => v === 'SERVING'));
  const statuses = new Map<string, DependencyStatus>();
  for (const d of dependencies) {
    if (statuses.has(d.name)) throw new Error(`followHealth: dependency name '${d.name}' appears twice`);
    statuses.set(d.name, 'UNKNOWN');
  }
  let resolveReady!: () => void;
  const firstReady = new Promise<void>((resolve) => (resolveReady = resolve));
  let serving = false;
  const update = (): void => {
    if (signal.aborted) return;
    const ok = isReady(statuses);
    const fields = { statuses: Object.fromEntries(statuses) };
    if (ok && !serving) {
      serving = true;
      target.ready();
      resolveReady();
      log.info(`${label} SERVING: ready`, fields);
    } else if (!ok && serving) {
      serving = false;
      target.notReady();
      log.warn(`${label} not SERVING: not ready`, fields);
    } else if (!ok) {
      log.info(`waiting for ${label}`, fields);
    }
  };
  for (const d of dependencies) {
    watchHealth(
      d.client,
      signal,
      (status) => {
        // a repeated status changes nothing (UNREACHABLE comes again after each failed retry)
        if (statuses.get(d.name) === status) return;
        statuses.set(d.name, status);
        update();
      },
      d.service,
    );
  }
  update();
  return firstReady;
}
