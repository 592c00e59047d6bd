import { context, ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { AlwaysOnSampler, SamplingDecision } from '@opentelemetry/sdk-trace-base';
import { bootstrap } from './bootstrap';
import { createLogger } from './logger';
import { IgnoreSpansSampler, samplerFromEnv } from './sampler';
import { exporterFromEnv, getTelemetry, shutdownTelemetry, startTelemetry } from './telemetry';

const quiet = createLogger('telemetry', { level: 'silent' });

afterEach(async () => {
  await shutdownTelemetry();
});

describe('exporterFromEnv', () => {
  it.each([
    [{}, 'none', /no OTEL_EXPORTER_OTLP_ENDPOINT/],
    [{ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, 'none', /OTEL_SDK_DISABLED/],
    [{ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, 'none', /OTEL_TRACES_EXPORTER=none/],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, 'otlp (http/protobuf)', undefined],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }, 'otlp (grpc)', undefined],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4317/v1/traces', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' }, 'otlp (http/json)', undefined],
    [{ OTEL_TRACES_EXPORTER: 'console' }, 'console', undefined],
    // as sdk-node decides: a blank TRACES_PROTOCOL counts as unset, an unsupported value is http/protobuf
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: ' ', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }, 'otlp (http/json)', undefined],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http' }, 'otlp (http/protobuf)', undefined],
  ])('%j -> %s', (env, exporter, reason) => {
    const d = exporterFromEnv(env as NodeJS.ProcessEnv);
    expect(d.exporter).toBe(exporter);
    if (reason) expect(d.reason).toMatch(reason);
    else expect(d.reason).toBeUndefined();
  });
});

describe('startTelemetry', () => {
  it('is off, cleanly, without an endpoint: no-op flush and shutdown', async () => {
    const t = startTelemetry({ serviceName: 's', env: {}, logger: quiet });
    expect(t).toMatchObject({ enabled: false, exporter: 'none' });
    await t.flush();
    expect(t.finishedSpans()).toEqual([]);
    t.instrumentGrpc({});
  });

  it('is off with OTEL_SDK_DISABLED=true even in memory mode', () => {
    expect(startTelemetry({ serviceName: 's', mode: 'memory', env: { OTEL_SDK_DISABLED: 'true' }, logger: quiet }).enabled).toBe(false);
  });

  it('memory mode records spans with the service name; a second start returns the running instance', async () => {
    const t = startTelemetry({ serviceName: 'svc-a', mode: 'memory', env: {}, logger: quiet });
    expect(startTelemetry({ serviceName: 'other', logger: quiet })).toBe(t);
    expect(getTelemetry()).toBe(t);
    trace.getTracer('test').startSpan('work', { attributes: { 'glcert.n': 10 } }).end();
    await t.flush();
    const [span] = t.finishedSpans();
    expect(span).toMatchObject({ name: 'work', attributes: { 'glcert.n': 10 } });
    expect(span!.resource.attributes['service.name']).toBe('svc-a');
  });

  it('can be started again after shutdown (fresh globals)', async () => {
    startTelemetry({ serviceName: 'one', mode: 'memory', env: {}, logger: quiet });
    await shutdownTelemetry();
    expect(getTelemetry()).toBeUndefined();
    const t = startTelemetry({ serviceName: 'two', mode: 'memory', env: {}, logger: quiet });
    trace.getTracer('test').startSpan('again').end();
    await t.flush();
    expect(t.finishedSpans().map((s) => s.name)).toEqual(['again']);
  });

  it('env mode with an unreachable OTLP endpoint starts, and shuts down within its bound', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:1', OTEL_EXPORTER_OTLP_TIMEOUT: '200' });
    try {
      const t = startTelemetry({ serviceName: 's', logger: quiet });
      expect(t).toMatchObject({ enabled: true, exporter: 'otlp (http/protobuf)' });
      trace.getTracer('test').startSpan('lost').end();
      const t0 = Date.now();
      await shutdownTelemetry(1_000);
      expect(Date.now() - t0).toBeLessThan(2_500);
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
      Object.assign(process.env, saved);
    }
  });
});

describe('samplers', () => {
  const sample = (s: IgnoreSpansSampler, name: string) =>
    s.shouldSample(ROOT_CONTEXT, '0af7651916cd43dd8448eb211c80319c', name, SpanKind.SERVER, {}, []).decision;

  it('drop grpc.health.v1.Health/* spans (client and server names), keep the rest', () => {
    const s = new IgnoreSpansSampler(new AlwaysOnSampler());
    expect(sample(s, 'grpc.grpc.health.v1.Health/Check')).toBe(SamplingDecision.NOT_RECORD);
    expect(sample(s, 'grpc.grpc.health.v1.Health/Watch')).toBe(SamplingDecision.NOT_RECORD);
    expect(sample(s, 'grpc.glcert.certify.v1.CertificationService/Check')).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  it('follow OTEL_TRACES_SAMPLER', () => {
    expect(samplerFromEnv({}).toString()).toMatch(/ParentBased/);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'always_off' }).toString()).toMatch(/AlwaysOff/);
    expect(samplerFromEnv({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).toString()).toMatch(/0\.25/);
  });
});

describe('bootstrap', () => {
  it('starts telemetry before loading the service module, then calls its main()', async () => {
    const order: string[] = [];
    await bootstrap(
      'boot',
      async () => {
        order.push(`load:${getTelemetry()?.serviceName}`);
        return { main: async () => order.push('main') };
      },
      { mode: 'memory', env: {}, logger: quiet, exit: () => order.push('exit') },
    );
    expect(order).toEqual(['load:boot', 'main']);
  });

  it('a failing start is logged and exits 1', async () => {
    const lines: string[] = [];
    const logger = createLogger('boot', { level: 'error', sink: (l) => lines.push(l) });
    const exit = jest.fn();
    await bootstrap('boot', () => ({ main: () => Promise.reject(new Error('bind failed')) }), { mode: 'off', logger, exit });
    expect(exit).toHaveBeenCalledWith(1);
    expect(lines.join('')).toContain('bind failed');
  });

  it('active context is usable after start (AsyncLocalStorage context manager)', async () => {
    const t = startTelemetry({ serviceName: 'ctx', mode: 'memory', env: {}, logger: quiet });
    const tracer = trace.getTracer('test');
    await tracer.startActiveSpan('outer', async (outer) => {
      await new Promise((r) => setTimeout(r, 1));
      tracer.startSpan('inner').end();
      outer.end();
    });
    await t.flush();
    const [inner, outer] = t.finishedSpans();
    expect(inner!.parentSpanContext?.spanId).toBe(outer!.spanContext().spanId);
    expect(context.active()).toBe(ROOT_CONTEXT);
  });
});
