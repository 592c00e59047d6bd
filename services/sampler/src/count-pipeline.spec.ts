import { runCountPipeline, LabelRangeError, type PipelineBatch, type SentBatch } from './count-pipeline';
import { Permits } from './permits';

interface Buf {
  id: number;
  /** Which batch the buffer holds; checked when the call "serializes" it at the end. */
  holds: number;
}

/** A fake sidecar: every call resolves when the test says so; labels are start index mod classes. */
function fakeSidecar(classes: number) {
  const pending: Array<{ batch: PipelineBatch<Buf>; resolve: (l: number[]) => void; reject: (e: Error) => void; cancelled: boolean }> = [];
  let maxInFlight = 0;
  let inFlight = 0;
  let sent = 0;
  const send = (batch: PipelineBatch<Buf>): SentBatch => {
    sent++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const holds = batch.buffer.holds;
    const entry = { batch, resolve: (_: number[]) => undefined as void, reject: (_: Error) => undefined as void, cancelled: false };
    const labels = new Promise<number[]>((resolve, reject) => {
      entry.resolve = resolve;
      entry.reject = reject;
    }).finally(() => inFlight--);
    pending.push(entry);
    return {
      labels: labels.then((l) => {
        // the buffer must still hold this batch when its call completes (not refilled meanwhile)
        if (batch.buffer.holds !== holds) throw new Error(`buffer ${batch.buffer.id} was refilled while in flight`);
        return l;
      }),
      cancel: () => {
        entry.cancelled = true;
        entry.reject(Object.assign(new Error('cancelled'), { code: 1 }));
      },
    };
  };
  const complete = (entry: (typeof pending)[number]) =>
    entry.resolve(Array.from({ length: entry.batch.count }, (_, i) => (entry.batch.start + i) % classes));
  return {
    send,
    pending,
    complete,
    get sent() {
      return sent;
    },
    get maxInFlight() {
      return maxInFlight;
    },
  };
}

function bufferFactory(): () => Buf {
  let id = 0;
  return () => ({ id: id++, holds: -1 });
}
const tick = () => new Promise<void>((r) => setImmediate(r));

/** Answers calls one at a time: once `full` are pending, or when no new call came in a tick. */
async function drain(side: ReturnType<typeof fakeSidecar>, run: Promise<unknown>, order: 'fifo' | 'lifo' = 'fifo', full = 1) {
  let done = false;
  void run.finally(() => (done = true)).catch(() => undefined);
  let lastSent = -1;
  while (!done) {
    await tick();
    if (side.pending.length < full && side.sent !== lastSent) {
      lastSent = side.sent;
      continue;
    }
    lastSent = side.sent;
    const entry = order === 'fifo' ? side.pending.shift() : side.pending.pop();
    if (entry) side.complete(entry);
  }
}

