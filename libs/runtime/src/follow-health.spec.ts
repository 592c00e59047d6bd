import { createServer, Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, service as healthService, type ServingStatus } from 'grpc-health-check';
import { createLogger } from '@glcert/telemetry';
import { createHealthClient, type HealthClient } from './client';
import { createWatchHealthClient, followHealth, watchHealth, type Dependency, type DependencyStatus, type Readiness } from './follow-health';

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

describe('followHealth (Health/Watch)', () => {
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

  const recorder = (seen: string[]): Readiness => ({ ready: () => seen.push('ready'), notReady: () => seen.push('notReady') });

  it('with a custom rule (some sampler and the bound service SERVING): follows changes at once, and never polls', async () => {
    const samplerA = await serve('NOT_SERVING');
    const samplerB = await serve('SERVING');
    const bounds = await serve('NOT_SERVING');
    const seen: string[] = [];
    const local = new AbortController();
    const ready = followHealth({
      dependencies: [
        { name: 'sampler a', client: client(samplerA) },
        { name: 'sampler b', client: client(samplerB) },
        { name: 'bounds', client: client(bounds) },
      ],
      isReady: (s) => (s.get('sampler a') === 'SERVING' || s.get('sampler b') === 'SERVING') && s.get('bounds') === 'SERVING',
      target: recorder(seen),
      signal: local.signal,
      log: quiet,
    });
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
    const deps: Dependency[] = [
      { name: 'sampler', client: client(sampler) },
      { name: 'bounds', client: client(bounds) },
    ];
    // the default rule: every dependency SERVING
    await followHealth({ dependencies: deps, target: recorder(seen), signal: stop.signal, log: quiet });
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

  it('the default rule needs every dependency SERVING; a watched key the dependency does not know is not SERVING', async () => {
    const a = await serve('SERVING');
    const b = await serve('NOT_SERVING');
    const seen: string[] = [];
    const local = new AbortController();
    try {
      const ready = followHealth({
        dependencies: [
          { name: 'a', client: client(a) },
          { name: 'b', client: client(b) },
          { name: 'a, key x', client: client(a), service: 'x' },
        ],
        target: recorder(seen),
        signal: local.signal,
        log: quiet,
      });
      await until(() => a.watches + b.watches === 3);
      b.health.setStatus('', 'SERVING');
      await new Promise((r) => setTimeout(r, 200));
      expect(seen).toEqual([]);
      a.health.setStatus('x', 'SERVING');
      await ready;
      expect(seen).toEqual(['ready']);
      a.health.setStatus('', 'NOT_SERVING');
      await until(() => seen.length === 2);
      expect(seen).toEqual(['ready', 'notReady']);
    } finally {
      local.abort();
    }
  });

  it('refuses two dependencies of one name; with none, the default rule is ready at once', async () => {
    const a = await serve('SERVING');
    const c = client(a);
    expect(() =>
      followHealth({
        dependencies: [
          { name: 'a', client: c },
          { name: 'a', client: c },
        ],
        target: recorder([]),
        signal: stop.signal,
        log: quiet,
      }),
    ).toThrow(/'a' appears twice/);
    const seen: string[] = [];
    await followHealth({ dependencies: [], target: recorder(seen), signal: stop.signal, log: quiet });
    expect(seen).toEqual(['ready']);
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
