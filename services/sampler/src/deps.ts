// What the SamplingService's handlers share: its configuration, the inference sidecar, the
// counters, the shutdown signal and the limits on work in flight.
import type { inferenceV1 } from '@glcert/contracts';
import { CancelledError, downstreamDeadline, type CallContext } from '@glcert/runtime';
import type { ClassifyRequestPool } from './classify-request';
import type { SamplerConfig } from './config';
import type { Permits } from './permits';
import type { Sidecar } from './sidecar';

export interface SamplerStats {
  /** CountSamples calls accepted (validated). */
  countCalls: number;
  /** CountSamples calls running now. */
  activeCounts: number;
  /** Classify calls started (retries included). */
  classifyCalls: number;
  /** Samples classified and counted. */
  samplesCounted: number;
  /** Samples whose images the sidecar built (ClassifyRequest.transformed). */
  samplesBuiltBySidecar: number;
}

export interface SamplerDeps {
  readonly cfg: SamplerConfig;
  readonly sidecar: Sidecar;
  readonly stats: SamplerStats;
  /** Aborts when the service shuts down. */
  readonly closing: AbortSignal;
  /** Samples in the sidecar's hands, over all CountSamples calls (SAMPLER_MAX_IN_FLIGHT x SAMPLER_BATCH_SIZE permits). */
  readonly permits: Permits;
  /** Request buffers of finished CountSamples calls, reused by the next (classify-request.ts). */
  readonly requestBuffers: ClassifyRequestPool;
}

/** Room for the protobuf framing of one message besides the tensor bytes. */
export const MESSAGE_OVERHEAD_BYTES = 64 * 1024;
/** Longest stretch a batch's transforms hold the event loop before yielding (ms). */
export const PRODUCE_SLICE_MS = 3;

/** Deadline of a sidecar call: the caller's (less the margin), capped at the Classify timeout. */
export function sidecarDeadline(deps: SamplerDeps, ctx: CallContext): Date {
  return new Date(downstreamDeadline(ctx.deadline, deps.cfg.classifyTimeoutMs));
}

/** The sidecar's metadata for `name` (cached by the sidecar client). */
export function modelFor(deps: SamplerDeps, name: string, ctx: CallContext): Promise<inferenceV1.ModelMetadata> {
  return deps.sidecar.getModelMetadata(name, sidecarDeadline(deps, ctx));
}

/** Stops work at a batch or sub-batch boundary when the caller is gone or the sampler shuts down. */
export function checkpoint(deps: SamplerDeps, ctx: CallContext): void {
  ctx.throwIfDone();
  if (deps.closing.aborted) throw new CancelledError('sampler shutting down');
}
