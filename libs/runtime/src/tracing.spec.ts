// One telemetry per test file: this file starts the SDK in memory mode before any server or
// client exists. Under jest the require hook never sees @grpc/grpc-js load, so the runtime
// applies the instrumentation's patch itself (createServer/createClient call instrumentGrpc);
// the explicit call below is the documented trick for code that builds its own grpc objects.
import * as grpc from '@grpc/grpc-js';
import { SpanKind } from '@opentelemetry/api';
import { shutdownTelemetry, startTelemetry, type ReadableSpan, type Telemetry } from '@glcert/telemetry';
import { checkHealth } from './client';
import { startTestService, type Harness } from './testing/harness';
import { call, callError } from './testing/test-service';

let telemetry: Telemetry;
let a: Harness;
let b: Harness;

beforeAll(async () => {
  telemetry = startTelemetry({ serviceName: 'runtime-test', mode: 'memory', env: {} });
  telemetry.instrumentGrpc(grpc);
  b = await startTestService();
  a = await startTestService({}, { downstream: b.client() });
});

afterAll(async () => {
  await a.close();
  await b.close();
  await shutdownTelemetry();
});

beforeEach(() => telemetry.memoryExporter!.reset());

const spanId = (s: ReadableSpan): string => s.spanContext().spanId;
const traceId = (s: ReadableSpan): string => s.spanContext().traceId;
const parentId = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;

async function spans(): Promise<ReadableSpan[]> {
  await telemetry.flush();
  return telemetry.finishedSpans();
}

it('is on, in memory', () => {
  expect(telemetry).toMatchObject({ enabled: true, exporter: 'memory' });
});

it('a client call and its server handler are spans of one trace', async () => {
  await call(a.client(), 'echo', { text: 'traced' });
  const all = (await spans()).filter((s) => s.name === 'grpc.glcert.test.v1.TestService/Echo');
  const client = all.filter((s) => s.kind === SpanKind.CLIENT);
  const server = all.filter((s) => s.kind === SpanKind.SERVER);
  expect(client).toHaveLength(1);
  expect(server).toHaveLength(1);
  expect(traceId(server[0]!)).toBe(traceId(client[0]!));
  expect(parentId(server[0]!)).toBe(spanId(client[0]!));
  // the semantic-convention attributes instrumentation-grpc 0.223.0 emits (see libs/telemetry/README.md)
  expect(server[0]!.attributes).toMatchObject({
    'rpc.system': 'grpc',
    'rpc.service': 'glcert.test.v1.TestService',
    'rpc.method': 'Echo',
    'rpc.grpc.status_code': 0,
  });
  expect(client[0]!.attributes).toMatchObject({ 'rpc.system': 'grpc', 'rpc.method': 'Echo', 'server.address': '127.0.0.1' });
  expect(client[0]!.attributes['server.port']).toBe(a.svc.port);
});

it('a downstream call made while serving (A -> B) joins the same trace', async () => {
  await call(a.client(), 'relay', { text: 'hop' });
  const all = await spans();
  const relay = all.find((s) => s.name.endsWith('/Relay') && s.kind === SpanKind.SERVER)!;
  const echoClient = all.find((s) => s.name.endsWith('/Echo') && s.kind === SpanKind.CLIENT)!;
  const echoServer = all.find((s) => s.name.endsWith('/Echo') && s.kind === SpanKind.SERVER)!;
  expect(new Set(all.map(traceId)).size).toBe(1);
  expect(parentId(echoClient)).toBe(spanId(relay));
  expect(parentId(echoServer)).toBe(spanId(echoClient));
});

it('a failed call records its status code on both sides', async () => {
  const err = await callError(a.client(), 'echo', { text: 'x', fail: 'notfound' });
  expect(err.code).toBe(grpc.status.NOT_FOUND);
  const all = (await spans()).filter((s) => s.name.endsWith('/Echo'));
  expect(all).toHaveLength(2);
  for (const s of all) expect(s.attributes['rpc.grpc.status_code']).toBe(grpc.status.NOT_FOUND);
});

it('health checks are not traced', async () => {
  a.svc.ready();
  expect(await checkHealth(a.health(), '')).toBe('SERVING');
  await call(a.client(), 'echo', { text: 'after-health' });
  const names = (await spans()).map((s) => s.name);
  expect(names.some((n) => n.includes('grpc.health.v1.Health'))).toBe(false);
  expect(names).toContain('grpc.glcert.test.v1.TestService/Echo');
});
