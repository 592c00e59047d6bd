import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_DEADLINE_MS } from './client';
import { PARENT_CALL, propagate, remainingMs } from './deadline';
import { startTestService, type Harness } from './testing/harness';
import { RELAY_MARGIN_MS } from './testing/test-implementation';
import { call, callError } from './testing/test-service';

describe('propagate (unit)', () => {
  const fakeCall = (deadline: grpc.Deadline) => ({ getDeadline: () => deadline }) as unknown as Parameters<typeof propagate>[0];

  it('inherits the caller deadline minus a margin, and hands the caller to the cancellation interceptor', () => {
    const parent = fakeCall(Date.now() + 1_000);
    const opts = propagate(parent, { marginMs: 10 });
    expect(opts[PARENT_CALL]).toBe(parent);
    expect(opts.parent).toBeUndefined(); // not grpc-js' parent: it leaks a listener per child call
    expect((opts.deadline as Date).getTime()).toBe((parent.getDeadline() as number) - 10);
  });

  it('a tighter own timeout wins; no deadline anywhere leaves it to the client default', () => {
    const parent = fakeCall(Date.now() + 60_000);
    const t = Date.now();
    const own = (propagate(parent, { timeoutMs: 100 }).deadline as Date).getTime();
    expect(own).toBeGreaterThanOrEqual(t + 100);
    expect(own).toBeLessThan(t + 1_000);
    expect(propagate(fakeCall(Infinity)).deadline).toBeUndefined();
    expect(remainingMs(fakeCall(Infinity))).toBe(Infinity);
  });
});

describe('deadline propagation through real gRPC', () => {
  let a: Harness;
  let b: Harness;
  beforeAll(async () => {
    b = await startTestService();
    const bClient = b.client();
    a = await startTestService({}, { downstream: bClient });
    await call(a.client(), 'relay', { text: 'warm-up' }); // connections up, code paths warm
  });
  afterAll(async () => {
    await a.close();
    await b.close();
  });

  it('B (called by A while serving the client) sees a deadline no later than A', async () => {
    const clientDeadline = Date.now() + 2_000;
    const res = await call(a.client(), 'relay', { text: 'hop' }, { deadline: clientDeadline });
    expect(res.text).toBe('hop');
    const aDeadline = res.deadline!;
    const bDeadline = res.downstreamDeadline!;
    expect(Number.isFinite(aDeadline)).toBe(true);
    expect(Number.isFinite(bDeadline)).toBe(true);
    expect(bDeadline).toBeLessThanOrEqual(aDeadline);
    expect(bDeadline).toBeGreaterThan(aDeadline - RELAY_MARGIN_MS - 100); // A's, less the margin
    // and it is the caller's, not B's client default (30 s). Each hop re-anchors the deadline
    // when it receives the headers (grpc-timeout is relative), hence a little slack.
    expect(bDeadline).toBeLessThanOrEqual(clientDeadline + 100);
    expect(bDeadline).toBeGreaterThan(Date.now());
  });

  it("A's failure when B runs out of the inherited time is DEADLINE_EXCEEDED", async () => {
    const err = await callError(a.client(), 'relay', { text: 'slow', delayMs: 2_000 }, { deadline: Date.now() + 300 });
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it('a call without a deadline gets the client default one', async () => {
    const t = Date.now();
    const res = await call(b.client({ defaultDeadlineMs: 7_000 }), 'echo', { text: 'x' });
    expect(res.deadline).toBeGreaterThan(t + 6_000);
    expect(res.deadline).toBeLessThanOrEqual(Date.now() + 7_000 + 5);
    const res2 = await call(b.client(), 'echo', { text: 'y' });
    expect(res2.deadline).toBeGreaterThan(t + DEFAULT_DEADLINE_MS - 1_000);
  });

  it('cancelling the client call cancels the downstream work (the handler signal aborts)', async () => {
    const before = b.probe.finished.length;
    const started = b.probe.started.length;
    const c = a.client();
    const pending = new Promise<grpc.ServiceError>((resolve) => {
      const req = c.relay({ text: 'cancel-me', delayMs: 1_000 }, { deadline: Date.now() + 5_000 }, (err) => resolve(err!));
      const poll = setInterval(() => {
        if (b.probe.started.length > started) {
          clearInterval(poll);
          req.cancel();
        }
      }, 5);
    });
    expect((await pending).code).toBe(grpc.status.CANCELLED);
    await new Promise((r) => setTimeout(r, 1_200));
    expect(b.probe.finished.length).toBe(before); // B's sleep was aborted, it never finished
  });

  it('a long-lived caller making many downstream calls keeps no listeners behind', async () => {
    const parent = Object.assign(new EventEmitter(), {
      cancelled: false,
      getDeadline: () => Date.now() + 10_000,
    }) as unknown as Parameters<typeof propagate>[0];
    const downstream = b.client();
    const peak: number[] = [];
    const events = parent as unknown as EventEmitter;
    // 40 concurrent, then 40 sequential calls under one parent
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => {
        const p = call(downstream, 'echo', { text: `c${i}` }, propagate(parent));
        peak.push(events.listenerCount('cancelled'));
        return p;
      }),
    );
    for (let i = 0; i < 40; i++) await call(downstream, 'echo', { text: `s${i}` }, propagate(parent));
    expect(Math.max(...peak)).toBe(1); // one listener per parent, however many children
    expect(events.listenerCount('cancelled')).toBe(0);
  });

  it('a child call started after its caller was cancelled is cancelled at once', async () => {
    const parent = Object.assign(new EventEmitter(), { cancelled: true, getDeadline: () => Date.now() + 10_000 });
    const err = await callError(b.client(), 'echo', { text: 'late', delayMs: 1_000 }, propagate(parent as never));
    expect(err.code).toBe(grpc.status.CANCELLED);
  });
});
