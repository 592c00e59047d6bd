// Traces across the services (DESIGN.md 6, STYLE.md "Traces"), end to end: the real services
// as separate processes on loopback (`node --import tsx services/<name>/src/main.ts`), each
// exporting OTLP/HTTP JSON to a receiver this test runs. One Certify is one trace:
//
//   certifier  SERVER grpc.glcert.certify.v1.CertificationService/Certify
//   certifier    certifier.certify {glcert.model, transform, n0, n, outcome, pa_lower, ...}
//   certifier      CLIENT .../BoundService/GetThreshold -> bounds SERVER GetThreshold
//   certifier      certifier.chunk -> CLIENT .../SamplingService/CountSamples
//   sampler          SERVER CountSamples {glcert.n, glcert.batch_size}
//   sampler            sampler.batch {glcert.batch_size} -> CLIENT .../InferenceService/Classify
//   inference            SERVER Classify
//   inference              inference.batch {glcert.batch_size, glcert.batch_requests, ...}
//
// Each StreamingCertify item is a trace of its own (certifier.certify_item, root) linked to the
// stream's certifier.streaming_certify span. Health checks are never traced; no attribute
// carries image bytes. docs/traces.md shows the tree and how to point traces at a collector.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CertificationServiceClient, Distribution, Outcome, Sampling, type certifyV1, type ThreatModel } from '@glcert/contracts';
import { createClient, createHealthClient, waitForServing } from '@glcert/runtime';
import { SPAN_KIND, startOtlpReceiver, type AttributeValue, type OtlpReceiver, type ReceivedSpan } from './testing/otlp-receiver';

const ROOT = resolve(__dirname, '../../..');
const MNIST = join(ROOT, 'data/mnist-test');
/** Generous: four TypeScript services start under tsx on two busy cores. */
const START_TIMEOUT_MS = 240_000;
const CALL_TIMEOUT_MS = 120_000;
const SPANS_TIMEOUT_MS = 60_000;

const CERTIFY_SERVER = 'grpc.glcert.certify.v1.CertificationService/Certify';
const STREAM_SERVER = 'grpc.glcert.certify.v1.CertificationService/StreamingCertify';
const GET_THRESHOLD = 'grpc.glcert.bounds.v1.BoundService/GetThreshold';
const COUNT_SAMPLES = 'grpc.glcert.sampling.v1.SamplingService/CountSamples';
const CLASSIFY = 'grpc.glcert.inference.v1.InferenceService/Classify';

/**
 * n0 = 100 and n = 500 laid end to end in CountSamples calls of 200: selection [0, 100) with
 * estimation [0, 100), then estimation [100, 300) and [300, 500); sampler batches of at most 100.
 */
const N0 = 100;
const N = 500;
const CHUNK_SIZE = 200;
const SAMPLER_BATCH = 100;

const BRIGHTNESS: ThreatModel = {
  transform: 'b',
  box: [{ name: 'b', min: -0.05, max: 0.05 }],
  smoothing: [{ name: 'b', distribution: Distribution.DISTRIBUTION_NORMAL, sigma: 0.3 }],
  note: '',
};

// ---------------------------------------------------------------------------------------------
// the service processes

type Kind = 'inference' | 'sampler' | 'bounds' | 'certifier';

interface Proc {
  kind: Kind;
  child: ChildProcess;
  address: string;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
}

const procs: Proc[] = [];

// whatever happens to this jest worker, no service process outlives it
const killAll = (): void => {
  for (const p of procs) if (p.alive()) p.child.kill('SIGKILL');
};
process.once('exit', killAll);

