// SamplingService: CountSamples (seeded samples -> transforms -> Classify on the sidecar ->
// class counts), SampleTransforms (a few transformed images, no inference) and GetModel (the
// sidecar's metadata, cached). Health is SERVING while the sidecar is reachable and SERVING.
import { context, trace, SpanStatusCode, type Span } from '@opentelemetry/api';
import * as grpc from '@grpc/grpc-js';
import { encodeFloat32Tensor, SamplingServiceService, type inferenceV1, type samplingV1, type SamplingServiceServer } from '@glcert/contracts';
import {
  CancelledError,
  createLogger,
  DEADLINE_MARGIN_MS,
  downstreamDeadline,
  FailedPreconditionError,
  identifierViolation,
  InvalidArgumentError,
  isGrpcError,
  modelMismatchError,
  rejectViolations,
  ResourceExhaustedError,
  sleep,
  startService,
  threatModelIdentifierViolations,
  unaryHandler,
  type CallContext,
  type Logger,
  type RunningService,
} from '@glcert/runtime';
import { ClassifyRequestBuffer, ClassifyRequestPool } from './classify-request';
import { defaultSamplerConfig, type SamplerConfig } from './config';
import { runCountPipeline, type SentBatch } from './count-pipeline';
import { Permits } from './permits';
import { SampleSource } from './sample-source';
import { Sidecar } from './sidecar';
import { validateCountRequest, validateSampleTransformsRequest, type CountInput } from './validate';

const TRACER = '@glcert/sampler';
/** Room for the protobuf framing of one message besides the tensor bytes. */
const MESSAGE_OVERHEAD_BYTES = 64 * 1024;
/** Longest stretch a batch's transforms hold the event loop before yielding (ms). */
const PRODUCE_SLICE_MS = 3;
/** Images per slice of a batch: about this many float32 elements. */
const SLICE_ELEMENTS = 1 << 16;
/** Retries of a Classify refused with RESOURCE_EXHAUSTED (the sidecar's queue is full). */
const QUEUE_FULL_RETRIES = 6;

export interface SamplerStats {
  /** CountSamples calls accepted (validated). */
  countCalls: number;
  /** CountSamples calls running now. */
  activeCounts: number;
  /** Classify calls started (retries included). */
  classifyCalls: number;
  /** Samples classified and counted. */
  samplesCounted: number;
}

export interface StartSamplerOptions {
  log?: Logger;
  /** Signals that trigger a graceful shutdown; default none (main.ts passes SIGTERM, SIGINT). */
  signals?: readonly NodeJS.Signals[];
  /** Called after a signal-triggered shutdown; default process.exit. */
  exit?: (code: number) => void;
}

export interface SamplerService {
  readonly port: number;
  /** `host:port`. */
  readonly address: string;
  /** Resolves the first time health turns SERVING (the sidecar answered SERVING). */
  readonly ready: Promise<void>;
  readonly stats: Readonly<SamplerStats>;
  readonly config: Readonly<SamplerConfig>;
  /** Graceful shutdown; idempotent. */
  close(): Promise<void>;
}

const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

/** Model input [C, H, W] from metadata `input_shape` [N, C, H, W]. */
function modelChw(meta: inferenceV1.ModelMetadata): [number, number, number] {
  const shape = meta.inputShape.map(Number);
  if (shape.length !== 4 || shape.slice(1).some((d) => !Number.isSafeInteger(d) || d < 1)) {
    throw new FailedPreconditionError(`model '${meta.name}' has input shape [${shape.join(', ')}]; the sampler needs [N, C, H, W]`);
  }
  return [shape[1]!, shape[2]!, shape[3]!];
}

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

