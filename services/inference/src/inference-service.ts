// InferenceService: the model-serving sidecar, wired. Start-up order: bind the server with
// health NOT_SERVING, load and verify the model repository, start the worker pool (sessions
// live in worker threads), run one warm-up batch per model on every worker, then SERVING.
import * as grpc from '@grpc/grpc-js';
import { type Context, context as otelContext, type Link, trace } from '@opentelemetry/api';
import { withSpan } from '@glcert/telemetry';
import {
  DataType,
  type inferenceV1,
  InferenceServiceService,
  type InferenceServiceServer,
} from '@glcert/contracts';
import {
  CancelledError,
  createLogger,
  identifierViolation,
  InvalidArgumentError,
  type Logger,
  modelNotFoundError,
  rejectViolations,
  ResourceExhaustedError,
  type RunningService,
  type ServiceHandle,
  type ServiceOptions,
  startService,
  unaryHandler,
  UnavailableError,
} from '@glcert/runtime';
import {
  BatcherClosedError,
  type BatcherStats,
  type BatchRunner,
  DynamicBatcher,
  QueueFullError,
} from './batcher';
import { INFERENCE_SERVICE_NAME, type InferenceConfig, SERVICE_NAME, withDefaults } from './config';
import { loadModelRepository, type ModelEntry } from './model-repository';
import { decodeClassifyRequest } from './classify-decode';
import { decodeClassifyRequestInputs, SIDECAR_TRANSFORMS } from './validation';
import { WorkerPool, WorkerUnavailableError } from './worker-pool';

const TRACER = '@glcert/inference';

/** The service definition with Classify's images left in the received message (classify-decode.ts). */
const CLASSIFY_IN_PLACE = {
  ...InferenceServiceService,
  classify: { ...InferenceServiceService.classify, requestDeserialize: (value: Buffer) => decodeClassifyRequest(value) },
} as typeof InferenceServiceService;

/** Bytes of a Classify message besides its images (gRPC prefix, model name, shape): at most this for a view to be handed over whole. */
const MESSAGE_SLACK_BYTES = 1024;

/** GetModelMetadata response headers: inference workers running, and onnxruntime intra-op threads of each. */
export const WORKERS_HEADER = 'glcert-inference-workers';
export const INTRA_OP_THREADS_HEADER = 'glcert-intra-op-threads';

export interface InferenceServiceOptions extends ServiceOptions {
  /** Resolve startInferenceService only once SERVING (default true); false: once bound. */
  waitForReady?: boolean;
  /** Test hook: awaited after the models are loaded and before the warm-up runs. */
  beforeWarmup?: () => Promise<void> | void;
  /** See WorkerPoolOptions.checkProviderBinaries (tests). */
  checkProviderBinaries?: boolean;
}

/** Counters for tests and operators; cumulative since start. */
export interface InferenceStats {
  /** Batches handed to a worker by the batchers (warm-up excluded). */
  readonly batchesRun: number;
  /** Images in those batches. */
  readonly imagesRun: number;
  /** Warm-up batches (one per model per worker). */
  readonly warmupBatches: number;
  /** Per-model batcher counters (requests, rejected, cancelled, ...). */
  readonly models: Readonly<Record<string, Readonly<BatcherStats>>>;
}

export interface RunningInferenceService extends ServiceHandle {
  readonly host: string;
  /** Resolves when SERVING (models loaded and warmed); rejects when loading failed. */
  readonly ready: Promise<void>;
  readonly stats: InferenceStats;
  /** Metadata of the loaded models (empty before ready). */
  models(): inferenceV1.ModelMetadata[];
}

interface ServedModel {
  entry: ModelEntry;
  batcher: DynamicBatcher;
  metadata: inferenceV1.ModelMetadata;
}

interface State {
  models: Map<string, ServedModel>;
  pool?: WorkerPool;
  ready: boolean;
  closing: boolean;
  warmupBatches: number;
}

function metadataOf(entry: ModelEntry, provider: string, config: InferenceConfig): inferenceV1.ModelMetadata {
  return {
    name: entry.name,
    version: entry.version,
    sha256: entry.sha256,
    inputName: entry.inputName,
    inputShape: [-1n, BigInt(entry.channels), BigInt(entry.height), BigInt(entry.width)],
    channels: entry.channels,
    valueMin: entry.valueMin,
    valueMax: entry.valueMax,
    classNames: [...entry.classNames],
    preprocessing: entry.preprocessing,
    executionProvider: provider,
    maxBatchSize: config.maxBatchSize,
    transforms: [...SIDECAR_TRANSFORMS],
  };
}

function statsView(state: State): InferenceStats {
  const sum = (key: keyof BatcherStats) => [...state.models.values()].reduce((a, m) => a + m.batcher.stats[key], 0);
  return {
    get batchesRun() {
      return sum('batches');
    },
    get imagesRun() {
      return sum('images');
    },
    get warmupBatches() {
      return state.warmupBatches;
    },
    get models() {
      return Object.fromEntries([...state.models].map(([name, m]) => [name, { ...m.batcher.stats }]));
    },
  };
}

