// CountSamples: seeded samples of the request's threat model -> transforms -> Classify on the
// sidecar -> class counts, in a pipeline of batches (count-pipeline.ts), every batch answered by
// the same model file (the caller's expected_model_sha256 when it names one).
//
// Where the transforms run: when the sidecar builds the request's family itself
// (ModelMetadata.transforms), a batch is sent as the image and its samples' parameters
// (ClassifyRequest.transformed) and the sidecar's workers build the images with the same
// arithmetic (libs/transforms), so no image-sized message crosses gRPC and neither process copies,
// frames or collects megabytes per batch; otherwise (an older sidecar, or
// SAMPLER_SIDECAR_TRANSFORMS=false) the images are built here and sent. The counts are the same.
//
// Several ranges (the request's own, then more_ranges): the pipeline runs over one virtual index
// space [0, total), the ranges laid end to end, so a batch may carry the last samples of one range
// and the first of the next (fewer Classify calls); each label is counted in its own range.
import { context, trace, type Span } from '@opentelemetry/api';
import { encodeFloat32Tensor, modelInputChw, type inferenceV1, type samplingV1 } from '@glcert/contracts';
import {
  FailedPreconditionError,
  identifierViolation,
  InvalidArgumentError,
  modelMismatchError,
  rejectViolations,
  ResourceExhaustedError,
  threatModelIdentifierViolations,
  type CallContext,
} from '@glcert/runtime';
import { markSpanError } from '@glcert/telemetry';
import { transformedClassifyRequest, type ClassifyRequestBuffer } from './classify-request';
import { classifyWithRetry } from './classify-retry';
import { nextTurn, runCountPipeline } from './count-pipeline';
import { checkpoint, MESSAGE_OVERHEAD_BYTES, modelFor, PRODUCE_SLICE_MS, type SamplerDeps } from './deps';
import { SampleSource } from './sample-source';
import { validateCountRequest, type CountInput } from './validate';

const TRACER = '@glcert/sampler';
/** Images per slice of a batch: about this many float32 elements. */
const SLICE_ELEMENTS = 1 << 16;

/**
 * FAILED_PRECONDITION, reason MODEL_MISMATCH: the sidecar answered with another model file than
 * the caller expects (`expected`: the request's expected_model_sha256) or than earlier batches.
 */
function modelMismatch(model: string, want: string, got: string, expected: boolean): FailedPreconditionError {
  const gotText = got === '' ? 'a model of unknown sha256' : `sha256 ${got.slice(0, 12)}`;
  const message = expected
    ? `expected_model_sha256: the inference sidecar serves model '${model}' as ${gotText}, not the expected ${want.slice(0, 12)}`
    : `the inference sidecar answered model '${model}' as ${gotText} after ${want.slice(0, 12)} within one call`;
  return modelMismatchError(message, { model, expected: want, served: got });
}

/** Model input [C, H, W] from metadata `input_shape` [N, C, H, W]. */
function modelChw(meta: inferenceV1.ModelMetadata): [number, number, number] {
  const chw = modelInputChw(meta);
  if (!chw) throw new FailedPreconditionError(`model '${meta.name}' has input shape [${meta.inputShape.join(', ')}]; the sampler needs [N, C, H, W]`);
  return chw;
}

