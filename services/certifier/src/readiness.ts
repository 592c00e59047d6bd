// The certifier's readiness: SERVING while at least one sampler and the bound service are.
// Each dependency is followed with a Health/Watch stream (followHealth, @glcert/runtime), not polled.
import { followHealth, type DependencyStatus, type HealthClient, type Logger, type Readiness } from '@glcert/runtime';

const BOUNDS = 'bounds';
const samplerName = (i: number): string => `sampler ${i}`;

/** The certifier's rule over its dependencies' statuses (names as followDependencies gives them). */
export function certifierReady(statuses: ReadonlyMap<string, DependencyStatus>): boolean {
  if (statuses.get(BOUNDS) !== 'SERVING') return false;
  for (const [name, status] of statuses) if (name !== BOUNDS && status === 'SERVING') return true;
  return false;
}

/**
 * Turns `service` ready while at least one sampler and the bound service report SERVING, not
 * ready otherwise, until `signal` aborts. Resolves the first time it turns ready. The clients
 * come from createWatchHealthClient (keepalive).
 */
export function followDependencies(
  deps: { samplers: readonly HealthClient[]; bounds: HealthClient },
  service: Readiness,
  signal: AbortSignal,
  log: Logger,
): Promise<void> {
  return followHealth({
    dependencies: [...deps.samplers.map((client, i) => ({ name: samplerName(i), client })), { name: BOUNDS, client: deps.bounds }],
    isReady: certifierReady,
    target: service,
    signal,
    log,
  });
}