describe('runCountPipeline', () => {
  it.each([
    [1, 1],
    [7, 2],
    [256, 3],
    [13, 1],
  ])('counts every index once (batch %i, depth %i), never more than depth calls in flight', async (batchSize, depth) => {
    const side = fakeSidecar(10);
    const produced: Array<[number, number]> = [];
    const run = runCountPipeline<Buf>({
      start: 5,
      end: 305,
      batchSize,
      depth,
      newBuffer: bufferFactory(),
      classes: 10,
      produce: (b) => {
        b.buffer.holds = b.index;
        produced.push([b.start, b.count]);
      },
      send: side.send,
      checkpoint: () => undefined,
    });
    await drain(side, run, 'lifo', depth);
    const result = await run;
    expect(result.samples).toBe(300);
    expect(result.counts).toEqual(Array(10).fill(30));
    expect(result.batches).toBe(Math.ceil(300 / batchSize));
    expect(side.maxInFlight).toBeLessThanOrEqual(depth);
    expect(side.maxInFlight).toBe(Math.min(depth, result.batches));
    // contiguous, in order
    let next = 5;
    for (const [s, c] of produced) {
      expect(s).toBe(next);
      next += c;
    }
    expect(next).toBe(305);
  });

  it('segments: each label counts in the segment of its own index, also within a batch that straddles segments', async () => {
    const side = fakeSidecar(7);
    // [5, 205), [205, 1205), [1205, 1210): batch [5, 261) straddles the first boundary, the
    // last batch [1029, 1210) the second
    const segments = [205, 1205, 1210];
    const run = runCountPipeline<Buf>({
      start: 5,
      end: 1210,
      segments,
      batchSize: 256,
      depth: 2,
      newBuffer: bufferFactory(),
      classes: 7,
      produce: (b) => void (b.buffer.holds = b.index),
      send: side.send,
      checkpoint: () => undefined,
    });
    await drain(side, run, 'lifo', 2);
    const result = await run;
    // independently: the fake sidecar labels index i as i mod 7
    const expected = segments.map((hi, k) => {
      const counts = Array<number>(7).fill(0);
      for (let i = k === 0 ? 5 : segments[k - 1]!; i < hi; i++) counts[i % 7]++;
      return counts;
    });
    expect(result.segmentCounts).toEqual(expected);
    expect(result.segmentCounts.map((c) => c.reduce((a, b) => a + b))).toEqual([200, 1000, 5]);
    expect(result.counts).toEqual(expected[0]!.map((_, c) => expected.reduce((a, seg) => a + seg[c]!, 0)));
    expect(result.batches).toBe(Math.ceil(1205 / 256));
    expect(result.samples).toBe(1205);
  });

  it('without segments: one segment equal to the counts', async () => {
    const side = fakeSidecar(3);
    const run = runCountPipeline<Buf>({
      start: 0,
      end: 10,
      batchSize: 4,
      depth: 1,
      newBuffer: bufferFactory(),
      classes: 3,
      produce: (b) => void (b.buffer.holds = b.index),
      send: side.send,
      checkpoint: () => undefined,
    });
    await drain(side, run);
    const result = await run;
    expect(result.counts).toEqual([4, 3, 3]);
    expect(result.segmentCounts).toEqual([[4, 3, 3]]);
  });

  it.each([
    ['not ending at end', [100, 200]],
    ['not increasing', [100, 100, 300]],
    ['empty first segment', [0, 300]],
    ['none', []],
  ])('segments %s: RangeError before any call', async (_name, segments) => {
    const side = fakeSidecar(2);
    const run = runCountPipeline<Buf>({
      start: 0,
      end: 300,
      segments,
      batchSize: 10,
      depth: 1,
      newBuffer: bufferFactory(),
      classes: 2,
      produce: () => undefined,
      send: side.send,
      checkpoint: () => undefined,
    });
    await expect(run).rejects.toThrow(RangeError);
    expect(side.sent).toBe(0);
  });

  it.each([
    [300, 100, 3],
    [20, 100, 1],
    [250, 100, 3],
    [5000, 100, 4],
  ])('allocates buffers lazily, never more than depth + 1 (%i samples, batch %i -> %i)', async (n, batchSize, expected) => {
    const side = fakeSidecar(2);
    let made = 0;
    const run = runCountPipeline<Buf>({
      start: 0,
      end: n,
      batchSize,
      depth: 3,
      newBuffer: () => ({ id: made++, holds: -1 }),
      classes: 2,
      produce: (b) => void (b.buffer.holds = b.index),
      send: side.send,
      checkpoint: () => undefined,
    });
    await drain(side, run, 'fifo', 3);
    await run;
    expect(made).toBe(expected);
  });

  it('prepares the next batch while depth calls are in flight', async () => {
    const side = fakeSidecar(2);
    let produced = 0;
    const run = runCountPipeline<Buf>({
      start: 0,
      end: 100,
      batchSize: 10,
      depth: 2,
      newBuffer: bufferFactory(),
      classes: 2,
      produce: (b) => {
        b.buffer.holds = b.index;
        produced++;
      },
      send: side.send,
      checkpoint: () => undefined,
    });
    for (let i = 0; i < 5; i++) await tick();
    expect(side.sent).toBe(2);
    expect(produced).toBe(3);
    await drain(side, run);
    await run;
  });

  it('stops at the batch boundary when checkpoint throws and cancels the calls in flight', async () => {
    const side = fakeSidecar(2);
    let stop = false;
    const run = runCountPipeline<Buf>({
      start: 0,
      end: 1000,
      batchSize: 10,
      depth: 2,
      newBuffer: bufferFactory(),
      classes: 2,
      produce: (b) => void (b.buffer.holds = b.index),
      send: side.send,
      checkpoint: () => {
        if (stop) throw new Error('stop');
      },
    });
    await tick();
    side.complete(side.pending.shift()!);
    await tick();
    stop = true;
    const sentAtStop = side.sent;
    side.complete(side.pending.shift()!);
    await expect(run).rejects.toThrow('stop');
    expect(side.sent).toBe(sentAtStop);
    expect(side.pending.every((p) => p.cancelled)).toBe(true);
  });

  it('an abort cancels the awaited call at once and rejects with the reason', async () => {
    const side = fakeSidecar(2);
    const controller = new AbortController();
    const run = runCountPipeline<Buf>({
      start: 0,
      end: 1000,
      batchSize: 10,
      depth: 3,
      newBuffer: bufferFactory(),
      classes: 2,
      signal: controller.signal,
      produce: (b) => void (b.buffer.holds = b.index),
      send: side.send,
      checkpoint: () => controller.signal.throwIfAborted(),
    });
    for (let i = 0; i < 5; i++) await tick();
    expect(side.pending).toHaveLength(3);
    controller.abort(new Error('caller went away'));
    await expect(run).rejects.toThrow('caller went away');
    expect(side.pending.every((p) => p.cancelled)).toBe(true);
    expect(side.sent).toBe(3);
  });

  it('rejects labels outside the classes', async () => {
    const run = runCountPipeline<Buf>({
      start: 0,
      end: 3,
      batchSize: 3,
      depth: 1,
      newBuffer: bufferFactory(),
      classes: 2,
      produce: () => undefined,
      send: () => ({ labels: Promise.resolve([0, 1, 2]), cancel: () => undefined }),
      checkpoint: () => undefined,
    });
    await expect(run).rejects.toThrow(LabelRangeError);
  });

  it('a failed call fails the run at once, even while an earlier call is still awaited', async () => {
    let n = 0;
    const cancelled: number[] = [];
    const run = runCountPipeline<Buf>({
      start: 0,
      end: 100,
      batchSize: 10,
      depth: 3,
      newBuffer: bufferFactory(),
      classes: 2,
      produce: () => undefined,
      send: () => {
        const id = ++n;
        return {
          labels: id === 2 ? Promise.reject(new Error('boom')) : new Promise<number[]>(() => undefined),
          cancel: () => void cancelled.push(id),
        };
      },
      checkpoint: () => undefined,
    });
    await expect(run).rejects.toThrow('boom');
    expect(n).toBeLessThanOrEqual(3);
    expect(cancelled).toContain(1);
  });

  it('shared permits bound the samples in flight of concurrent runs, and every run completes', async () => {
    const side = fakeSidecar(4);
    // 30 samples: three batches of 10
    const permits = new Permits(30);
    const runs = [0, 1, 2, 3].map((k) =>
      runCountPipeline<Buf>({
        start: k * 1000,
        end: k * 1000 + 200,
        batchSize: 10,
        depth: 2,
        newBuffer: bufferFactory(),
        classes: 4,
        permits,
        produce: (b) => void (b.buffer.holds = b.index),
        send: side.send,
        checkpoint: () => undefined,
      }),
    );
    const all = Promise.all(runs);
    await drain(side, all, 'fifo', 3);
    const results = await all;
    expect(results.map((r) => r.samples)).toEqual([200, 200, 200, 200]);
    expect(side.maxInFlight).toBe(3);
    expect(permits.free).toBe(30);
  });

  it('an abort while waiting for a permit rejects with the reason and leaks no permit', async () => {
    const permits = new Permits(1);
    await permits.acquire();
    const controller = new AbortController();
    const run = runCountPipeline<Buf>({
      start: 0,
      end: 10,
      batchSize: 10,
      depth: 1,
      newBuffer: bufferFactory(),
      classes: 2,
      permits,
      signal: controller.signal,
      produce: () => undefined,
      send: () => ({ labels: Promise.resolve(new Array(10).fill(0)), cancel: () => undefined }),
      checkpoint: () => controller.signal.throwIfAborted(),
    });
    await tick();
    expect(permits.waiting).toBe(1);
    controller.abort(new Error('gone'));
    await expect(run).rejects.toThrow('gone');
    expect(permits.waiting).toBe(0);
    permits.release();
    expect(permits.free).toBe(1);
  });
});

