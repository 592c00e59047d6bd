// The sampler's readiness follows its inference sidecar's health with one Health/Watch stream
// (followHealth, @glcert/runtime): the sidecar says when its status changes, so neither process
// spends a unary call a second on it; a sidecar that exits ends the stream at once, one that
// hangs is noticed by the health channel's keepalive.
import { followHealth, type Logger, type RunningService } from '@glcert/runtime';
import type { Sidecar } from './sidecar';

/**
 * Turns the service ready while the sidecar reports SERVING, not ready while it does not or
 * cannot be reached, until `closing` aborts. Resolves the first time the sidecar is SERVING.
 */
export function followSidecar(sidecar: Sidecar, running: RunningService, closing: AbortSignal, log: Logger, inferenceAddr: string): Promise<void> {
  return followHealth({
    dependencies: [{ name: inferenceAddr, client: sidecar.health }],
    target: running,
    signal: closing,
    log,
    label: 'inference sidecar',
  });
}