/**
 * A span per executed batch, child of the oldest request's trace and linked to the others'; and,
 * at LOG_LEVEL=debug, one `batch run` line per batch (how a separate process's batches are
 * counted from outside, e.g. that a cancelled call stops the work within one batch).
 */
function tracedRunner(model: string, provider: string, pool: WorkerPool, log: Logger): BatchRunner {
  return (input, info) => {
    const contexts = info.contexts.filter((c): c is Context => c !== undefined);
    const parent = contexts[0] ?? otelContext.active();
    const parentSpan = trace.getSpanContext(parent);
    const links: Link[] = [];
    const seen = new Set<string>(parentSpan ? [parentSpan.spanId] : []);
    for (const c of contexts.slice(1)) {
      const sc = trace.getSpanContext(c);
      if (sc && !seen.has(sc.spanId)) {
        seen.add(sc.spanId);
        links.push({ context: sc });
      }
    }
    const attributes = {
      'glcert.model': model,
      'glcert.batch_size': info.images,
      'glcert.queue_delay_ms': info.queueDelayMs,
      'glcert.batch_requests': info.requests,
      'glcert.execution_provider': provider,
    };
    return withSpan(TRACER, 'inference.batch', { attributes, links, parent, recordException: true }, async (span) => {
      const started = Date.now();
      const output = await pool.run(model, input, info.images);
      span.setAttribute('glcert.compute_ms', output.computeMs);
      if (log.isEnabled('debug')) {
        log.debug('batch run', { model, images: info.images, requests: info.requests, started_ms: started, ended_ms: Date.now() });
      }
      return output;
    });
  };
}

function handlers(state: State, config: InferenceConfig, log: Logger): InferenceServiceServer {
  const served = (name: string, field: string): ServedModel => {
    if (!state.ready) throw new UnavailableError('inference service is not ready: models are loading', { reason: 'NOT_READY' });
    if (name === '') throw new InvalidArgumentError(field, 'is required: the name of a loaded model');
    // a name is short (runtime limits.ts); a long one is refused without being echoed
    rejectViolations([identifierViolation(name, field, 'name')]);
    const model = state.models.get(name);
    if (!model) {
      throw modelNotFoundError(`model '${name}' not found; loaded models: ${[...state.models.keys()].join(', ')}`, name);
    }
    return model;
  };

  return {
    classify: unaryHandler<inferenceV1.ClassifyRequest, inferenceV1.ClassifyResponse>(
      async (request, _call, ctx) => {
        const model = served(request.model, 'model');
        const inputs = decodeClassifyRequestInputs(request, model.entry);
        const { images } = inputs;
        ctx.throwIfDone();
        const data = inputs.kind === 'pixels' ? inputs.data : inputs.transformed;
        // a view into grpc-js' own buffer of this message (Buffer.concat makes a fresh one per
        // message over 4 KiB, and drops it after deserializing) may go to a worker as it is
        const transfer =
          data instanceof Float32Array &&
          data.buffer === request.inputs?.rawContents.buffer &&
          data.byteLength >= 8192 &&
          data.buffer.byteLength - data.byteLength <= MESSAGE_SLACK_BYTES;
        let result;
        try {
          result = await model.batcher.submit(data, images, { signal: ctx.signal, context: otelContext.active(), transfer });
        } catch (err) {
          if (err instanceof QueueFullError) {
            throw new ResourceExhaustedError(err.message, { reason: 'QUEUE_FULL', metadata: { model: request.model } });
          }
          if (err instanceof CancelledError) throw ctx.signal.reason ?? new CancelledError();
          if (err instanceof BatcherClosedError || err instanceof WorkerUnavailableError) {
            throw new UnavailableError(err.message, { reason: 'SHUTTING_DOWN' });
          }
          throw err;
        }
        const { labels, logits, classes } = result;
        return {
          labels: Array.from(labels),
          logits: request.returnLogits
            ? {
                shape: [BigInt(images), BigInt(classes)],
                dataType: DataType.DATA_TYPE_FLOAT32,
                rawContents: Buffer.from(logits.buffer, logits.byteOffset, logits.byteLength),
              }
            : undefined,
          modelVersion: model.entry.version,
          modelSha256: model.entry.sha256,
        };
      },
      { log },
    ),
    getModelMetadata: unaryHandler<inferenceV1.GetModelMetadataRequest, inferenceV1.GetModelMetadataResponse>(
      (request, call) => {
        const { metadata } = served(request.name, 'name');
        // how the sidecar is sized, as response headers (the message has no field for it)
        const headers = new grpc.Metadata();
        headers.set(WORKERS_HEADER, String(state.pool?.size ?? 0));
        headers.set(INTRA_OP_THREADS_HEADER, String(config.intraOpNumThreads));
        call.sendMetadata(headers);
        return { metadata };
      },
      { log },
    ),
    listModels: unaryHandler<inferenceV1.ListModelsRequest, inferenceV1.ListModelsResponse>(
      () => {
        if (!state.ready) throw new UnavailableError('inference service is not ready: models are loading', { reason: 'NOT_READY' });
        return { models: [...state.models.values()].map((m) => m.metadata) };
      },
      { log },
    ),
  };
}

