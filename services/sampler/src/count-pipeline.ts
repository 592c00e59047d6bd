// The counting pipeline: produce a batch (normals -> resolve -> transform) on this thread while
// up to `depth` Classify calls are in flight on the sidecar, so the sidecar always has the next
// batch queued and is never idle waiting for us.
//
// Buffers: at most depth + 1 of them, made on first use. `depth` belong to the calls in flight and one holds the batch
// prepared ahead. A buffer goes back to the free list only when its call has settled; grpc-js
// frames (copies) a message asynchronously, so "the call returned" is the first point at which
// it is certainly no longer read.
//
// Cancellation: `checkpoint()` runs at every batch boundary (before producing a batch and
// before sending one) and throws once the caller has gone (CANCELLED) or its deadline passed
// (DEADLINE_EXCEEDED). After a throw no further call is started; the calls in flight are
// cancelled (their results would be discarded anyway).
//
// Segments: [start, end) may be a virtual index space made of several ranges laid end to end
// (CountSamples' more_ranges); a batch may straddle them, and each label is counted in the
// segment of its own index, so one Classify call serves the end of one range and the start of the next.
//
// No gRPC here: `send` is injected, so the schedule is testable on its own.

/** A call in flight: its labels, and a way to abandon it. */
export interface SentBatch {
  labels: Promise<ArrayLike<number>>;
  cancel(): void;
}

export interface PipelineBatch<B> {
  buffer: B;
  /** First sample index of the batch. */
  start: number;
  count: number;
  /** 0-based batch number within the run. */
  index: number;
}

export interface PipelineOptions<B> {
  /** Sample indices [start, end). */
  start: number;
  end: number;
  /**
   * Cumulative ends of the segments in [start, end), increasing, the last one `end`: segment k
   * is [segments[k - 1] (start for k = 0), segments[k]). Default: one segment, [start, end).
   */
  segments?: readonly number[];
  batchSize: number;
  /** Most calls in flight at once (>= 1). */
  depth: number;
  /**
   * Makes a buffer; called lazily, at most depth + 1 times (a short range needs fewer: a
   * one-batch call allocates one).
   */
  newBuffer: () => B;
  /** Classes: labels must lie in [0, classes). */
  classes: number;
  /**
   * Writes the batch's images into `batch.buffer`. CPU work; it may yield between slices of
   * the batch (a promise) so that I/O and health checks keep flowing while it runs.
   */
  produce(batch: PipelineBatch<B>): void | Promise<void>;
  /** Starts the classification of a produced batch. */
  send(batch: PipelineBatch<B>): SentBatch;
  /** Throws when the run must stop (caller cancelled, deadline passed). */
  checkpoint(): void;
  /**
   * Aborting it cancels the calls in flight at once (not only at the next boundary); the run
   * then rejects with `signal.reason`.
   */
  signal?: AbortSignal;
  /**
   * Shared bound on samples in flight (across concurrent runs): a batch's count of permits is
   * taken before it is sent and returned when its call settles.
   */
  permits?: { acquire(signal?: AbortSignal, weight?: number): Promise<void>; release(weight?: number): void };
  /** Lets I/O run between batches (default: one setImmediate turn). */
  yieldToIo?: () => Promise<void>;
}

export interface PipelineResult {
  /** Counts per class over [start, end). */
  counts: number[];
  /** Counts per class of each segment, in order (one entry, equal to `counts`, without segments). */
  segmentCounts: number[][];
  batches: number;
  samples: number;
}

/** An impossible label from the sidecar: a server bug, INTERNAL. */
export class LabelRangeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LabelRangeError';
  }
}

/** Resolves on a later turn of the event loop, after pending I/O (health checks, HTTP/2 writes). */
export const nextTurn = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));

