import { createServer, Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, service as healthService, type ServingStatus } from 'grpc-health-check';
import { createHealthClient, createLogger, type HealthClient } from '@glcert/runtime';
import { createWatchHealthClient, followDependencies, watchHealth, type DependencyStatus } from './readiness';

const quiet = createLogger('test', { level: 'silent' });

/** A Health server on 127.0.0.1 that counts the Check and Watch calls it gets; restartable on its port. */
class HealthServer {
  checks = 0;
  watches = 0;
  readonly health: HealthImplementation;
  private server: grpc.Server | undefined;
  port = 0;

  constructor(status: ServingStatus) {
    this.health = new HealthImplementation({ '': status });
  }

  async start(): Promise<this> {
    const server = new grpc.Server();
    const impl = { check: undefined as unknown as grpc.handleUnaryCall<unknown, unknown>, watch: undefined as unknown as grpc.handleServerStreamingCall<unknown, unknown> };
    // HealthImplementation registers its handlers through addService: wrap them to count the calls
    this.health.addToServer({ addService: (_def: unknown, handlers: typeof impl) => Object.assign(impl, handlers) } as unknown as grpc.Server);
    server.addService(healthService as unknown as grpc.ServiceDefinition, {
      check: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
        this.checks++;
        impl.check(call, cb);
      },
      watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
        this.watches++;
        impl.watch(call);
      },
    });
    this.port = await new Promise<number>((ok, fail) =>
      server.bindAsync(`127.0.0.1:${this.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? fail(err) : ok(port))),
    );
    this.server = server;
    return this;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Exits as a crashed process would: every connection and stream dropped. */
  kill(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }
}

const until = async (cond: () => boolean, ms = 3_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('followDependencies (Health/Watch)', () => {
  const servers: HealthServer[] = [];
  const clients: HealthClient[] = [];
  const stop = new AbortController();
  afterAll(() => {
    stop.abort();
    for (const c of clients) c.close();
    for (const s of servers) s.kill();
  });
  const serve = async (status: ServingStatus): Promise<HealthServer> => {
    const s = await new HealthServer(status).start();
    servers.push(s);
    return s;
  };
  const client = (s: HealthServer): HealthClient => {
    const c = createWatchHealthClient(s.address);
    clients.push(c);
    return c;
  };

  it('is ready while some sampler and the bound service are SERVING, follows changes at once, and never polls', async () => {
    const samplerA = await serve('NOT_SERVING');
    const samplerB = await serve('SERVING');
    const bounds = await serve('NOT_SERVING');
    const seen: string[] = [];
    const local = new AbortController();
    const ready = followDependencies(
      { samplers: [client(samplerA), client(samplerB)], bounds: client(bounds) },
      { ready: () => seen.push('ready'), notReady: () => seen.push('notReady') },
      local.signal,
      quiet,
    );
    await until(() => samplerA.watches + samplerB.watches + bounds.watches === 3);
    await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual([]);

    bounds.health.setStatus('', 'SERVING');
    await ready;
    expect(seen).toEqual(['ready']);

    samplerB.health.setStatus('', 'NOT_SERVING');
    await until(() => seen.length === 2);
    expect(seen).toEqual(['ready', 'notReady']);
    samplerA.health.setStatus('', 'SERVING');
    await until(() => seen.length === 3);
    expect(seen[2]).toBe('ready');

    // a steady state costs nothing: no Check at all, still one Watch per dependency
    await new Promise((r) => setTimeout(r, 1_500));
    expect([samplerA.checks, samplerB.checks, bounds.checks]).toEqual([0, 0, 0]);
    expect([samplerA.watches, samplerB.watches, bounds.watches]).toEqual([1, 1, 1]);

    // after the signal aborts, nothing is followed any more
    local.abort();
    bounds.health.setStatus('', 'NOT_SERVING');
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toHaveLength(3);
  });

  it('turns not ready as soon as a dependency exits, and ready again once it is back on its port', async () => {
    const sampler = await serve('SERVING');
    const bounds = await serve('SERVING');
    const seen: string[] = [];
    const t0 = Date.now();
    await followDependencies(
      { samplers: [client(sampler)], bounds: client(bounds) },
      { ready: () => seen.push('ready'), notReady: () => seen.push('notReady') },
      stop.signal,
      quiet,
    );
    expect(Date.now() - t0).toBeLessThan(2_000);

    const killed = Date.now();
    bounds.kill();
    await until(() => seen.length === 2);
    expect(seen).toEqual(['ready', 'notReady']);
    // the stream's end says so: no check interval or deadline to wait for
    expect(Date.now() - killed).toBeLessThan(1_000);

    await bounds.start();
    await until(() => seen.length === 3);
    expect(seen).toEqual(['ready', 'notReady', 'ready']);
    expect(bounds.checks).toBe(0);
  });

  it('a dependency that hangs (connection open, nothing answers) is UNREACHABLE once the keepalive goes unanswered', async () => {
    const bounds = await serve('SERVING');
    // a TCP relay in front of it that can stop forwarding without closing anything
    let frozen = false;
    const sockets: Socket[] = [];
    const relay = createServer((inbound) => {
      const outbound = new Socket();
      outbound.connect(bounds.port, '127.0.0.1');
      sockets.push(inbound, outbound);
      inbound.on('data', (d: Buffer) => frozen || outbound.write(d));
      outbound.on('data', (d: Buffer) => frozen || inbound.write(d));
      inbound.on('error', () => undefined);
      outbound.on('error', () => undefined);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
    const port = (relay.address() as { port: number }).port;
    // the watch clients' keepalive, shortened for the test
    const c = createHealthClient(`127.0.0.1:${port}`, { keepaliveTimeMs: 300, keepaliveTimeoutMs: 300 });
    clients.push(c);
    const statuses: DependencyStatus[] = [];
    const local = new AbortController();
    try {
      watchHealth(c, local.signal, (s) => statuses.push(s));
      await until(() => statuses.includes('SERVING'));
      frozen = true;
      await until(() => statuses.includes('UNREACHABLE'), 3_000);
      expect(statuses.slice(0, 2)).toEqual(['SERVING', 'UNREACHABLE']);
    } finally {
      local.abort();
      for (const s of sockets) s.destroy();
      relay.close();
    }
  });
});
