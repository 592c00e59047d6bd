// Classify of one batch on the sidecar, retried while its queue is full.
import * as grpc from '@grpc/grpc-js';
import { CancelledError, DEADLINE_MARGIN_MS, isGrpcError, sleep, type CallContext } from '@glcert/runtime';
import type { SentBatch } from './count-pipeline';
import { sidecarDeadline, type SamplerDeps } from './deps';

/** Retries of a Classify refused with RESOURCE_EXHAUSTED (the sidecar's queue is full). */
const QUEUE_FULL_RETRIES = 6;

/**
 * Classify one pre-serialized batch, retrying while the sidecar's queue is full. `checkModel`
 * sees the answering model's sha256 before the labels are counted (it throws on a mismatch).
 */
export function classifyWithRetry(deps: SamplerDeps, message: Buffer, ctx: CallContext, checkModel: (sha256: string) => void): SentBatch {
  const { sidecar, stats } = deps;
  let cancelled = false;
  let current: { cancel(): void } | undefined;
  const abort = new AbortController();
  const attempt = async (n: number): Promise<number[]> => {
    stats.classifyCalls++;
    const call = sidecar.classify(message, sidecarDeadline(deps, ctx));
    current = call;
    let result;
    try {
      result = await call.result;
    } catch (err) {
      if (cancelled || n >= QUEUE_FULL_RETRIES || !isGrpcError(err, grpc.status.RESOURCE_EXHAUSTED)) throw err;
      const backoff = Math.min(200, 5 * 2 ** n);
      if (ctx.remainingMs() <= backoff + DEADLINE_MARGIN_MS) throw err;
      await sleep(backoff, abort.signal);
      if (cancelled) throw new CancelledError('batch cancelled');
      return attempt(n + 1);
    }
    checkModel(result.modelSha256);
    return result.labels;
  };
  return {
    labels: attempt(0),
    cancel: () => {
      cancelled = true;
      abort.abort();
      current?.cancel();
    },
  };
}
