// The sampler's readiness follows its inference sidecar's health.
import { sleep, type Logger, type RunningService } from '@glcert/runtime';
import type { Sidecar } from './sidecar';

/**
 * Polls the sidecar's health (quickly until it first answers SERVING, then every second) and
 * turns the service ready / not ready with it, until `closing` aborts. Resolves the first time
 * the sidecar answers SERVING.
 */
export function followSidecar(sidecar: Sidecar, running: RunningService, closing: AbortSignal, log: Logger, inferenceAddr: string): Promise<void> {
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  void (async () => {
    let serving = false;
    let wait = 50;
    let lastStatus = '';
    while (!closing.aborted) {
      const status = await sidecar.status(1_000);
      if (closing.aborted) break;
      if (status === 'SERVING' && !serving) {
        serving = true;
        running.ready();
        resolveReady();
        log.info('inference sidecar SERVING: ready', { inference_addr: inferenceAddr });
      } else if (status !== 'SERVING' && serving) {
        serving = false;
        running.notReady();
        log.warn('inference sidecar not SERVING: not ready', { inference_addr: inferenceAddr, status });
      } else if (status !== 'SERVING' && status !== lastStatus) {
        log.info('waiting for the inference sidecar', { inference_addr: inferenceAddr, status });
      }
      lastStatus = status;
      wait = serving ? 1_000 : Math.min(1_000, wait * 2);
      await sleep(wait, closing);
    }
  })();
  return ready;
}
