import { context, SpanStatusCode, trace } from '@opentelemetry/api';
import { createLogger } from './logger';
import { markSpanError, withSpan } from './spans';
import { shutdownTelemetry, startTelemetry, type Telemetry } from './telemetry';

const quiet = createLogger('test', { level: 'silent' });

describe('withSpan', () => {
  let t: Telemetry;
  beforeEach(() => {
    t = startTelemetry({ serviceName: 'spans', mode: 'memory', env: {}, logger: quiet });
  });
  afterEach(() => shutdownTelemetry());

  it('runs the work in an active child span that ends with it', async () => {
    const result = await withSpan('test', 'outer', { attributes: { 'glcert.n': 3 } }, async (outer) =>
      withSpan('test', 'inner', {}, async () => {
        expect(trace.getActiveSpan()?.spanContext().spanId).not.toBe(outer.spanContext().spanId);
        return 42;
      }),
    );
    expect(result).toBe(42);
    await t.flush();
    const spans = t.finishedSpans();
    const outer = spans.find((s) => s.name === 'outer')!;
    const inner = spans.find((s) => s.name === 'inner')!;
    expect(outer.attributes).toMatchObject({ 'glcert.n': 3 });
    expect(inner.parentSpanContext?.spanId ?? (inner as unknown as { parentSpanId?: string }).parentSpanId).toBe(outer.spanContext().spanId);
    expect(outer.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it('a root span starts a new trace with its links, even inside another span', async () => {
    await withSpan('test', 'stream', {}, async (stream) => {
      const link = { context: stream.spanContext() };
      await withSpan('test', 'item', { root: true, links: [link] }, async () => undefined);
    });
    await t.flush();
    const stream = t.finishedSpans().find((s) => s.name === 'stream')!;
    const item = t.finishedSpans().find((s) => s.name === 'item')!;
    expect(item.spanContext().traceId).not.toBe(stream.spanContext().traceId);
    expect(item.links.map((l) => l.context.spanId)).toEqual([stream.spanContext().spanId]);
  });

  it('a failure marks the span (message, gRPC code, exception when asked), is rethrown, and the span ends', async () => {
    const err = Object.assign(new Error('sampler gone'), { code: 14 });
    await expect(withSpan('test', 'chunk', {}, async () => Promise.reject(err))).rejects.toBe(err);
    await expect(withSpan('test', 'batch', { recordException: true }, async () => Promise.reject(new Error('worker died')))).rejects.toThrow('worker died');
    expect(trace.getSpan(context.active())).toBeUndefined();
    await t.flush();
    const chunk = t.finishedSpans().find((s) => s.name === 'chunk')!;
    expect(chunk.status).toEqual({ code: SpanStatusCode.ERROR, message: 'sampler gone' });
    expect(chunk.attributes['glcert.status_code']).toBe(14);
    expect(chunk.events).toEqual([]);
    const batch = t.finishedSpans().find((s) => s.name === 'batch')!;
    expect(batch.status.code).toBe(SpanStatusCode.ERROR);
    expect(batch.attributes['glcert.status_code']).toBeUndefined();
    expect(batch.events.map((e) => e.name)).toEqual(['exception']);
  });
});

describe('markSpanError', () => {
  it('marks a span started by hand', async () => {
    const t = startTelemetry({ serviceName: 'spans', mode: 'memory', env: {}, logger: quiet });
    try {
      const span = trace.getTracer('test').startSpan('manual');
      markSpanError(span, 'not an Error');
      span.end();
      await t.flush();
      expect(t.finishedSpans()[0]!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'not an Error' });
    } finally {
      await shutdownTelemetry();
    }
  });
});
