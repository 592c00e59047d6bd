import { createServer } from 'node:net';
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