export async function startSamplerService(config: Partial<SamplerConfig> = {}, options: StartSamplerOptions = {}): Promise<SamplerService> {
  const cfg: SamplerConfig = { ...defaultSamplerConfig(), ...config };
  const log = options.log ?? createLogger('sampler');
  const sidecar = new Sidecar({
    address: cfg.inferenceAddr,
    maxSendMessageBytes: cfg.maxSendMessageBytes,
    maxReceiveMessageBytes: cfg.maxReceiveMessageBytes,
    modelCacheMs: cfg.modelCacheMs,
  });
  const stats: SamplerStats = { countCalls: 0, activeCounts: 0, classifyCalls: 0, samplesCounted: 0 };
  const tracer = trace.getTracer(TRACER);
  const closing = new AbortController();
  const permits = new Permits(cfg.maxInFlight);
  // request buffers of finished CountSamples calls, reused by the next (classify-request.ts)
  const requestBuffers = new ClassifyRequestPool();

  /** Deadline of a downstream call: the caller's (less the margin), capped at `capMs` from now. */
  const deadlineFor = (ctx: CallContext, capMs: number): Date => new Date(downstreamDeadline(ctx.deadline, capMs));

  async function modelFor(name: string, ctx: CallContext): Promise<inferenceV1.ModelMetadata> {
    return sidecar.getModelMetadata(name, deadlineFor(ctx, cfg.classifyTimeoutMs));
  }

  /**
   * Classify one pre-serialized batch, retrying while the sidecar's queue is full. `checkModel`
   * sees the answering model's sha256 before the labels are counted (it throws on a mismatch).
   */
  function classifyWithRetry(message: Buffer, ctx: CallContext, checkModel: (sha256: string) => void): SentBatch {
    let cancelled = false;
    let current: { cancel(): void } | undefined;
    const abort = new AbortController();
    const attempt = async (n: number): Promise<number[]> => {
      stats.classifyCalls++;
      const call = sidecar.classify(message, deadlineFor(ctx, cfg.classifyTimeoutMs));
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

  async function countSamples(req: samplingV1.CountSamplesRequest, ctx: CallContext): Promise<samplingV1.CountSamplesResponse> {
    const started = performance.now();
    // identifiers first (runtime limits.ts): short, before any parsing or sidecar call
    rejectViolations([
      identifierViolation(req.model, 'model', 'name'),
      identifierViolation(req.expectedModelSha256, 'expected_model_sha256', 'sha256'),
      ...threatModelIdentifierViolations(req.threatModel),
    ]);
    const input: CountInput = validateCountRequest(req, { maxRange: cfg.maxRange });
    const serverSpan = trace.getActiveSpan();
    serverSpan?.setAttributes({
      'glcert.model': input.model,
      'glcert.transform': input.spec.key,
      'glcert.stream': input.stream,
      'glcert.start_index': input.start,
      'glcert.n': input.end - input.start,
    });
    const meta = await modelFor(input.model, ctx);
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
    const batchSize = Math.max(
      1,
      Math.min(input.batchSize || cfg.batchSize, meta.maxBatchSize > 0 ? meta.maxBatchSize : Infinity, messageCap, input.end - input.start),
    );
    const depth = cfg.pipelineDepth;
    serverSpan?.setAttribute('glcert.batch_size', batchSize);

    stats.countCalls++;
    stats.activeCounts++;
    const elements = chw[0] * chw[1] * chw[2];
    const slice = Math.max(1, Math.min(batchSize, Math.floor(SLICE_ELEMENTS / elements)));
    const source = new SampleSource({ ...input, maxBatch: slice });
    const modelUtf8 = new TextEncoder().encode(input.model);
    interface Slot {
      request: ClassifyRequestBuffer;
      span?: Span;
    }
    const slots: Slot[] = [];
    const parent = context.active();
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
        start: input.start,
        end: input.end,
        batchSize,
        depth,
        newBuffer: () => {
          const slot: Slot = { request: requestBuffers.acquire(modelUtf8, chw, batchSize) };
          slots.push(slot);
          return slot;
        },
        classes,
        signal: ctx.signal,
        permits,
        checkpoint: () => {
          ctx.throwIfDone();
          if (closing.signal.aborted) throw new CancelledError('sampler shutting down');
          if (mismatch) throw mismatch;
        },
        produce: async ({ buffer, start, count, index }) => {
          buffer.span = tracer.startSpan(
            'sampler.batch',
            {
              attributes: {
                'glcert.batch_size': count,
                'glcert.stream': input.stream,
                'glcert.start_index': start,
                'glcert.batch_index': index,
              },
            },
            parent,
          );
          // in sub-batches of about PRODUCE_SLICE_MS, yielding to the event loop in between: health
          // checks, other calls and the HTTP/2 writes of the batches in flight (flow-controlled)
          // keep moving meanwhile, and a cancelled call stops at the next sub-batch
          await source.fillInSlices(start, count, buffer.request.images, {
            budgetMs: PRODUCE_SLICE_MS,
            yieldToIo: nextTurn,
            checkpoint: () => {
              ctx.throwIfDone();
              if (closing.signal.aborted) throw new CancelledError('sampler shutting down');
            },
          });
        },
        send: ({ buffer, count }) => {
          const span = buffer.span!;
          const sent = context.with(trace.setSpan(parent, span), () => classifyWithRetry(buffer.request.message(count), ctx, checkModel));
          sent.labels.then(
            () => span.end(),
            (err: unknown) => {
              span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
              span.end();
            },
          );
          return sent;
        },
      });
      // every call of a finished run has settled: grpc-js no longer reads its buffers
      for (const slot of slots) requestBuffers.release(slot.request);
      stats.samplesCounted += result.samples;
      serverSpan?.setAttribute('glcert.batches', result.batches);
      return {
        classCounts: result.counts.map(BigInt),
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

  async function sampleTransforms(req: samplingV1.SampleTransformsRequest, ctx: CallContext): Promise<samplingV1.SampleTransformsResponse> {
    rejectViolations(threatModelIdentifierViolations(req.threatModel));
    const input = validateSampleTransformsRequest(req);
    const { channels, height, width } = input.shape;
    const elements = channels * height * width;
    const count = Math.min(input.count, Math.floor((cfg.maxSendMessageBytes - MESSAGE_OVERHEAD_BYTES) / (elements * 4 + 256)));
    if (count < 1) {
      throw new ResourceExhaustedError(`one image (${elements * 4} bytes) does not fit in a response of ${cfg.maxSendMessageBytes} bytes`);
    }
    const source = new SampleSource({ ...input, maxBatch: count });
    const out = new Float32Array(count * elements);
    // up to 16 images, but one costly blur of a large image can take a while: yield as CountSamples does
    await source.fillInSlices(input.start, count, out, {
      budgetMs: PRODUCE_SLICE_MS,
      yieldToIo: nextTurn,
      checkpoint: () => {
        ctx.throwIfDone();
        if (closing.signal.aborted) throw new CancelledError('sampler shutting down');
      },
    });
    // the parameters of all `count` samples (after sub-batches `params` holds only the last one's)
    source.resolve(input.start, count);
    const d = input.spec.params.length;
    const samples: samplingV1.TransformedSample[] = [];
    for (let i = 0; i < count; i++) {
      samples.push({
        index: BigInt(input.start + i),
        parameterNames: [...input.spec.params],
        parameterValues: Array.from(source.params.subarray(i * d, (i + 1) * d)),
        image: encodeFloat32Tensor(out.subarray(i * elements, (i + 1) * elements), [channels, height, width]),
      });
    }
    return { samples };
  }

  const implementation: SamplingServiceServer = {
    getModel: unaryHandler(
      async (req: samplingV1.GetModelRequest, _call, ctx) => {
        if (req.model.trim() === '') throw new InvalidArgumentError('model', 'is required');
        rejectViolations([identifierViolation(req.model, 'model', 'name')]);
        return { metadata: await modelFor(req.model, ctx) };
      },
      { log },
    ),
    countSamples: unaryHandler((req: samplingV1.CountSamplesRequest, _call, ctx) => countSamples(req, ctx), { log }),
    sampleTransforms: unaryHandler((req: samplingV1.SampleTransformsRequest, _call, ctx) => sampleTransforms(req, ctx), { log }),
  };

  let running: RunningService;
  try {
    running = await startService({
      name: 'sampler',
      services: [{ definition: SamplingServiceService, implementation }],
      config: {
        host: cfg.host,
        port: cfg.port,
        maxReceiveMessageBytes: cfg.maxReceiveMessageBytes,
        maxSendMessageBytes: cfg.maxSendMessageBytes,
        shutdownGraceMs: cfg.shutdownGraceMs,
      },
      log,
      signals: options.signals ?? [],
      exit: options.exit,
      onShutdown: () => {
        closing.abort();
        sidecar.close();
      },
    });
  } catch (err) {
    sidecar.close();
    throw err;
  }

  // readiness follows the sidecar: poll its health, quickly until it first answers SERVING
  let resolveReady!: () => void;
  const ready = new Promise<void>((resolve) => (resolveReady = resolve));
  void (async () => {
    let serving = false;
    let wait = 50;
    let lastStatus = '';
    while (!closing.signal.aborted) {
      const status = await sidecar.status(1_000);
      if (closing.signal.aborted) break;
      if (status === 'SERVING' && !serving) {
        serving = true;
        running.ready();
        resolveReady();
        log.info('inference sidecar SERVING: ready', { inference_addr: cfg.inferenceAddr });
      } else if (status !== 'SERVING' && serving) {
        serving = false;
        running.notReady();
        log.warn('inference sidecar not SERVING: not ready', { inference_addr: cfg.inferenceAddr, status });
      } else if (status !== 'SERVING' && status !== lastStatus) {
        log.info('waiting for the inference sidecar', { inference_addr: cfg.inferenceAddr, status });
      }
      lastStatus = status;
      wait = serving ? 1_000 : Math.min(1_000, wait * 2);
      await sleep(wait, closing.signal);
    }
  })();

  return {
    port: running.port,
    address: running.address,
    ready,
    stats,
    config: cfg,
    close: () => running.shutdown('close'),
  };
}
