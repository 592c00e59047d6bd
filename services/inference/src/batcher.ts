// Server-side dynamic batching for one model (the Triton dynamic batcher's rules, in small).
//
// Requests carry n >= 1 images and wait in a FIFO queue. A batch is dispatched when
//   - at least `maxBatchSize` images are queued, or
//   - the oldest queued request has waited `maxQueueDelayMs`,
// and an execution slot is free (`maxInFlight` batches at once, one per worker). A batch takes
// up to `maxBatchSize` images from the head of the queue: a request larger than that is split
// over consecutive batches, and one batch may hold the tail of one request and the heads of the
// next ones. Results are scattered back so each request receives its own labels and logits in
// its own image order. While a batch runs, new requests accumulate, so busy periods form full
// batches by themselves.
//
// The queue is bounded in images (`maxQueueSize`): a request that does not fit is refused at
// once with QueueFullError (RESOURCE_EXHAUSTED), never buffered. An aborted request leaves the
// queue immediately; its images that were not yet dispatched never run.
//
// A request may also be N transforms of one image (ClassifyRequest.transformed): it is queued,
// split and merged like N images, but a batch holding any of it reaches the runner as parts
// (images as they are, and row ranges of transforms) that the worker turns into one input.
//
// No ONNX or telemetry here: the runner is injected, which keeps this unit-testable. An aborted
// request rejects with the runtime's CancelledError (CANCELLED on the wire), the one every
// service uses.
import { CancelledError } from '@glcert/runtime';
import { TRANSFORMS, type TransformKey } from '@glcert/transforms';

export { CancelledError };

/** The result of running one batch of `images` images. */
export interface BatchOutput {
  /** Row-major logits, images x classes. */
  logits: Float32Array;
  /** Argmax per image. */
  labels: Int32Array;
  classes: number;
}

/** What the runner learns about a batch (for tracing and statistics). */
export interface BatchInfo {
  /** Images in the batch. */
  images: number;
  /** Requests (or parts of requests) merged into the batch. */
  requests: number;
  /** How long the oldest image of the batch waited in the queue, in milliseconds. */
  queueDelayMs: number;
  /** The `context` values of the merged requests, in batch order (e.g. trace contexts). */
  contexts: unknown[];
}

/** N transforms of one image: image i is family `key` at row i of `params` (N x d). */
export interface TransformedImages {
  key: TransformKey;
  /** One image, C x H x W. */
  image: Float32Array;
  /** Resolved parameters, row-major N x d. */
  params: Float64Array;
}

/**
 * One piece of a batch that holds transformed images: `pixels` (a view into a request's
 * images; not owned, copy before keeping it) or rows [start, start + count) of `transformed`.
 */
export type BatchPart = { pixels: Float32Array } | { transformed: TransformedImages; start: number; count: number };

/**
 * Runs one batch of `info.images` images. As a Float32Array (every image sent as pixels), `input`
 * holds them back to back and is owned by the runner: it may transfer (detach) its buffer. It is
 * over an unshared ArrayBuffer that holds nothing else the runner must keep: the whole buffer,
 * or (a request submitted with `transfer`) the request's own message around it. As parts (the
 * batch holds transformed images), the images are the parts' in order.
 */
export type BatchRunner = (input: Float32Array | readonly BatchPart[], info: BatchInfo) => Promise<BatchOutput>;

export interface BatcherOptions {
  /** Model name, for messages. */
  model: string;
  /** Float32 elements per image (C * H * W). */
  imageElements: number;
  /** Most images per executed batch (>= 1). */
  maxBatchSize: number;
  /** How long the oldest queued request may wait for a fuller batch (>= 0). */
  maxQueueDelayMs: number;
  /** Most images waiting in the queue (>= 1). */
  maxQueueSize: number;
  /** Most batches running at once (>= 1). */
  maxInFlight: number;
  run: BatchRunner;
  /** Clock in milliseconds (tests); defaults to performance.now. */
  now?: () => number;
}

export interface SubmitOptions {
  /** Aborting drops the request from the queue and rejects it with CancelledError. */
  signal?: AbortSignal;
  /** Opaque value handed to the runner in BatchInfo.contexts (e.g. the caller's trace context). */
  context?: unknown;
  /**
   * The caller hands over `data`'s whole ArrayBuffer (a received message nobody else reads): a
   * batch made of this request alone runs on it without a copy, and the runner may detach it.
   */
  transfer?: boolean;
}

export interface ClassifyResult {
  labels: Int32Array;
  /** Row-major images x classes. */
  logits: Float32Array;
  classes: number;
}

/** The queue cannot take the request now (RESOURCE_EXHAUSTED): retry later or send less. */
export class QueueFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueFullError';
  }
}

/** The batcher was closed (shutdown); the request did not run. */
export class BatcherClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BatcherClosedError';
  }
}

