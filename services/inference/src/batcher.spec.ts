import { applyTransformBatch, TRANSFORMS } from '@glcert/transforms';
import { BatcherClosedError, type BatchInfo, type BatchOutput, type BatchPart, CancelledError, DynamicBatcher, QueueFullError, type TransformedImages } from './batcher';

// A fake model over 2-element "images": logits are (x0, x1, x0 + x1); the label is the argmax.
const ELEMENTS = 2;
const CLASSES = 3;

/** The images of a batch: as given, or built from its parts as a worker does. */
function materialize(input: Float32Array | readonly BatchPart[]): Float32Array {
  if (input instanceof Float32Array) return input;
  const chunks = input.map((part) => {
    if ('pixels' in part) return part.pixels;
    const { transformed, start, count } = part;
    const d = TRANSFORMS[transformed.key].params.length;
    const out = new Float32Array(count * ELEMENTS);
    applyTransformBatch(transformed.key, transformed.image, { channels: 1, height: 1, width: ELEMENTS }, transformed.params.subarray(start * d, (start + count) * d), count, out);
    return out;
  });
  const all = new Float32Array(chunks.reduce((a, c) => a + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}

function forward(batch: Float32Array | readonly BatchPart[]): BatchOutput {
  const input = materialize(batch);
  const images = input.length / ELEMENTS;
  const logits = new Float32Array(images * CLASSES);
  const labels = new Int32Array(images);
  for (let i = 0; i < images; i++) {
    const a = input[i * ELEMENTS];
    const b = input[i * ELEMENTS + 1];
    logits.set([a, b, a + b], i * CLASSES);
    labels[i] = a + b > Math.max(a, b) ? 2 : a >= b ? 0 : 1;
  }
  return { logits, labels, classes: CLASSES };
}

/** A runner whose batches complete only when the test releases them. */
function manualRunner() {
  const calls: Array<{ input: Float32Array; info: BatchInfo; release: () => void; fail: (e: Error) => void }> = [];
  const run = (input: Float32Array | readonly BatchPart[], info: BatchInfo) =>
    new Promise<BatchOutput>((resolve, reject) => {
      const copy = materialize(input).slice();
      calls.push({ input: copy, info, release: () => resolve(forward(copy)), fail: reject });
    });
  return { calls, run };
}

/** n images whose values encode (request id, image index), so routing errors are visible. */
function images(id: number, n: number): Float32Array {
  const data = new Float32Array(n * ELEMENTS);
  for (let i = 0; i < n; i++) data.set([id * 1000 + i, -(id * 1000 + i)], i * ELEMENTS);
  return data;
}

const tick = () => new Promise((r) => setImmediate(r));

describe('DynamicBatcher', () => {
  it('merges concurrent requests into one batch and routes each result to its caller', async () => {
    const { calls, run } = manualRunner();
    let clock = 0; // the test decides when the delay has passed, however slow the machine
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 64, maxQueueDelayMs: 5, maxQueueSize: 1000, maxInFlight: 1, run, now: () => clock });
    const sizes = [3, 1, 4, 2];
    const pending = sizes.map((n, id) => batcher.submit(images(id + 1, n), n));
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toHaveLength(0); // the delay has not passed on the batcher's clock
    clock = 5;
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toHaveLength(1);
    expect(calls[0].info).toMatchObject({ images: 10, requests: 4 });
    calls[0].release();
    const results = await Promise.all(pending);
    results.forEach((result, r) => {
      expect(result.labels).toHaveLength(sizes[r]);
      for (let i = 0; i < sizes[r]; i++) {
        const v = (r + 1) * 1000 + i;
        expect(Array.from(result.logits.subarray(i * CLASSES, (i + 1) * CLASSES))).toEqual([v, -v, 0]);
      }
    });
    expect(batcher.stats).toMatchObject({ batches: 1, images: 10, requests: 4 });
  });

  it('dispatches a full batch at once, without waiting for the delay', async () => {
    const { calls, run } = manualRunner();
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 4, maxQueueDelayMs: 60_000, maxQueueSize: 100, maxInFlight: 1, run });
    const p = batcher.submit(images(1, 4), 4);
    expect(calls).toHaveLength(1);
    calls[0].release();
    await expect(p).resolves.toMatchObject({ classes: CLASSES });
  });

  it('splits a request larger than the batch size and reassembles it in order', async () => {
    const { calls, run } = manualRunner();
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 4, maxQueueDelayMs: 0, maxQueueSize: 100, maxInFlight: 1, run });
    const big = batcher.submit(images(7, 10), 10);
    const small = batcher.submit(images(8, 3), 3);
    const batchSizes: number[] = [];
    while (batchSizes.reduce((a, b) => a + b, 0) < 13) {
      await tick();
      const call = calls[batchSizes.length];
      if (call) {
        batchSizes.push(call.info.images);
        call.release();
      }
    }
    // 10 + 3 images over batches of at most 4; the third batch mixes both requests.
    expect(batchSizes).toEqual([4, 4, 4, 1]);
    expect(calls[2].info.requests).toBe(2);
    const [a, b] = await Promise.all([big, small]);
    expect(Array.from(a.logits.filter((_, i) => i % CLASSES === 0))).toEqual(Array.from({ length: 10 }, (_, i) => 7000 + i));
    expect(Array.from(b.logits.filter((_, i) => i % CLASSES === 0))).toEqual([8000, 8001, 8002]);
  });

  it('accumulates requests while a batch runs, so the next batch is fuller', async () => {
    const { calls, run } = manualRunner();
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 100, maxQueueDelayMs: 0, maxQueueSize: 1000, maxInFlight: 1, run });
    const first = batcher.submit(images(1, 1), 1);
    await new Promise((r) => setTimeout(r, 5));
    expect(calls).toHaveLength(1);
    const rest = [2, 3, 4, 5].map((id) => batcher.submit(images(id, 2), 2));
    await new Promise((r) => setTimeout(r, 5));
    expect(calls).toHaveLength(1);
    calls[0].release();
    await first;
    await tick();
    expect(calls).toHaveLength(2);
    expect(calls[1].info).toMatchObject({ images: 8, requests: 4 });
    calls[1].release();
    await Promise.all(rest);
  });

  it('refuses at once when the queue is full, then recovers', async () => {
    const { calls, run } = manualRunner();
    const batcher = new DynamicBatcher({ model: 'mnist', imageElements: ELEMENTS, maxBatchSize: 4, maxQueueDelayMs: 0, maxQueueSize: 6, maxInFlight: 1, run });
    const running = batcher.submit(images(1, 4), 4); // dispatched: leaves the queue
    const queued = batcher.submit(images(2, 5), 5); // waits: the only slot is busy
    expect(batcher.queued).toBe(5);
    await expect(batcher.submit(images(3, 2), 2)).rejects.toThrow(QueueFullError);
    await expect(batcher.submit(images(3, 2), 2)).rejects.toThrow(/queue full.*mnist|mnist.*queue full/);
    await expect(batcher.submit(images(4, 7), 7)).rejects.toThrow(/exceeds the queue capacity/);
    expect(batcher.stats.rejected).toBe(3);
    calls[0].release();
    await running;
    await tick();
    calls[1].release();
    await tick();
    calls[2].release();
    await queued;
    const after = batcher.submit(images(5, 2), 2);
    await tick();
    calls[3].release();
    await expect(after).resolves.toMatchObject({ classes: CLASSES });
  });

  it('drops a cancelled request from the queue before it runs', async () => {
    const { calls, run } = manualRunner();
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 4, maxQueueDelayMs: 0, maxQueueSize: 100, maxInFlight: 1, run });
    const first = batcher.submit(images(1, 4), 4);
    const controller = new AbortController();
    const cancelled = batcher.submit(images(2, 8), 8, { signal: controller.signal });
    const kept = batcher.submit(images(3, 1), 1);
    controller.abort();
    await expect(cancelled).rejects.toThrow(CancelledError);
    expect(batcher.queued).toBe(1);
    calls[0].release();
    await first;
    await tick();
    expect(calls).toHaveLength(2);
    expect(calls[1].info.images).toBe(1);
    calls[1].release();
    await kept;
    expect(batcher.stats).toMatchObject({ batches: 2, images: 5, cancelled: 1 });
  });

  it('stops a split request at the next batch boundary when cancelled mid-way', async () => {
    const { calls, run } = manualRunner();
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 2, maxQueueDelayMs: 0, maxQueueSize: 100, maxInFlight: 1, run });
    const controller = new AbortController();
    const p = batcher.submit(images(1, 10), 10, { signal: controller.signal });
    expect(calls).toHaveLength(1);
    controller.abort();
    await expect(p).rejects.toThrow(CancelledError);
    calls[0].release();
    await tick();
    expect(calls).toHaveLength(1);
    expect(batcher.queued).toBe(0);
  });

  it('rejects every request of a failed batch and keeps serving', async () => {
    const { calls, run } = manualRunner();
    let clock = 0;
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 8, maxQueueDelayMs: 1, maxQueueSize: 100, maxInFlight: 1, run, now: () => clock });
    const a = batcher.submit(images(1, 2), 2);
    const b = batcher.submit(images(2, 2), 2);
    clock = 1;
    await new Promise((r) => setTimeout(r, 10));
    expect(calls[0].info.requests).toBe(2);
    calls[0].fail(new Error('boom'));
    await expect(a).rejects.toThrow('boom');
    await expect(b).rejects.toThrow('boom');
    const c = batcher.submit(images(3, 1), 1);
    clock = 2;
    await new Promise((r) => setTimeout(r, 10));
    calls[1].release();
    await expect(c).resolves.toBeDefined();
    expect(batcher.stats.failedBatches).toBe(1);
  });

  it('runs up to maxInFlight batches at once', async () => {
    const { calls, run } = manualRunner();
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 2, maxQueueDelayMs: 0, maxQueueSize: 100, maxInFlight: 2, run });
    const all = [1, 2, 3].map((id) => batcher.submit(images(id, 2), 2));
    expect(calls).toHaveLength(2);
    expect(batcher.running).toBe(2);
    calls.forEach((c) => c.release());
    await tick();
    calls[2].release();
    await Promise.all(all);
  });

  it('hands the runner a request buffer without copying when one request fills the batch', async () => {
    const seen: Array<Float32Array | readonly BatchPart[]> = [];
    const batcher = new DynamicBatcher({
      model: 'm', imageElements: ELEMENTS, maxBatchSize: 4, maxQueueDelayMs: 0, maxQueueSize: 100, maxInFlight: 1,
      run: async (input) => { seen.push(input); return forward(input); },
    });
    const data = images(1, 4);
    await batcher.submit(data, 4);
    expect(seen[0]).toBe(data);
  });

  it('hands over a view of a transferable request alone, and copies it when merged with another', async () => {
    const seen: Float32Array[] = [];
    const batcher = new DynamicBatcher({
      model: 'm', imageElements: ELEMENTS, maxBatchSize: 4, maxQueueDelayMs: 0, maxQueueSize: 100, maxInFlight: 1,
      run: async (input) => { seen.push(input as Float32Array); return forward(input); },
    });
    const inMessage = (seed: number, n: number) => {
      const view = new Float32Array(new ArrayBuffer(16 + n * ELEMENTS * 4), 16, n * ELEMENTS);
      view.set(images(seed, n));
      return view;
    };
    const alone = inMessage(1, 4);
    await batcher.submit(alone, 4, { transfer: true });
    expect(seen[0]).toBe(alone);
    const notHanded = inMessage(2, 4);
    await batcher.submit(notHanded, 4);
    expect(seen[1]).not.toBe(notHanded);
    expect(seen[1].byteOffset).toBe(0);
    expect(Array.from(seen[1])).toEqual(Array.from(notHanded));
  });

  it('splits and merges transformed requests like images, and every caller gets the labels of its own images', async () => {
    const { calls, run } = manualRunner();
    let clock = 0;
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 4, maxQueueDelayMs: 5, maxQueueSize: 100, maxInFlight: 1, run, now: () => clock });
    // brightness offsets that move the argmax: image (1, -2) + b is class 0 or 2 depending on b
    const transformed: TransformedImages = { key: 'b', image: Float32Array.from([1, -2]), params: Float64Array.from([0, 5, -1.5, 2.5, 10, 0.25]) };
    const expected = forward(materialize([{ transformed, start: 0, count: 6 }]));
    const pixels = images(3, 3);
    const first = batcher.submit(images(1, 1), 1);
    const t = batcher.submit(transformed, 6);
    const last = batcher.submit(pixels, 3);
    // 1 + 6 + 3 images in batches of 4: [pixels 1 | rows 0-2], [rows 3-5 | pixels 0], [pixels 1-2]
    expect(calls).toHaveLength(1);
    calls[0].release();
    await tick();
    calls[1].release();
    await tick();
    clock = 10;
    await tick();
    await new Promise((r) => setTimeout(r, 10));
    calls[2]?.release();
    const [a, b, c] = await Promise.all([first, t, last]);
    expect(Array.from(b.labels)).toEqual(Array.from(expected.labels));
    expect(new Set(b.labels).size).toBe(2);
    expect(Array.from(b.logits)).toEqual(Array.from(expected.logits));
    expect(Array.from(a.labels)).toEqual(Array.from(forward(images(1, 1)).labels));
    expect(Array.from(c.labels)).toEqual(Array.from(forward(pixels).labels));
    expect(calls.map((x) => x.info.images)).toEqual([4, 4, 2]);
  });

  it('refuses transformed images whose image or parameters do not make the count', async () => {
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 4, maxQueueDelayMs: 0, maxQueueSize: 100, maxInFlight: 1, run: async (input) => forward(input) });
    await expect(batcher.submit({ key: 'b', image: new Float32Array(3), params: new Float64Array(2) }, 2)).rejects.toThrow(RangeError);
    await expect(batcher.submit({ key: 'cb', image: new Float32Array(2), params: new Float64Array(3) }, 2)).rejects.toThrow(RangeError);
    await expect(batcher.submit({ key: 'cb', image: new Float32Array(2), params: Float64Array.from([1, 0, 2, 0]) }, 2)).resolves.toMatchObject({ classes: CLASSES });
  });

  it('reports the queue delay of the oldest image', async () => {
    let clock = 0;
    const { calls, run } = manualRunner();
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 3, maxQueueDelayMs: 50, maxQueueSize: 100, maxInFlight: 1, run, now: () => clock });
    const a = batcher.submit(images(1, 1), 1, { context: 'a' });
    clock = 7;
    const b = batcher.submit(images(2, 2), 2, { context: 'b' });
    expect(calls[0].info).toMatchObject({ images: 3, queueDelayMs: 7, contexts: ['a', 'b'] });
    calls[0].release();
    await Promise.all([a, b]);
  });

  it('validates its input and rejects after close', async () => {
    const { calls, run } = manualRunner();
    expect(() => new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 0, maxQueueDelayMs: 0, maxQueueSize: 1, maxInFlight: 1, run })).toThrow(RangeError);
    const batcher = new DynamicBatcher({ model: 'm', imageElements: ELEMENTS, maxBatchSize: 2, maxQueueDelayMs: 0, maxQueueSize: 100, maxInFlight: 1, run });
    await expect(batcher.submit(new Float32Array(3), 2)).rejects.toThrow(RangeError);
    const running = batcher.submit(images(1, 2), 2);
    const queued = batcher.submit(images(2, 2), 2);
    const closing = batcher.close();
    await expect(queued).rejects.toThrow(BatcherClosedError);
    await expect(batcher.submit(images(3, 1), 1)).rejects.toThrow(BatcherClosedError);
    calls[0].release();
    await running;
    await closing;
  });
});