export async function runCountPipeline<B>(options: PipelineOptions<B>): Promise<PipelineResult> {
  const { start, end, batchSize, depth, classes, produce, send, checkpoint, permits } = options;
  const yieldToIo = options.yieldToIo ?? nextTurn;
  if (!(depth >= 1)) throw new RangeError(`depth must be >= 1, got ${depth}`);
  if (!(batchSize >= 1)) throw new RangeError(`batchSize must be >= 1, got ${batchSize}`);
  const ends = options.segments ?? [end];
  if (ends.length < 1 || ends[ends.length - 1] !== end || ends.some((e, k) => !(e > (k === 0 ? start : ends[k - 1]!)))) {
    throw new RangeError(`segments must increase from past start ${start} to end ${end}, got [${ends.slice(0, 8).join(', ')}]`);
  }

  const counts = new Array<number>(classes).fill(0);
  const segmentCounts = ends.map(() => new Array<number>(classes).fill(0));
  const free: B[] = [];
  let allocated = 0;
  const inFlight: Array<{ batch: PipelineBatch<B>; sent: SentBatch }> = [];
  let ready: PipelineBatch<B> | undefined;
  let next = start;
  let batches = 0;
  let samples = 0;
  const cancelInFlight = (): void => {
    for (const { sent } of inFlight.splice(0)) sent.cancel();
  };
  options.signal?.addEventListener('abort', cancelInFlight, { once: true });
  // the first failure of any call in flight ends the run at once, not when its turn comes
  let failWith: (err: unknown) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => (failWith = reject));
  failure.catch(() => undefined);

  try {
    for (;;) {
      // prepare the next batch while the sidecar works on the ones in flight
      if (ready === undefined && next < end && (free.length > 0 || allocated < depth + 1)) {
        checkpoint();
        const count = Math.min(batchSize, end - next);
        let buffer = free.pop();
        if (buffer === undefined) {
          buffer = options.newBuffer();
          allocated++;
        }
        const batch: PipelineBatch<B> = { buffer, start: next, count, index: batches };
        ready = batch;
        await produce(batch);
        next += count;
        batches++;
      }
      if (ready !== undefined && inFlight.length < depth) {
        checkpoint();
        let sent: SentBatch;
        if (permits) {
          const weight = ready.count;
          await permits.acquire(options.signal, weight);
          try {
            checkpoint();
            sent = send(ready);
          } catch (err) {
            permits.release(weight);
            throw err;
          }
          sent.labels.then(
            () => permits.release(weight),
            () => permits.release(weight),
          );
        } else {
          sent = send(ready);
        }
        sent.labels.catch(failWith);
        inFlight.push({ batch: ready, sent });
        ready = undefined;
        // let grpc-js frame and start writing the message before the next transform takes the thread
        await yieldToIo();
        continue;
      }
      const head = inFlight[0];
      if (head === undefined) break;
      // stays in inFlight while awaited, so an abort cancels it too
      const labels = await Promise.race([head.sent.labels, failure]);
      inFlight.shift();
      if (labels.length !== head.batch.count) {
        throw new LabelRangeError(`sidecar returned ${labels.length} labels for a batch of ${head.batch.count}`);
      }
      // the segment of the batch's first index, then onward as the batch crosses boundaries
      let segment = 0;
      while (ends[segment]! <= head.batch.start) segment++;
      for (let i = 0; i < labels.length; i++) {
        const label = labels[i];
        if (!(label >= 0 && label < classes) || !Number.isInteger(label)) {
          throw new LabelRangeError(`sidecar returned label ${label}, outside [0, ${classes})`);
        }
        while (head.batch.start + i >= ends[segment]!) segment++;
        counts[label]++;
        segmentCounts[segment]![label]++;
      }
      samples += labels.length;
      free.push(head.batch.buffer);
    }
  } catch (err) {
    cancelInFlight();
    // a call that failed because we cancelled it says CANCELLED; the caller's reason is the truth
    if (options.signal?.aborted) throw options.signal.reason;
    throw err;
  } finally {
    options.signal?.removeEventListener('abort', cancelInFlight);
  }
  return { counts, segmentCounts, batches, samples };
}
