import * as grpc from '@grpc/grpc-js';
import { DEADLINE_MARGIN_MS, downstreamDeadline, sleep, unaryCall, type UnaryMethod } from './call';
import { grpcCode } from './errors';
import { isModelNotFound } from './reasons';
import { startTestService, type Harness } from './testing/harness';
import type { EchoRequest, EchoResponse, TestClient } from './testing/test-service';

/** The test client's echo (which takes no metadata argument) as a UnaryMethod. */
const echoOf =
  (client: TestClient): UnaryMethod<EchoRequest, EchoResponse> =>
  (req, _metadata, options, cb) =>
    client.echo(req, options as grpc.CallOptions, cb);

describe('unaryCall', () => {
  let h: Harness;
  let echo: UnaryMethod<EchoRequest, EchoResponse>;
  beforeAll(async () => {
    h = await startTestService();
    echo = echoOf(h.client());
  });
  afterAll(() => h.close());

  it('resolves with the response, under the deadline it is given', async () => {
    const deadline = Date.now() + 4_000;
    const res = await unaryCall(echo, { text: 'hi' }, { deadline: new Date(deadline) });
    expect(res.text).toBe('hi');
    // re-anchored on receipt (grpc-timeout is relative): about what was sent, not the 30 s client default
    expect(Math.abs(res.deadline! - deadline)).toBeLessThan(1_000);
  });

  it('rejects with the ServiceError of a failed call, readable by the reason readers', async () => {
    const err = await unaryCall(echo, { text: 'x', fail: 'notfound' }).catch((e: unknown) => e);
    expect(grpcCode(err)).toBe(grpc.status.NOT_FOUND);
    expect(isModelNotFound(err)).toBe(true);
  });

  it('cancels the call when the signal aborts, and the server sees it go', async () => {
    const abort = new AbortController();
    const pending = unaryCall(echo, { text: 'slow-abort', delayMs: 5_000 }, { signal: abort.signal });
    const t = Date.now();
    setTimeout(() => abort.abort(), 100);
    const err = await pending.catch((e: unknown) => e);
    expect(grpcCode(err)).toBe(grpc.status.CANCELLED);
    expect(Date.now() - t).toBeLessThan(2_000);
    for (let i = 0; i < 100 && !h.probe.aborted.includes('slow-abort'); i++) await sleep(20);
    expect(h.probe.aborted).toContain('slow-abort');
    expect(h.probe.finished).not.toContain('slow-abort');
  });

  it('makes no call when the signal has already aborted: rejects with its reason', async () => {
    const abort = new AbortController();
    const reason = new Error('gone already');
    abort.abort(reason);
    await expect(unaryCall(echo, { text: 'never' }, { signal: abort.signal })).rejects.toBe(reason);
    await unaryCall(echo, { text: 'after' }); // a later call on the same channel has arrived, 'never' has not
    expect(h.probe.started).toContain('after');
    expect(h.probe.started).not.toContain('never');
  });
});

describe('sleep', () => {
  it('waits about ms, or ends at once when its signal aborts', async () => {
    let t = performance.now();
    await sleep(60);
    expect(performance.now() - t).toBeGreaterThanOrEqual(55);

    const abort = new AbortController();
    t = performance.now();
    setTimeout(() => abort.abort(), 20);
    await sleep(10_000, abort.signal);
    expect(performance.now() - t).toBeLessThan(2_000);

    t = performance.now();
    await sleep(10_000, abort.signal); // already aborted
    expect(performance.now() - t).toBeLessThan(500);
  });
});

describe('downstreamDeadline', () => {
  it("is the caller's deadline less the margin, capped from now", () => {
    const now = Date.now();
    expect(downstreamDeadline(now + 1_000)).toBe(now + 1_000 - DEADLINE_MARGIN_MS);
    expect(downstreamDeadline(now + 1_000, 60_000)).toBe(now + 1_000 - DEADLINE_MARGIN_MS);
    const capped = downstreamDeadline(now + 60_000, 1_000);
    expect(capped).toBeGreaterThanOrEqual(now + 1_000);
    expect(capped).toBeLessThan(now + 1_500);
    expect(downstreamDeadline(Infinity)).toBe(Infinity);
    expect(Number.isFinite(downstreamDeadline(Infinity, 10))).toBe(true);
  });
});