/** Counters of one batcher, cumulative since it started. */
export interface BatcherStats {
  /** Batches handed to the runner (successful or not). */
  batches: number;
  /** Images handed to the runner. */
  images: number;
  /** Requests accepted into the queue. */
  requests: number;
  /** Requests refused because the queue was full. */
  rejected: number;
  /** Requests aborted by their callers before completing. */
  cancelled: number;
  /** Batches whose runner failed. */
  failedBatches: number;
}

interface Pending {
  data: Float32Array | TransformedImages;
  images: number;
  /** Index of the first image not yet dispatched. */
  next: number;
  /** Images whose results arrived. */
  done: number;
  enqueuedAt: number;
  context: unknown;
  /** SubmitOptions.transfer */
  transfer: boolean;
  result?: ClassifyResult;
  settled: boolean;
  resolve: (r: ClassifyResult) => void;
  reject: (e: Error) => void;
  detach: () => void;
}

interface Segment {
  request: Pending;
  /** First image of the request in this batch. */
  start: number;
  count: number;
}

export class DynamicBatcher {
  readonly stats: BatcherStats = { batches: 0, images: 0, requests: 0, rejected: 0, cancelled: 0, failedBatches: 0 };
  private readonly queue: Pending[] = [];
  private queuedImages = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerDue = Infinity;
  private closed: string | undefined;
  private readonly now: () => number;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly options: BatcherOptions) {
    const { imageElements, maxBatchSize, maxQueueDelayMs, maxQueueSize, maxInFlight } = options;
    for (const [name, value, min] of [
      ['imageElements', imageElements, 1],
      ['maxBatchSize', maxBatchSize, 1],
      ['maxQueueSize', maxQueueSize, 1],
      ['maxInFlight', maxInFlight, 1],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
    }
    if (!(maxQueueDelayMs >= 0) || !Number.isFinite(maxQueueDelayMs)) {
      throw new RangeError(`maxQueueDelayMs must be a finite number >= 0, got ${maxQueueDelayMs}`);
    }
    this.now = options.now ?? (() => performance.now());
  }

  /** Images waiting in the queue (not yet dispatched). */
  get queued(): number {
    return this.queuedImages;
  }

  /** Batches running now. */
  get running(): number {
    return this.inFlight;
  }

  /**
   * Queues `images` images (`data` holds them back to back) and resolves with their labels
   * and logits. Rejects at once with QueueFullError when the queue cannot take them, with
   * CancelledError when `signal` aborts first, with BatcherClosedError after close(), and with
   * the runner's error if a batch holding any of its images fails. `data` must not be modified
   * until the promise settles.
   */
  submit(data: Float32Array | TransformedImages, images: number, options: SubmitOptions = {}): Promise<ClassifyResult> {
    const { model, imageElements, maxQueueSize } = this.options;
    if (!Number.isSafeInteger(images) || images < 1) return Promise.reject(new RangeError(`images must be an integer >= 1, got ${images}`));
    if (data instanceof Float32Array) {
      if (data.length !== images * imageElements) {
        return Promise.reject(new RangeError(`data has ${data.length} values; ${images} images need ${images * imageElements}`));
      }
    } else if (data.image.length !== imageElements || data.params.length !== images * TRANSFORMS[data.key].params.length) {
      return Promise.reject(new RangeError(`transformed images: ${data.image.length} values per image and ${data.params.length} parameters do not make ${images} images`));
    }
    if (this.closed !== undefined) return Promise.reject(new BatcherClosedError(this.closed));
    const { signal } = options;
    if (signal?.aborted) {
      this.stats.cancelled++;
      return Promise.reject(new CancelledError('request cancelled'));
    }
    if (images > maxQueueSize) {
      this.stats.rejected++;
      return Promise.reject(
        new QueueFullError(`model '${model}': a request of ${images} images exceeds the queue capacity of ${maxQueueSize} images; send smaller requests`),
      );
    }
    if (this.queuedImages + images > maxQueueSize) {
      this.stats.rejected++;
      return Promise.reject(
        new QueueFullError(
          `model '${model}': inference queue full (${this.queuedImages} of ${maxQueueSize} images queued, request has ${images}); retry later`,
        ),
      );
    }
    return new Promise<ClassifyResult>((resolve, reject) => {
      const request: Pending = {
        data,
        images,
        next: 0,
        done: 0,
        enqueuedAt: this.now(),
        context: options.context,
        transfer: options.transfer === true && data instanceof Float32Array && !isShared(data),
        settled: false,
        resolve,
        reject,
        detach: () => undefined,
      };
      if (signal) {
        const onAbort = () => this.cancel(request);
        signal.addEventListener('abort', onAbort, { once: true });
        request.detach = () => signal.removeEventListener('abort', onAbort);
      }
      this.queue.push(request);
      this.queuedImages += images;
      this.stats.requests++;
      this.pump();
    });
  }

  /**
   * Stops accepting requests and rejects everything still queued with BatcherClosedError;
   * batches already running complete. Resolves when none is running.
   */
  async close(reason = `model '${this.options.model}': server shutting down`): Promise<void> {
    if (this.closed === undefined) {
      this.closed = reason;
      this.clearTimer();
      for (const request of this.queue.splice(0)) this.settle(request, new BatcherClosedError(reason));
      this.queuedImages = 0;
    }
    if (this.inFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private cancel(request: Pending): void {
    if (request.settled) return;
    this.stats.cancelled++;
    this.dropFromQueue(request);
    this.settle(request, new CancelledError('request cancelled'));
    this.pump();
  }

  private dropFromQueue(request: Pending): void {
    const index = this.queue.indexOf(request);
    if (index >= 0) {
      this.queue.splice(index, 1);
      this.queuedImages -= request.images - request.next;
    }
  }

  private settle(request: Pending, outcome: Error | ClassifyResult): void {
    if (request.settled) return;
    request.settled = true;
    request.detach();
    if (outcome instanceof Error) request.reject(outcome);
    else request.resolve(outcome);
  }

  /** Dispatches every batch that is due and a slot allows; arms the delay timer otherwise. */
  private pump(): void {
    const { maxBatchSize, maxQueueDelayMs, maxInFlight } = this.options;
    while (this.closed === undefined && this.queuedImages > 0 && this.inFlight < maxInFlight) {
      const due = this.queue[0].enqueuedAt + maxQueueDelayMs;
      if (this.queuedImages >= maxBatchSize || this.now() >= due) {
        this.dispatch();
      } else {
        this.armTimer(due);
        return;
      }
    }
    if (this.queuedImages === 0) this.clearTimer();
  }

  private armTimer(due: number): void {
    if (this.timer !== undefined && this.timerDue <= due) return;
    this.clearTimer();
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerDue = Infinity;
      this.pump();
    }, Math.max(0, Math.ceil(due - this.now())));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDue = Infinity;
  }

  private dispatch(): void {
    const { imageElements, maxBatchSize } = this.options;
    const segments: Segment[] = [];
    let images = 0;
    let oldest = Infinity;
    while (images < maxBatchSize && this.queue.length > 0) {
      const request = this.queue[0];
      const count = Math.min(request.images - request.next, maxBatchSize - images);
      segments.push({ request, start: request.next, count });
      oldest = Math.min(oldest, request.enqueuedAt);
      request.next += count;
      images += count;
      if (request.next === request.images) this.queue.shift();
    }
    this.queuedImages -= images;

    const input = this.assemble(segments, images, imageElements);
    const info: BatchInfo = {
      images,
      requests: segments.length,
      queueDelayMs: Math.max(0, this.now() - oldest),
      contexts: segments.map((s) => s.request.context),
    };
    this.inFlight++;
    this.stats.batches++;
    this.stats.images += images;
    let run: Promise<BatchOutput>;
    try {
      run = this.options.run(input, info);
    } catch (err) {
      run = Promise.reject(err);
    }
    run
      .then((output) => this.scatter(segments, images, output))
      .catch((err: unknown) => {
        this.stats.failedBatches++;
        const error = err instanceof Error ? err : new Error(String(err));
        for (const { request } of segments) {
          this.dropFromQueue(request);
          this.settle(request, error);
        }
      })
      .finally(() => {
        this.inFlight--;
        if (this.inFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
        this.pump();
      });
  }

  /**
   * The batch input: parts when it holds transformed images; else a whole request's own buffer
   * (or its transferable view) when possible (no copy), else a fresh copy.
   */
  private assemble(segments: Segment[], images: number, imageElements: number): Float32Array | BatchPart[] {
    if (segments.some((s) => !(s.request.data instanceof Float32Array))) {
      return segments.map(({ request: { data }, start, count }) =>
        data instanceof Float32Array ? { pixels: data.subarray(start * imageElements, (start + count) * imageElements) } : { transformed: data, start, count },
      );
    }
    if (segments.length === 1) {
      const { request, start, count } = segments[0];
      const data = request.data as Float32Array;
      const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !isShared(data);
      if (start === 0 && count === request.images && (whole || request.transfer)) return data;
    }
    const input = new Float32Array(images * imageElements);
    let offset = 0;
    for (const { request, start, count } of segments) {
      input.set((request.data as Float32Array).subarray(start * imageElements, (start + count) * imageElements), offset);
      offset += count * imageElements;
    }
    return input;
  }

  private scatter(segments: Segment[], images: number, output: BatchOutput): void {
    const { classes, labels, logits } = output;
    if (labels.length !== images || logits.length !== images * classes) {
      throw new Error(`runner returned ${labels.length} labels and ${logits.length} logits for ${images} images of ${classes} classes`);
    }
    let offset = 0;
    for (const { request, start, count } of segments) {
      if (!request.settled) {
        request.result ??= { labels: new Int32Array(request.images), logits: new Float32Array(request.images * classes), classes };
        request.result.labels.set(labels.subarray(offset, offset + count), start);
        request.result.logits.set(logits.subarray(offset * classes, (offset + count) * classes), start * classes);
        request.done += count;
        if (request.done === request.images) this.settle(request, request.result);
      }
      offset += count;
    }
  }
}

function isShared(array: Float32Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && array.buffer instanceof SharedArrayBuffer;
}