/** `count` distinct free loopback ports (all held open until every one is picked). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((ok, fail) => {
          const s = createServer();
          s.once('error', fail);
          s.listen(0, '127.0.0.1', () => ok(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((ok) => s.close(() => ok()))));
  return ports;
}

function startProcess(kind: Kind, port: number, env: Record<string, string>): Proc {
  const base: NodeJS.ProcessEnv = {};
  // nothing inherited decides where (or whether) traces go
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('OTEL_') && v !== undefined) base[k] = v;
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${kind}/src/main.ts`], {
    cwd: ROOT,
    env: { ...base, LOG_LEVEL: 'info', [`${kind.toUpperCase()}_PORT`]: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const onData = (chunk: Buffer): void => {
    text = (text + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let gone = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) =>
    child.once('close', (code, signal) => {
      gone = true;
      ok({ code, signal });
    }),
  );
  const proc: Proc = { kind, child, address: `127.0.0.1:${port}`, output: () => text, exited, alive: () => !gone };
  procs.push(proc);
  return proc;
}

async function waitServing(p: Proc, timeoutMs: number): Promise<void> {
  const health = createHealthClient(p.address);
  try {
    await Promise.race([
      waitForServing(health, '', timeoutMs, 250),
      p.exited.then(({ code, signal }) => {
        throw new Error(`${p.kind} exited (${code ?? signal}) before SERVING`);
      }),
    ]);
  } catch (err) {
    throw new Error(`${p.kind} on ${p.address}: ${(err as Error).message}\n--- its output ---\n${p.output().slice(-4000)}`);
  } finally {
    health.close();
  }
}

/** SIGTERM every process still running; SIGKILL what is left after `graceMs`. */
async function stopAll(graceMs: number): Promise<Array<{ kind: Kind; code: number | null; signal: NodeJS.Signals | null }>> {
  return Promise.all(
    procs.map(async (p) => {
      if (p.alive()) p.child.kill('SIGTERM');
      const timer = setTimeout(() => p.alive() && p.child.kill('SIGKILL'), graceMs);
      const e = await p.exited;
      clearTimeout(timer);
      return { kind: p.kind, ...e };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// span tree helpers

const byName = (spans: ReceivedSpan[], name: string): ReceivedSpan[] => spans.filter((s) => s.name === name);
const inTrace = (spans: ReceivedSpan[], traceId: string): ReceivedSpan[] => spans.filter((s) => s.traceId === traceId);
const num = (v: AttributeValue | undefined): number => (typeof v === 'number' ? v : NaN);
const sumOf = (spans: ReceivedSpan[], key: string): number => spans.reduce((a, s) => a + num(s.attributes[key]), 0);

/** Spans of `trace` whose parent is not in it (the root, and any orphan). */
function rootsOf(trace: ReceivedSpan[]): ReceivedSpan[] {
  const ids = new Set(trace.map((s) => s.spanId));
  return trace.filter((s) => s.parentSpanId === undefined || !ids.has(s.parentSpanId));
}

/** Whether `s` descends from `ancestor` in `trace`. */
function descends(s: ReceivedSpan, ancestor: ReceivedSpan, trace: ReceivedSpan[]): boolean {
  const byId = new Map(trace.map((x) => [x.spanId, x]));
  for (let cur: ReceivedSpan | undefined = s; cur; cur = cur.parentSpanId ? byId.get(cur.parentSpanId) : undefined) {
    if (cur === ancestor) return true;
  }
  return false;
}

/** An indented tree of one trace, for failure messages and docs/traces.md. */
function render(trace: ReceivedSpan[]): string {
  const children = new Map<string, ReceivedSpan[]>();
  for (const s of trace) {
    const k = s.parentSpanId ?? '';
    children.set(k, [...(children.get(k) ?? []), s]);
  }
  const kind = (k: number): string => ({ 1: 'INTERNAL', 2: 'SERVER', 3: 'CLIENT' } as Record<number, string>)[k] ?? String(k);
  const lines: string[] = [];
  const walk = (s: ReceivedSpan, depth: number): void => {
    const attrs = Object.entries(s.attributes)
      .filter(([k]) => k.startsWith('glcert.') || k.startsWith('rpc.'))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(' ');
    lines.push(`${'  '.repeat(depth)}[${s.service}] ${kind(s.kind)} ${s.name} ${attrs}`);
    for (const c of (children.get(s.spanId) ?? []).sort((a, b) => (a.startNs < b.startNs ? -1 : 1))) walk(c, depth + 1);
  };
  for (const r of rootsOf(trace)) walk(r, 0);
  return lines.join('\n');
}

function describeAll(spans: ReceivedSpan[]): string {
  const traces = [...new Set(spans.map((s) => s.traceId))];
  return `${spans.length} spans in ${traces.length} traces:\n${traces.map((t) => render(inTrace(spans, t))).join('\n---\n')}`;
}

/** Every attribute value (span, resource, event, link), with where it was found. */
function* allValues(s: ReceivedSpan): Generator<[string, AttributeValue]> {
  const from = function* (where: string, attrs: Record<string, AttributeValue>): Generator<[string, AttributeValue]> {
    for (const [k, v] of Object.entries(attrs)) yield [`${s.service} ${s.name} ${where}${k}`, v];
  };
  yield* from('', s.attributes);
  yield* from('resource.', s.resource);
  for (const e of s.events) yield* from(`event ${e.name}.`, e.attributes);
  for (const l of s.links) yield* from('link.', l.attributes);
}

// ---------------------------------------------------------------------------------------------

describe('traces across the services (separate processes, OTLP/HTTP JSON)', () => {
  let receiver: OtlpReceiver;
  let dir: string;
  let certifier: Proc;
  let client: CertificationServiceClient;
  const digits = readFileSync(join(MNIST, 'labels.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',')[0]!);
  const png = (i: number): Buffer => readFileSync(join(MNIST, digits[i]!));

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    dir = mkdtempSync(join(tmpdir(), 'glcert-traces-'));
    const [inferencePort, samplerPort, boundsPort, certifierPort] = await freePorts(4);
    const otel = {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
    };
    // all four start at once: the sampler turns SERVING once its sidecar does
    const inference = startProcess('inference', inferencePort!, { ...otel, INFERENCE_WARMUP_BATCH_SIZE: '1', INFERENCE_SHUTDOWN_GRACE_MS: '2000' });
    const sampler = startProcess('sampler', samplerPort!, {
      ...otel,
      INFERENCE_ADDR: `127.0.0.1:${inferencePort}`,
      SAMPLER_BATCH_SIZE: String(SAMPLER_BATCH),
      SAMPLER_SIDECAR_BATCH_SIZE: String(SAMPLER_BATCH),
      SAMPLER_SHUTDOWN_GRACE_MS: '2000',
    });
    const bounds = startProcess('bounds', boundsPort!, { ...otel, BOUNDS_CACHE_DIR: join(dir, 'bounds-cache'), BOUNDS_SHUTDOWN_GRACE_MS: '2000' });
    certifier = startProcess('certifier', certifierPort!, {
      ...otel,
      SAMPLER_ADDRS: `127.0.0.1:${samplerPort}`,
      BOUNDS_ADDR: `127.0.0.1:${boundsPort}`,
      CERTIFIER_SIGNING_KEY_FILE: join(dir, 'keys', 'signing.pem'),
      CERTIFIER_CHUNK_SIZE: String(CHUNK_SIZE),
      CERTIFIER_SHUTDOWN_GRACE_MS: '2000',
    });
    try {
      await Promise.all([inference, sampler, bounds, certifier].map((p) => waitServing(p, START_TIMEOUT_MS - 10_000)));
    } catch (err) {
      killAll();
      throw err;
    }
    client = createClient(CertificationServiceClient, certifier.address, { defaultDeadlineMs: CALL_TIMEOUT_MS });
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    client?.close();
    await stopAll(5_000);
    await receiver?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  const failWithOutput = (err: unknown): never => {
    const logs = procs.map((p) => `--- ${p.kind} ---\n${p.output().slice(-3000)}`).join('\n');
    throw new Error(`${(err as Error).message}\n${logs}`);
  };

  it(
    'Certify: one trace from the certifier through bounds, sampler and inference, with the glcert attributes',
    async () => {
      const response = await new Promise<certifyV1.CertifyResponse>((ok, fail) =>
        client.certify(
          {
            requestId: 'traces-certify',
            model: 'mnist-cnn',
            input: { $case: 'image', image: png(0) },
            threatModel: BRIGHTNESS,
            n0: BigInt(N0),
            n: BigInt(N),
            alpha: 0.001,
            seed: 7n,
            // FIXED: the chunk layout below is n0 + n; SEQUENTIAL would stop at its first look
            sampling: Sampling.SAMPLING_FIXED,
          },
          new grpc.Metadata(),
          (err, res) => (err ? fail(err) : ok(res)),
        ),
      ).catch(failWithOutput);
      const cert = response.certificate!;
      expect(cert.n).toBe(BigInt(N));

      // wait until the whole tree is in: every span's parent present, every hop represented,
      // and every sample accounted for by sampler and inference spans
      const trace = await receiver.waitFor(
        (spans) => {
          const server = byName(spans, CERTIFY_SERVER)[0];
          if (!server) return undefined;
          const t = inTrace(spans, server.traceId);
          const counted = byName(t, COUNT_SAMPLES).filter((s) => s.kind === SPAN_KIND.SERVER);
          const batches = byName(t, 'inference.batch');
          const complete =
            rootsOf(t).length === 1 &&
            t.some((s) => s.name === 'certifier.certify') &&
            t.some((s) => s.name === GET_THRESHOLD && s.service === 'bounds') &&
            sumOf(counted, 'glcert.n') === N0 + N &&
            sumOf(batches, 'glcert.batch_size') === N0 + N;
          return complete ? t : undefined;
        },
        SPANS_TIMEOUT_MS,
        describeAll,
      );
      const rendered = render(trace);

      // the root: the certifier's gRPC server span (the test client sends no trace context)
      const [root] = rootsOf(trace);
      expect(root).toMatchObject({ name: CERTIFY_SERVER, kind: SPAN_KIND.SERVER, service: 'certifier', scope: '@opentelemetry/instrumentation-grpc' });
      expect(root!.parentSpanId).toBeUndefined();
      expect(root!.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.service': 'glcert.certify.v1.CertificationService', 'rpc.method': 'Certify', 'rpc.grpc.status_code': 0 });

      // the certification span and its attributes, matching the certificate
      const certify = byName(trace, 'certifier.certify');
      expect(certify).toHaveLength(1);
      const span = certify[0]!;
      expect(span.parentSpanId).toBe(root!.spanId);
      expect(span.attributes).toMatchObject({
        'glcert.request_id': 'traces-certify',
        'glcert.model': 'mnist-cnn',
        'glcert.transform': 'b',
        'glcert.n0': N0,
        'glcert.n': N,
        'glcert.outcome': cert.outcome === Outcome.OUTCOME_CERTIFIED ? 'CERTIFIED' : 'ABSTAINED',
      });
      expect(num(span.attributes['glcert.pa_lower'])).toBeCloseTo(cert.paLower, 12);
      expect(num(span.attributes['glcert.threshold'])).toBeCloseTo(cert.threshold, 12);

      // the bound lookup: certifier client span -> bounds server span
      const thresholdServer = trace.filter((s) => s.name === GET_THRESHOLD && s.kind === SPAN_KIND.SERVER);
      expect(thresholdServer).toHaveLength(1);
      expect(thresholdServer[0]!.service).toBe('bounds');
      const thresholdClient = trace.find((s) => s.spanId === thresholdServer[0]!.parentSpanId)!;
      expect(thresholdClient).toMatchObject({ name: GET_THRESHOLD, kind: SPAN_KIND.CLIENT, service: 'certifier' });
      expect(descends(thresholdClient, span, trace)).toBe(true);

      // the sampler: one CountSamples server span per call (the first carries both streams)
      const counts = trace.filter((s) => s.name === COUNT_SAMPLES && s.kind === SPAN_KIND.SERVER);
      expect(counts).toHaveLength(3);
      for (const c of counts) {
        expect(c.service).toBe('sampler');
        expect(c.attributes).toMatchObject({ 'glcert.model': 'mnist-cnn', 'glcert.transform': 'b', 'glcert.batch_size': SAMPLER_BATCH, 'rpc.grpc.status_code': 0 });
        expect(descends(c, span, trace)).toBe(true);
        const parent = trace.find((s) => s.spanId === c.parentSpanId)!;
        expect(parent).toMatchObject({ name: COUNT_SAMPLES, kind: SPAN_KIND.CLIENT, service: 'certifier' });
      }
      expect(counts.map((c) => [num(c.attributes['glcert.n']), num(c.attributes['glcert.ranges']), num(c.attributes['glcert.start_index'])]).sort()).toEqual([
        [200, 1, 100],
        [200, 1, 300],
        [200, 2, 0],
      ]);
      const chunks = byName(trace, 'certifier.chunk');
      expect(chunks.map((c) => [num(c.attributes['glcert.stream']), num(c.attributes['glcert.ranges'])]).sort()).toEqual([
        [0, 2],
        [1, 1],
        [1, 1],
      ]);

      // sampler batches -> inference Classify server spans -> per-batch inference spans
      const samplerBatches = byName(trace, 'sampler.batch');
      expect(sumOf(samplerBatches, 'glcert.batch_size')).toBe(N0 + N);
      const classify = trace.filter((s) => s.name === CLASSIFY && s.kind === SPAN_KIND.SERVER);
      expect(classify).toHaveLength(samplerBatches.length);
      for (const c of classify) {
        expect(c.service).toBe('inference');
        const parent = trace.find((s) => s.spanId === c.parentSpanId)!;
        expect(parent).toMatchObject({ name: CLASSIFY, kind: SPAN_KIND.CLIENT, service: 'sampler' });
        expect(trace.find((s) => s.spanId === parent.parentSpanId)?.name).toBe('sampler.batch');
      }
      const inferenceBatches = byName(trace, 'inference.batch');
      expect(inferenceBatches.length).toBeGreaterThanOrEqual(1);
      for (const b of inferenceBatches) {
        expect(b.service).toBe('inference');
        expect(b.attributes['glcert.model']).toBe('mnist-cnn');
        expect(num(b.attributes['glcert.batch_size'])).toBeGreaterThan(0);
        expect(num(b.attributes['glcert.batch_requests'])).toBeGreaterThan(0);
        expect(classify.map((c) => c.spanId)).toContain(b.parentSpanId);
        // a batch merging several Classify calls is linked to the others' server spans
        for (const l of b.links) expect(classify.map((c) => c.spanId)).toContain(l.spanId);
      }
      expect(sumOf(inferenceBatches, 'glcert.batch_size')).toBe(N0 + N);

      // every service took part, and nothing in the trace failed
      expect(new Set(trace.map((s) => s.service))).toEqual(new Set(['certifier', 'bounds', 'sampler', 'inference']));
      expect(trace.filter((s) => s.statusCode === 2).map((s) => s.name)).toEqual([]);
      if (process.env['GLCERT_PRINT_TRACES']) console.log(`Certify trace:\n${rendered}`);
    },
    CALL_TIMEOUT_MS + SPANS_TIMEOUT_MS,
  );

  it(
    'StreamingCertify: every item its own trace, linked to the stream span, with its downstream calls',
    async () => {
      const responses = await new Promise<certifyV1.StreamingCertifyResponse[]>((ok, fail) => {
        const call = client.streamingCertify();
        const got: certifyV1.StreamingCertifyResponse[] = [];
        call.on('data', (r: certifyV1.StreamingCertifyResponse) => got.push(r));
        call.on('error', fail);
        call.on('end', () => ok(got));
        call.write({ request: { $case: 'config', config: { model: 'mnist-cnn', threatModel: BRIGHTNESS, n0: BigInt(N0), n: BigInt(N), alpha: 0.001, baseSeed: 11n, sampling: Sampling.SAMPLING_FIXED } } });
        call.write({ request: { $case: 'item', item: { id: 'item-a', input: { $case: 'image', image: png(1) } } } });
        call.write({ request: { $case: 'item', item: { id: 'item-b', input: { $case: 'image', image: png(2) } } } });
        call.end();
      }).catch(failWithOutput);
      expect(responses.map((r) => [r.id, r.status?.code]).sort()).toEqual([
        ['item-a', 0],
        ['item-b', 0],
      ]);

      const found = await receiver.waitFor(
        (spans) => {
          const server = byName(spans, STREAM_SERVER)[0];
          const stream = byName(spans, 'certifier.streaming_certify')[0];
          const items = byName(spans, 'certifier.certify_item');
          if (!server || !stream || items.length < 2) return undefined;
          const itemTraces = items.map((i) => inTrace(spans, i.traceId));
          const samples = itemTraces.map((t) => sumOf(byName(t, COUNT_SAMPLES).filter((s) => s.kind === SPAN_KIND.SERVER), 'glcert.n'));
          // a merged inference batch sits in the trace of its oldest request: count both together
          const inferred = sumOf(
            itemTraces.flat().filter((s) => s.name === 'inference.batch'),
            'glcert.batch_size',
          );
          const complete = samples.every((n) => n === N0 + N) && inferred === 2 * (N0 + N) && itemTraces.every((t) => rootsOf(t).length === 1);
          return complete ? { server, stream, items, itemTraces, streamTrace: inTrace(spans, stream.traceId) } : undefined;
        },
        SPANS_TIMEOUT_MS,
        (spans) => describeAll(spans.filter((s) => !byName(spans, CERTIFY_SERVER).some((c) => c.traceId === s.traceId))),
      );
      const { server, stream, items, itemTraces, streamTrace } = found;

      // the stream's trace: server span -> certifier.streaming_certify (config-time lookups only)
      expect(server).toMatchObject({ kind: SPAN_KIND.SERVER, service: 'certifier' });
      expect(stream.traceId).toBe(server.traceId);
      expect(stream.parentSpanId).toBe(server.spanId);
      expect(stream.attributes).toMatchObject({ 'glcert.model': 'mnist-cnn', 'glcert.transform': 'b', 'glcert.n': N, 'glcert.items': 2, 'glcert.items_failed': 0 });
      expect(streamTrace.some((s) => s.name === GET_THRESHOLD && s.service === 'bounds')).toBe(true);
      expect(streamTrace.filter((s) => s.name === COUNT_SAMPLES)).toEqual([]);

      // one trace per item, each a root linked to the stream span, none the stream's trace
      expect(items.map((i) => i.attributes['glcert.item_id']).sort()).toEqual(['item-a', 'item-b']);
      const ids = new Set(items.map((i) => i.traceId));
      expect(ids.size).toBe(2);
      expect(ids.has(stream.traceId)).toBe(false);
      for (const [k, item] of items.entries()) {
        const t = itemTraces[k]!;
        expect(item.parentSpanId).toBeUndefined();
        expect(rootsOf(t)).toEqual([item]);
        expect(item.links.map((l) => [l.traceId, l.spanId])).toEqual([[stream.traceId, stream.spanId]]);
        expect(item.attributes).toMatchObject({ 'glcert.model': 'mnist-cnn', 'glcert.transform': 'b', 'glcert.n': N });
        expect(['CERTIFIED', 'ABSTAINED']).toContain(item.attributes['glcert.outcome']);
        expect(num(item.attributes['glcert.pa_lower'])).toBeGreaterThanOrEqual(0);
        // its own samplers and inference calls
        expect(t.filter((s) => s.name === COUNT_SAMPLES && s.kind === SPAN_KIND.SERVER && s.service === 'sampler')).toHaveLength(3); // calls of 200 over n0 + n = 600
        expect(t.filter((s) => s.name === CLASSIFY && s.kind === SPAN_KIND.SERVER && s.service === 'inference').length).toBeGreaterThanOrEqual(1);
      }
      if (process.env['GLCERT_PRINT_TRACES']) console.log(`StreamingCertify traces:\n${[streamTrace, ...itemTraces].map(render).join('\n---\n')}`);
      const response = (id: string) => responses.find((r) => r.id === id)!.certificate!;
      for (const item of items) {
        expect(num(item.attributes['glcert.pa_lower'])).toBeCloseTo(response(String(item.attributes['glcert.item_id'])).paLower, 12);
      }
    },
    CALL_TIMEOUT_MS + SPANS_TIMEOUT_MS,
  );

  it(
    'no span for health checks, no image bytes in any attribute; SIGTERM stops every process cleanly',
    async () => {
      // SIGTERM flushes each process's telemetry, so what is checked below is everything
      const exits = await stopAll(15_000);
      expect(exits.map((e) => `${e.kind}: ${e.code ?? e.signal}`).sort()).toEqual(['bounds: 0', 'certifier: 0', 'inference: 0', 'sampler: 0']);
      const spans = receiver.spans();
      if (process.env['GLCERT_TRACES_DUMP']) writeFileSync(process.env['GLCERT_TRACES_DUMP'], JSON.stringify(spans, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 1));
      expect(receiver.rejected).toEqual([]);
      expect(spans.length).toBeGreaterThan(50);
      // waitForServing probed every service, and the sampler probes its sidecar all along
      expect(spans.filter((s) => /health/i.test(s.name)).map((s) => `${s.service} ${s.name}`)).toEqual([]);
      const tooLong: string[] = [];
      const visit = (where: string, v: AttributeValue): void => {
        if (typeof v === 'string' && (v.length > 2048 || v.includes('iVBORw0'))) tooLong.push(`${where}: string of ${v.length}`);
        else if (Array.isArray(v)) {
          if (v.length > 256) tooLong.push(`${where}: array of ${v.length}`);
          v.forEach((x) => visit(where, x));
        } else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) visit(`${where}.${k}`, x);
      };
      for (const s of spans) for (const [where, v] of allValues(s)) visit(where, v);
      expect(tooLong).toEqual([]);
      // and not anywhere in what was exported: the PNGs' base64 starts 'iVBORw0'
      for (const body of receiver.bodies()) {
        expect(body).not.toContain('iVBORw0');
        expect(body).not.toContain(png(0).subarray(0, 48).toString('base64'));
      }
    },
    30_000,
  );
});
