// Traces: one span per certification with the glcert.* attributes; in a stream every item is
// its own trace, linked to the stream's span, and its downstream calls run in it.
//
// Order matters as in main.ts: telemetry starts first and patches grpc-js before the contracts
// build their client constructors, so every module below is loaded dynamically after it.
import type { certifyV1, Tensor, ThreatModel } from '@glcert/contracts';
import type { ReadableSpan, Telemetry } from '@glcert/telemetry';
import type { CertifierService } from './certifier-service';
import type { FakeBounds, FakeSampler } from './testing/fakes';

// Sampling.SAMPLING_FIXED (type-only imports here): the chunk counts below are FIXED sampling's
const FIXED = 2 as certifyV1.Sampling;

type Client = typeof import('./testing/client');
const FAKE_MODEL = 'fake-mnist';

describe('telemetry', () => {
  let telemetry: Telemetry;
  let samplers: FakeSampler[];
  let bounds: FakeBounds;
  let certifier: CertifierService;
  let shutdownTelemetry: () => Promise<void>;
  let certifierClient: Client['certifierClient'];
  let certify: Client['certify'];
  let streamAll: Client['streamAll'];
  let BRIGHTNESS: ThreatModel;
  let IMAGE: Tensor;

  beforeAll(async () => {
    const tel = await import('@glcert/telemetry');
    const quiet = (name: string) => tel.createLogger(name, { level: 'silent' });
    telemetry = tel.startTelemetry({ serviceName: 'certifier-test', mode: 'memory', logger: quiet('telemetry') });
    shutdownTelemetry = tel.shutdownTelemetry;
    telemetry.instrumentGrpc(await import('@grpc/grpc-js'));
    const { Distribution, encodeFloat32Tensor } = await import('@glcert/contracts');
    const { generateSigningKey } = await import('@glcert/certificate');
    const { startCertifierService } = await import('./certifier-service');
    const { startFakeBounds, startFakeSampler } = await import('./testing/fakes');
    ({ certifierClient, certify, streamAll } = await import('./testing/client'));
    BRIGHTNESS = {
      transform: 'b',
      box: [{ name: 'b', min: -0.05, max: 0.05 }],
      smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
      note: '',
    };
    IMAGE = encodeFloat32Tensor(new Float32Array(28 * 28).fill(0.5), [1, 28, 28]);
    samplers = await Promise.all([startFakeSampler(), startFakeSampler()]);
    bounds = await startFakeBounds();
    certifier = await startCertifierService(
      { port: 0, samplerAddrs: samplers.map((s) => s.address), boundsAddr: bounds.address, chunkSize: 100 },
      { logger: quiet('certifier'), signingKey: generateSigningKey() },
    );
  });
  afterAll(async () => {
    await certifier.close();
    await Promise.all([...samplers.map((s) => s.close()), bounds.close()]);
    await shutdownTelemetry();
  });

  const spans = async (): Promise<ReadableSpan[]> => {
    await telemetry.flush();
    return telemetry.finishedSpans();
  };
  const parentId = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
  /** Whether `s` descends from `ancestor` within `all`. */
  const descends = (s: ReadableSpan, ancestor: ReadableSpan, all: ReadableSpan[]): boolean => {
    const byId = new Map(all.map((x) => [x.spanContext().spanId, x]));
    for (let cur: ReadableSpan | undefined = s; cur; cur = byId.get(parentId(cur) ?? '')) {
      if (cur === ancestor) return true;
    }
    return false;
  };

  it('Certify: one span with the glcert attributes, its chunk and sampler calls beneath it, no image bytes', async () => {
    expect(telemetry.enabled).toBe(true);
    const client = certifierClient(certifier.address);
    try {
      await certify(client, { requestId: 'trace-1', model: FAKE_MODEL, input: { $case: 'tensor', tensor: IMAGE }, threatModel: BRIGHTNESS, n0: 100n, n: 300n, alpha: 0.001, seed: 3n, sampling: FIXED });
    } finally {
      client.close();
    }
    const all = await spans();
    const span = all.find((s) => s.name === 'certifier.certify' && s.attributes['glcert.request_id'] === 'trace-1')!;
    expect(span).toBeDefined();
    expect(span.attributes).toMatchObject({
      'glcert.model': FAKE_MODEL,
      'glcert.transform': 'b',
      'glcert.n': 300,
      'glcert.n0': 100,
      'glcert.outcome': 'CERTIFIED',
    });
    expect(span.attributes['glcert.pa_lower']).toBeGreaterThan(0.9);
    const chunks = all.filter((s) => s.name === 'certifier.chunk' && s.spanContext().traceId === span.spanContext().traceId);
    expect(chunks).toHaveLength(4); // selection [0, 100) fills the first call; 3 estimation calls
    expect(chunks.map((c) => c.attributes['glcert.ranges'])).toEqual([1, 1, 1, 1]);
    for (const c of chunks) expect(descends(c, span, all)).toBe(true);
    // the instrumented gRPC client calls to the samplers sit in the same trace
    const rpc = all.filter((s) => /CountSamples/.test(s.name) && s.spanContext().traceId === span.spanContext().traceId);
    expect(rpc.length).toBeGreaterThanOrEqual(8); // client and sampler-side server span of each chunk
    const bound = all.find((s) => /GetThreshold/.test(s.name) && s.spanContext().traceId === span.spanContext().traceId);
    expect(bound).toBeDefined();
    for (const s of all) {
      for (const [k, v] of Object.entries(s.attributes)) {
        expect(k).not.toMatch(/image|tensor|raw/i);
        if (typeof v === 'string') expect(v.length).toBeLessThan(300);
      }
    }
  });

  it('StreamingCertify: each item its own trace, linked to the stream span, with its downstream calls', async () => {
    const client = certifierClient(certifier.address);
    const item = (id: string): certifyV1.StreamingCertifyRequest => ({ request: { $case: 'item', item: { id, input: { $case: 'tensor', tensor: IMAGE } } } });
    try {
      const { responses } = await streamAll(client, [
        { request: { $case: 'config', config: { model: FAKE_MODEL, threatModel: BRIGHTNESS, n0: 50n, n: 150n, alpha: 0.001, baseSeed: 5n, sampling: FIXED } } },
        item('s1'),
        item('s2'),
        item('s3'),
      ]);
      expect(responses).toHaveLength(3);
    } finally {
      client.close();
    }
    const all = await spans();
    const stream = all.find((s) => s.name === 'certifier.streaming_certify')!;
    expect(stream).toBeDefined();
    expect(stream.attributes).toMatchObject({ 'glcert.model': FAKE_MODEL, 'glcert.items': 3 });
    const items = all.filter((s) => s.name === 'certifier.certify_item');
    expect(items.map((s) => s.attributes['glcert.item_id']).sort()).toEqual(['s1', 's2', 's3']);
    const traces = new Set(items.map((s) => s.spanContext().traceId));
    expect(traces.size).toBe(3);
    expect(traces.has(stream.spanContext().traceId)).toBe(false);
    for (const s of items) {
      expect(parentId(s)).toBeUndefined();
      expect(s.links.map((l) => l.context.spanId)).toEqual([stream.spanContext().spanId]);
      expect(s.attributes['glcert.outcome']).toBe('CERTIFIED');
      const chunks = all.filter((c) => c.name === 'certifier.chunk' && c.spanContext().traceId === s.spanContext().traceId);
      // calls of 100 samples over selection [0, 50) then estimation [0, 150): the first call
      // carries both streams (50 + 50), the second estimation [50, 150)
      expect(chunks.map((c) => [c.attributes['glcert.ranges'], c.attributes['glcert.count']]).sort()).toEqual([
        [1, 100],
        [2, 100],
      ]);
      for (const c of chunks) expect(descends(c, s, all)).toBe(true);
      expect(all.filter((c) => /CountSamples/.test(c.name) && c.spanContext().traceId === s.spanContext().traceId).length).toBeGreaterThanOrEqual(2);
    }
  });
});
