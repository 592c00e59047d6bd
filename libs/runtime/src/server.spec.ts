import * as grpc from '@grpc/grpc-js';
import { decodeStatus } from './errors';
import { bindServer, createServer } from './server';
import { checkHealth, type HealthStatus } from './client';
import { startTestService, type Harness } from './testing/harness';
import { call, callError, TEST_SERVICE_NAME, type Tick } from './testing/test-service';

const open: Harness[] = [];
async function harness(...args: Parameters<typeof startTestService>): Promise<Harness> {
  const h = await startTestService(...args);
  open.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((h) => h.close()));
});

function until(predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      if (predicate()) resolve();
      else if (Date.now() > end) reject(new Error('condition not met in time'));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

describe('health', () => {
  it("starts NOT_SERVING on '' and the service key, SERVING after ready(), NOT_SERVING on SIGTERM, then exits 0", async () => {
    const h = await harness();
    const health = h.health();
    expect(h.svc.healthNames).toEqual(['', TEST_SERVICE_NAME]);
    expect(await checkHealth(health, '')).toBe('NOT_SERVING');
    expect(await checkHealth(health, TEST_SERVICE_NAME)).toBe('NOT_SERVING');

    const seen: HealthStatus[] = [];
    const watch = health.watch({ service: '' }, { deadline: Infinity });
    watch.on('data', (m: { status: HealthStatus }) => seen.push(m.status));
    const ended = new Promise<grpc.ServiceError>((resolve) => watch.on('error', resolve));
    await until(() => seen.length === 1);

    h.svc.ready();
    expect(await checkHealth(health, '')).toBe('SERVING');
    expect(await checkHealth(health, TEST_SERVICE_NAME)).toBe('SERVING');
    await until(() => seen.length === 2);

    h.signals.emit('SIGTERM', 'SIGTERM');
    const err = await ended;
    expect(seen).toEqual(['NOT_SERVING', 'SERVING', 'NOT_SERVING']);
    // the watch stream is ended by the server, not left to hold the drain
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    await until(() => h.exit.mock.calls.length > 0);
    expect(h.exit).toHaveBeenCalledWith(0);
  });

  it('answers NOT_FOUND for a key it does not know', async () => {
    const h = await harness();
    await expect(checkHealth(h.health(), 'nope.Service')).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight unary call complete', async () => {
    const h = await harness({ shutdownGraceMs: 5_000 });
    const client = h.client();
    const pending = call(client, 'echo', { text: 'slow', delayMs: 300 }, { deadline: Date.now() + 10_000 });
    await until(() => h.probe.started.includes('slow'));
    const t0 = Date.now();
    const down = h.svc.shutdown('test');
    await expect(pending).resolves.toMatchObject({ text: 'slow' });
    await down;
    expect(Date.now() - t0).toBeLessThan(5_000); // drained, not forced
    expect(h.lines.find((l) => l['msg'] === 'server stopped')).toMatchObject({ forced: false });
  });

  it('ends a long server stream with UNAVAILABLE at the forced deadline, and the handler sees the abort', async () => {
    const graceMs = 400;
    const h = await harness({ shutdownGraceMs: graceMs });
    const client = h.client();
    const stream = client.ticks({ everyMs: 20 }, { deadline: Infinity });
    const ticks: Tick[] = [];
    stream.on('data', (t: Tick) => ticks.push(t));
    const ended = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
    await until(() => ticks.length >= 3);

    const t0 = Date.now();
    const down = h.svc.shutdown('test');
    const err = await ended;
    const elapsed = Date.now() - t0;
    await down;

    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(decodeStatus(err)?.errorInfo).toMatchObject({ reason: 'SHUTTING_DOWN', domain: 'glcert.dev' });
    expect(elapsed).toBeGreaterThanOrEqual(graceMs - 20);
    expect(elapsed).toBeLessThan(graceMs + 2_000);
    expect(ticks.length).toBeGreaterThan(3); // it kept streaming during the grace period
    await until(() => h.probe.aborted.includes('ticks'));
    expect(h.lines.find((l) => l['msg'] === 'server stopped')).toMatchObject({ forced: true });
  });

  it('refuses new work after shutdown started (health first, then the listener closes)', async () => {
    const h = await harness();
    const client = h.client({ defaultDeadlineMs: 1_000 });
    await call(client, 'echo', { text: 'warm' });
    await h.svc.shutdown('test');
    const err = await callError(client, 'echo', { text: 'late' });
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('message limits', () => {
  it('rejects a message one byte over the receive limit with RESOURCE_EXHAUSTED and keeps serving', async () => {
    const limit = 4096;
    const h = await harness({ maxReceiveMessageBytes: limit });
    // the client may send more than the server accepts, so the server's limit is what is tested
    const client = h.client({ maxSendMessageBytes: 1024 * 1024 });
    const opts = (): grpc.CallOptions => ({ deadline: Date.now() + 5_000 });

    expect((await call(client, 'blob', Buffer.alloc(limit, 1), opts())).toString()).toBe(String(limit));
    const err = await callError(client, 'blob', Buffer.alloc(limit + 1, 1), opts());
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((await call(client, 'blob', Buffer.alloc(10), opts())).toString()).toBe('10');
    expect((await call(client, 'echo', { text: 'still here' }, opts())).text).toBe('still here');
  });

  it('sets both limits on the client too: a send over its limit fails locally', async () => {
    const h = await harness();
    const client = h.client({ maxSendMessageBytes: 2048 });
    const err = await callError(client, 'blob', Buffer.alloc(2049), { deadline: Date.now() + 5_000 });
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(h.probe.started).toEqual([]);
  });
});

describe('bind', () => {
  it('reports a bind error naming the address', async () => {
    const h = await harness();
    const other = createServer();
    grpc.setLogVerbosity(grpc.logVerbosity.NONE); // grpc-js also logs the failure itself
    try {
      await expect(bindServer(other, '127.0.0.1', h.svc.port)).rejects.toThrow(`cannot bind 127.0.0.1:${h.svc.port}`);
    } finally {
      grpc.setLogVerbosity(grpc.logVerbosity.ERROR);
      other.forceShutdown();
    }
  });
});
