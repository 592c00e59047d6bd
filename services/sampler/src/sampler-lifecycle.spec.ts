import { createServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, service as healthService, type ServingStatus } from 'grpc-health-check';
import { SamplingServiceClient } from '@glcert/contracts';
import { checkHealth, createClient, createHealthClient, type HealthClient } from '@glcert/runtime';
import { shutdownTelemetry, startTelemetry, type ReadableSpan } from '@glcert/telemetry';
import { startSamplerService } from './sampler-service';
import { count, countRequest, quietLogger, startHarness, startInference } from './testing/harness';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function status(health: HealthClient, service = ''): Promise<string> {
  return checkHealth(health, service, 1_000).catch((err: Error) => `error: ${err.message}`);
}

describe('sampler health follows the inference sidecar', () => {
  it('NOT_SERVING until the sidecar is SERVING, SERVING then, NOT_SERVING once it goes away', async () => {
    const port = await freePort();
    const sampler = await startSamplerService(
      { host: '127.0.0.1', port: 0, inferenceAddr: `127.0.0.1:${port}`, shutdownGraceMs: 1_000 },
      { logger: quietLogger('sampler') },
    );
    const health = createHealthClient(sampler.address);
    try {
      expect(await status(health)).toBe('NOT_SERVING');
      expect(await status(health, 'glcert.sampling.v1.SamplingService')).toBe('NOT_SERVING');
      const inference = await startInference(port);
      try {
        await sampler.ready;
        expect(await status(health)).toBe('SERVING');
        expect(await status(health, 'glcert.sampling.v1.SamplingService')).toBe('SERVING');
      } finally {
        await inference.close();
      }
      let last = '';
      const end = Date.now() + 5_000;
      while (Date.now() < end && (last = await status(health)) === 'SERVING') await new Promise((r) => setTimeout(r, 100));
      expect(last).toBe('NOT_SERVING');
    } finally {
      health.close();
      await sampler.close();
    }
  }, 60_000);
});

/** A sidecar that only serves grpc.health.v1 on 127.0.0.1, counting the Check and Watch calls it gets. */
async function startHealthOnlySidecar(status: ServingStatus): Promise<{
  address: string;
  health: HealthImplementation;
  calls: { checks: number; watches: number };
  kill(): void;
}> {
  const health = new HealthImplementation({ '': status });
  const calls = { checks: 0, watches: 0 };
  const impl: grpc.UntypedServiceImplementation = {};
  // HealthImplementation registers its handlers through addService: wrap them to count the calls
  health.addToServer({ addService: (_def: unknown, handlers: grpc.UntypedServiceImplementation) => Object.assign(impl, handlers) } as unknown as grpc.Server);
  const server = new grpc.Server();
  server.addService(healthService as unknown as grpc.ServiceDefinition, {
    check: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      calls.checks++;
      (impl.check as grpc.handleUnaryCall<unknown, unknown>)(call, cb);
    },
    watch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      calls.watches++;
      (impl.watch as grpc.handleServerStreamingCall<unknown, unknown>)(call);
    },
  });
  const port = await new Promise<number>((ok, fail) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? fail(err) : ok(p))),
  );
  return { address: `127.0.0.1:${port}`, health, calls, kill: () => server.forceShutdown() };
}

describe('sampler readiness watches the sidecar (no polling)', () => {
  it('follows NOT_SERVING / SERVING changes at once over one Watch stream, and sends no Health/Check in a steady state', async () => {
    const sidecar = await startHealthOnlySidecar('NOT_SERVING');
    const sampler = await startSamplerService(
      { host: '127.0.0.1', port: 0, inferenceAddr: sidecar.address, shutdownGraceMs: 1_000 },
      { logger: quietLogger('sampler') },
    );
    const health = createHealthClient(sampler.address);
    const waitFor = async (want: string): Promise<string> => {
      let last = '';
      const end = Date.now() + 3_000;
      while (Date.now() < end && (last = await status(health)) !== want) await new Promise((r) => setTimeout(r, 20));
      return last;
    };
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(await status(health)).toBe('NOT_SERVING');
      sidecar.health.setStatus('', 'SERVING');
      await sampler.ready;
      expect(await status(health)).toBe('SERVING');
      sidecar.health.setStatus('', 'NOT_SERVING');
      expect(await waitFor('NOT_SERVING')).toBe('NOT_SERVING');
      sidecar.health.setStatus('', 'SERVING');
      expect(await waitFor('SERVING')).toBe('SERVING');

      // a steady state costs the sidecar nothing: no Check over 2.5 s (a poll a second would
      // make two or more), still the one Watch stream
      await new Promise((r) => setTimeout(r, 2_500));
      expect(sidecar.calls).toEqual({ checks: 0, watches: 1 });

      // the sidecar exits: NOT_SERVING at once (the stream ends)
      sidecar.kill();
      expect(await waitFor('NOT_SERVING')).toBe('NOT_SERVING');
    } finally {
      health.close();
      sidecar.kill();
      await sampler.close();
    }
  }, 30_000);
});

describe('sampler telemetry', () => {
  let spans: () => ReadableSpan[];
  let flush: () => Promise<void>;

  beforeAll(() => {
    const telemetry = startTelemetry({ serviceName: 'sampler-test', mode: 'memory', logger: quietLogger('telemetry') });
    spans = () => telemetry.finishedSpans();
    flush = () => telemetry.flush();
  });

  afterAll(async () => {
    await shutdownTelemetry();
  });

  it('one span per batch with glcert.batch_size and glcert.stream, parent of the Classify client span; no tensors in attributes', async () => {
    const h = await startHarness();
    try {
      const res = await count(h.client, countRequest({ endIndex: 250n, batchSize: 100 }));
      expect(res.batchesCount).toBe(3);
      await flush();
      const all = spans();
      const batches = all.filter((s) => s.name === 'sampler.batch');
      expect(batches.map((s) => s.attributes['glcert.batch_size']).sort()).toEqual([100, 100, 50]);
      expect(batches.every((s) => s.attributes['glcert.stream'] === 1)).toBe(true);
      const server = all.find((s) => s.name === 'grpc.glcert.sampling.v1.SamplingService/CountSamples' && s.kind === 1);
      expect(server).toBeDefined();
      expect(server!.attributes['glcert.n']).toBe(250);
      for (const b of batches) {
        expect(b.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
        const classify = all.filter(
          (s) => s.name === 'grpc.glcert.inference.v1.InferenceService/Classify' && s.parentSpanContext?.spanId === b.spanContext().spanId,
        );
        expect(classify.length).toBeGreaterThanOrEqual(1);
      }
      for (const s of all) {
        for (const v of Object.values(s.attributes)) {
          expect(typeof v === 'string' ? v.length : 0).toBeLessThan(256);
          expect(ArrayBuffer.isView(v)).toBe(false);
        }
      }
      // health checks are never traced
      expect(all.some((s) => s.name.includes('grpc.health.v1.Health'))).toBe(false);
    } finally {
      await h.close();
    }
  }, 60_000);
});

describe('sampler shutdown', () => {
  it('close() ends the server: later calls are UNAVAILABLE', async () => {
    const h = await startHarness();
    const client = createClient(SamplingServiceClient, h.sampler.address, { defaultDeadlineMs: 2_000 });
    try {
      await h.sampler.close();
      const err = await count(client, countRequest()).then(
        () => undefined,
        (e: { code: number }) => e,
      );
      expect(err?.code).toBe(14);
    } finally {
      client.close();
      await h.close();
    }
  }, 60_000);
});