export async function countSamples(
  deps: SamplerDeps,
  req: samplingV1.CountSamplesRequest,
  ctx: CallContext,
): Promise<samplingV1.CountSamplesResponse> {
  const started = performance.now();
  const { cfg, stats, permits, requestBuffers } = deps;
  // identifiers first (runtime limits.ts): short, before any parsing or sidecar call
  rejectViolations([
    identifierViolation(req.model, 'model', 'name'),
    identifierViolation(req.expectedModelSha256, 'expected_model_sha256', 'sha256'),
    ...threatModelIdentifierViolations(req.threatModel),
  ]);
  const input: CountInput = validateCountRequest(req, { maxRange: cfg.maxRange });
  const { ranges } = input;
  // virtual index where each range ends: range r is [ends[r - 1] (0 for r = 0), ends[r])
  const ends: number[] = [];
  for (const r of ranges) ends.push((ends[ends.length - 1] ?? 0) + (r.end - r.start));
  const total = ends[ends.length - 1]!;
  const serverSpan = trace.getActiveSpan();
  serverSpan?.setAttributes({
    'glcert.model': input.model,
    'glcert.transform': input.spec.key,
    'glcert.stream': input.stream,
    'glcert.start_index': input.start,
    'glcert.n': total,
    'glcert.ranges': ranges.length,
  });
  const meta = await modelFor(deps, input.model, ctx);
  const chw = modelChw(meta);
  const { channels, height, width } = input.shape;
  if (channels !== chw[0] || height !== chw[1] || width !== chw[2]) {
    throw new InvalidArgumentError(
      'image.shape',
      `must be the input of model '${meta.name}', [${chw.join(', ')}]; got [${channels}, ${height}, ${width}]`,
    );
  }
  const classes = meta.classNames.length;
  if (classes < 1) throw new FailedPreconditionError(`model '${meta.name}' has no class names`);
  const imageBytes = chw[0] * chw[1] * chw[2] * 4;
  const messageCap = Math.floor((cfg.maxSendMessageBytes - MESSAGE_OVERHEAD_BYTES) / imageBytes);
  if (messageCap < 1) {
    throw new ResourceExhaustedError(
      `one image of model '${meta.name}' (${imageBytes} bytes) does not fit in a message of SAMPLER_MAX_SEND_MESSAGE_BYTES = ${cfg.maxSendMessageBytes}`,
    );
  }
  const sidecarBuilds = cfg.sidecarTransforms && meta.transforms.includes(input.spec.key);
  // samples per Classify call: images built here fill at most one of the sidecar's batches; when
  // it builds them, a call carries a few kilobytes whatever its size, and its batcher splits it
  const batchSize = Math.max(
    1,
    sidecarBuilds
      ? Math.min(input.batchSize || cfg.sidecarBatchSize, permits.size, total)
      : Math.min(input.batchSize || cfg.batchSize, meta.maxBatchSize > 0 ? meta.maxBatchSize : Infinity, messageCap, total),
  );
  const depth = cfg.pipelineDepth;
  serverSpan?.setAttributes({ 'glcert.batch_size': batchSize, 'glcert.sidecar_transforms': sidecarBuilds });

  stats.countCalls++;
  stats.activeCounts++;
  const elements = chw[0] * chw[1] * chw[2];
  const slice = Math.max(1, Math.min(batchSize, Math.floor(SLICE_ELEMENTS / elements)));
  // a source draws one stream's samples: one per range (at most 8, scratch of one batch each)
  const sources = ranges.map((r) => new SampleSource({ ...input, stream: r.stream, maxBatch: sidecarBuilds ? batchSize : slice }));
  const d = input.spec.params.length;
  /** The parts of virtual [start, start + count): range r's samples [from, from + count) at row `row` of the batch. */
  const partsOf = (start: number, count: number): Array<{ r: number; from: number; count: number; row: number }> => {
    const parts = [];
    for (let r = 0, lo = 0; r < ranges.length && lo < start + count; lo = ends[r]!, r++) {
      const a = Math.max(start, lo);
      const b = Math.min(start + count, ends[r]!);
      if (a < b) parts.push({ r, from: ranges[r]!.start + (a - lo), count: b - a, row: a - start });
    }
    return parts;
  };
  const image = sidecarBuilds ? encodeFloat32Tensor(input.image, chw) : undefined;
  const modelUtf8 = new TextEncoder().encode(input.model);
  /** A batch: its images (built here) or its samples' parameters (the sidecar builds the images). */
  interface Slot {
    request?: ClassifyRequestBuffer;
    params?: Float64Array;
    span?: Span;
  }
  const slots: Slot[] = [];
  const parent = context.active();
  const tracer = trace.getTracer(TRACER);
  // model identity: every batch must be answered by the expected model (when the caller names
  // one) and all by the same model file; the first mismatch stops the run at the next boundary
  const expectedSha = req.expectedModelSha256.trim().toLowerCase();
  let answeredSha: string | undefined;
  let mismatch: FailedPreconditionError | undefined;
  const checkModel = (sha: string): void => {
    if (mismatch) throw mismatch;
    const want = expectedSha !== '' ? expectedSha : answeredSha;
    if (want !== undefined && sha !== want) {
      mismatch = modelMismatch(input.model, want, sha, expectedSha !== '');
      throw mismatch;
    }
    answeredSha ??= sha;
  };
  try {
    const result = await runCountPipeline<Slot>({
      start: 0,
      end: total,
      segments: ends,
      batchSize,
      depth,
      newBuffer: () => {
        const slot: Slot = sidecarBuilds ? { params: new Float64Array(batchSize * d) } : { request: requestBuffers.acquire(modelUtf8, chw, batchSize) };
        slots.push(slot);
        return slot;
      },
      classes,
      signal: ctx.signal,
      permits,
      checkpoint: () => {
        checkpoint(deps, ctx);
        if (mismatch) throw mismatch;
      },
      produce: async ({ buffer, start, count, index }) => {
        const parts = partsOf(start, count);
        const first = parts[0]!;
        buffer.span = tracer.startSpan(
          'sampler.batch',
          {
            attributes: {
              'glcert.batch_size': count,
              'glcert.stream': ranges[first.r]!.stream,
              'glcert.start_index': first.from,
              'glcert.batch_index': index,
              'glcert.ranges': parts.length,
            },
          },
          parent,
        );
        for (const part of parts) {
          const source = sources[part.r]!;
          if (buffer.params) {
            // normals and gamma(identity, z) only: microseconds per batch
            buffer.params.set(source.resolve(part.from, part.count).subarray(0, part.count * d), part.row * d);
            continue;
          }
          // in sub-batches of about PRODUCE_SLICE_MS, yielding to the event loop in between: health
          // checks, other calls and the HTTP/2 writes of the batches in flight (flow-controlled)
          // keep moving meanwhile, and a cancelled call stops at the next sub-batch
          const e = source.imageElements;
          await source.fillInSlices(part.from, part.count, buffer.request!.images.subarray(part.row * e, (part.row + part.count) * e), {
            budgetMs: PRODUCE_SLICE_MS,
            yieldToIo: nextTurn,
            checkpoint: () => checkpoint(deps, ctx),
          });
        }
      },
      send: ({ buffer, count }) => {
        const span = buffer.span!;
        const message = buffer.params
          ? transformedClassifyRequest(input.model, image!, input.spec.key, buffer.params.subarray(0, count * d))
          : buffer.request!.message(count);
        const sent = context.with(trace.setSpan(parent, span), () => classifyWithRetry(deps, message, ctx, checkModel));
        sent.labels.then(
          () => span.end(),
          (err: unknown) => {
            markSpanError(span, err);
            span.end();
          },
        );
        return sent;
      },
    });
    // every call of a finished run has settled: grpc-js no longer reads its buffers
    for (const slot of slots) if (slot.request) requestBuffers.release(slot.request);
    stats.samplesCounted += result.samples;
    if (sidecarBuilds) stats.samplesBuiltBySidecar += result.samples;
    serverSpan?.setAttribute('glcert.batches', result.batches);
    return {
      // the first range's counts; each of more_ranges in order
      classCounts: result.segmentCounts[0]!.map(BigInt),
      moreCounts: result.segmentCounts.slice(1).map((c) => ({ classCounts: c.map(BigInt) })),
      samplesCount: BigInt(result.samples),
      batchesCount: result.batches,
      computeSeconds: (performance.now() - started) / 1000,
      modelSha256: answeredSha ?? '',
    };
  } finally {
    stats.activeCounts--;
    // a batch produced but never sent (the run stopped) still ends its span
    for (const slot of slots) if (slot.span?.isRecording()) slot.span.end();
  }
}