async function loadAndWarm(
  config: InferenceConfig,
  state: State,
  running: RunningService,
  options: InferenceServiceOptions,
  log: Logger,
): Promise<void> {
  const started = performance.now();
  const entries = await loadModelRepository(config.modelsDir);
  if (state.closing) return;
  const pool = await WorkerPool.start({
    workers: config.workers,
    models: entries,
    executionProviders: config.executionProviders,
    intraOpNumThreads: config.intraOpNumThreads,
    workerNice: config.workerNice,
    logger: log,
    checkProviderBinaries: options.checkProviderBinaries,
    onWorkerExit: () => {
      if (state.pool && state.pool.size === 0) {
        state.ready = false;
        running.notReady();
        log.error('no inference worker left: NOT_SERVING');
      }
    },
  });
  state.pool = pool;
  if (state.closing) return;
  for (const entry of entries) {
    const provider = pool.providers.get(entry.name) ?? 'cpu';
    const batcher = new DynamicBatcher({
      model: entry.name,
      imageElements: entry.channels * entry.height * entry.width,
      maxBatchSize: config.maxBatchSize,
      maxQueueDelayMs: config.maxQueueDelayMs,
      maxQueueSize: config.maxQueueSize,
      maxInFlight: config.workers,
      run: tracedRunner(entry.name, provider, pool, log),
    });
    state.models.set(entry.name, { entry, batcher, metadata: metadataOf(entry, provider, config) });
  }
  await options.beforeWarmup?.();
  for (const entry of entries) {
    if (state.closing) return;
    const images = Math.min(config.warmupBatchSize, config.maxBatchSize);
    const value = (entry.valueMin + entry.valueMax) / 2;
    const elements = images * entry.channels * entry.height * entry.width;
    const warmStart = performance.now();
    await pool.runOnEach(entry.name, () => new Float32Array(elements).fill(value), images);
    state.warmupBatches += pool.size;
    log.info('model ready', {
      model: entry.name,
      version: entry.version,
      sha256: entry.sha256,
      execution_provider: pool.providers.get(entry.name),
      warmup_ms: Math.round(performance.now() - warmStart),
    });
  }
  if (state.closing) return;
  state.ready = true;
  running.ready();
  log.info('inference service ready', {
    models: entries.map((e) => e.name),
    workers: pool.size,
    intra_op_threads: config.intraOpNumThreads,
    max_batch_size: config.maxBatchSize,
    max_queue_delay_ms: config.maxQueueDelayMs,
    max_queue_size: config.maxQueueSize,
    startup_ms: Math.round(performance.now() - started),
  });
}

/**
 * Starts the inference service on `config.host:config.port` (port 0: any free port). Resolves
 * once SERVING by default (rejecting, with everything stopped, if a model cannot be loaded);
 * with `waitForReady: false` it resolves once bound, and `ready` tells when SERVING.
 */
export async function startInferenceService(
  partial: Partial<InferenceConfig> = {},
  options: InferenceServiceOptions = {},
): Promise<RunningInferenceService> {
  const config = withDefaults(partial);
  const log = options.logger ?? createLogger(SERVICE_NAME);
  const state: State = { models: new Map(), ready: false, closing: false, warmupBatches: 0 };
  let loading: Promise<void> = Promise.resolve();

  const stopModels = async (): Promise<void> => {
    state.closing = true;
    state.ready = false;
    await loading.catch(() => undefined);
    await Promise.all([...state.models.values()].map((m) => m.batcher.close()));
    await state.pool?.close();
  };

  const running = await startService({
    name: SERVICE_NAME,
    services: [{ definition: CLASSIFY_IN_PLACE, implementation: handlers(state, config, log), healthName: INFERENCE_SERVICE_NAME }],
    config: {
      host: config.host,
      port: config.port,
      maxReceiveMessageBytes: config.maxReceiveMessageBytes,
      maxSendMessageBytes: config.maxSendMessageBytes,
      shutdownGraceMs: config.shutdownGraceMs,
    },
    log,
    signals: options.signals ?? [],
    signalTarget: options.signalTarget,
    exit: options.exit,
    onShutdown: stopModels,
  });

  loading = loadAndWarm(config, state, running, options, log);
  const ready = loading.then(() => {
    if (!state.ready) throw new UnavailableError('inference service closed before it was ready', { reason: 'SHUTTING_DOWN' });
  });
  ready.catch((err: unknown) => {
    if (!state.closing) log.error('inference service failed to start: NOT_SERVING', { err });
  });

  const service: RunningInferenceService = {
    host: running.host,
    port: running.port,
    address: running.address,
    ready,
    stats: statsView(state),
    models: () => [...state.models.values()].filter(() => state.ready).map((m) => m.metadata),
    close: () => running.shutdown('close'),
  };

  if (options.waitForReady ?? true) {
    try {
      await ready;
    } catch (err) {
      await service.close();
      throw err;
    }
  }
  return service;
}