describe('Permits', () => {
  it('grants in FIFO order and refuses a release without an acquire', async () => {
    const p = new Permits(1);
    await p.acquire();
    const order: number[] = [];
    const a = p.acquire().then(() => order.push(1));
    const b = p.acquire().then(() => order.push(2));
    p.release();
    await a;
    p.release();
    await b;
    expect(order).toEqual([1, 2]);
    p.release();
    expect(() => p.release()).toThrow();
  });

  it('weighs each acquire: first come first served, a large waiter is not overtaken, an aborted one lets the next through', async () => {
    const p = new Permits(10);
    await p.acquire(undefined, 6);
    const order: string[] = [];
    const big = p.acquire(undefined, 8).then(() => order.push('big'));
    // would fit now (4 free), but waits behind the earlier, larger waiter
    const small = p.acquire(undefined, 3).then(() => order.push('small'));
    await tick();
    expect(order).toEqual([]);
    expect(p.waiting).toBe(2);
    p.release(6);
    await big;
    expect(p.free).toBe(2);
    await tick();
    expect(order).toEqual(['big']);
    p.release(8);
    await small;
    expect(order).toEqual(['big', 'small']);
    expect(p.free).toBe(7);
    p.release(3);
    // more than the size holds all of it; an aborted head lets the waiters behind it through
    await p.acquire(undefined, 25);
    expect(p.free).toBe(0);
    p.release(25);
    await p.acquire(undefined, 5);
    const controller = new AbortController();
    const blocked = p.acquire(controller.signal, 9);
    const behind = p.acquire(undefined, 4);
    controller.abort(new Error('gone'));
    await expect(blocked).rejects.toThrow('gone');
    await behind;
    expect(p.free).toBe(1);
    expect(() => p.acquire(undefined, 0)).toThrow(RangeError);
    p.release(4);
    p.release(5);
    expect(() => p.release(1)).toThrow();
  });
});
