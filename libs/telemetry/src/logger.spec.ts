import { context, trace, type SpanContext } from '@opentelemetry/api';
import { createLogger, type LogLevel, isSecretKey, parseLogLevel, REDACTED } from './logger';
import { shutdownTelemetry, startTelemetry } from './telemetry';

function capture(level?: LogLevel) {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger('svc', { level, sink: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) });
  return { log, lines };
}

describe('logger', () => {
  it('writes one JSON object per line with time, level, logger, msg and fields', () => {
    const raw: string[] = [];
    createLogger('svc', { level: 'info', sink: (l) => raw.push(l) }).info('listening', { address: '127.0.0.1:1' });
    expect(raw).toHaveLength(1);
    expect(raw[0]!.endsWith('\n')).toBe(true);
    expect(JSON.parse(raw[0]!)).toMatchObject({ level: 'info', logger: 'svc', msg: 'listening', address: '127.0.0.1:1' });
    expect(typeof JSON.parse(raw[0]!).time).toBe('string');
  });

  it('filters by level; LOG_LEVEL names are parsed leniently', () => {
    const { log, lines } = capture('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines.map((l) => l['level'])).toEqual(['warn', 'error']);
    expect(parseLogLevel('DEBUG')).toBe('debug');
    expect(parseLogLevel('warning')).toBe('warn');
    expect(parseLogLevel('nonsense')).toBe('info');
    expect(parseLogLevel(undefined, 'error')).toBe('error');
  });

  it('never writes secrets: credential-like fields are redacted at any depth', () => {
    const { log, lines } = capture('info');
    log.info('config', {
      config: { CERTIFIER_SIGNING_KEY: 'abc', OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer x', port: 1 },
      password: 'hunter2',
      headers: { Authorization: 'Bearer y', cookie: 'c' },
      apiKey: 'k',
      token: 't',
    });
    const text = JSON.stringify(lines[0]);
    for (const secret of ['abc', 'Bearer x', 'hunter2', 'Bearer y', '"k"', '"t"', '"c"']) expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({ config: { CERTIFIER_SIGNING_KEY: REDACTED, port: 1 }, password: REDACTED, headers: { Authorization: REDACTED } });
    expect(isSecretKey('max_receive_message_bytes')).toBe(false);
    expect(isSecretKey('GLCERT_TLS_KEY_FILE')).toBe(false); // a path, not a key
    expect(isSecretKey('private_key')).toBe(true);
  });

  it('serializes errors (stack only at debug), buffers as sizes, bigints as strings', () => {
    const { log, lines } = capture('info');
    log.error('failed', { err: Object.assign(new Error('boom'), { code: 'EFOO' }), payload: Buffer.alloc(12), n: 10n });
    expect(lines[0]).toMatchObject({ err: { name: 'Error', message: 'boom', code: 'EFOO' }, payload: '<12 bytes>', n: '10' });
    expect((lines[0]!['err'] as Record<string, unknown>)['stack']).toBeUndefined();
    const dbg = capture('debug');
    dbg.log.error('failed', { err: new Error('boom') });
    expect(String((dbg.lines[0]!['err'] as Record<string, unknown>)['stack'])).toContain('boom');
  });

  it('child loggers add fields; the active span adds trace_id/span_id', async () => {
    // a context manager is needed for an active span: the SDK registers one
    startTelemetry({ serviceName: 'log', mode: 'memory', env: {}, logger: createLogger('t', { level: 'silent' }) });
    const { log, lines } = capture('info');
    const sc: SpanContext = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 };
    context.with(trace.setSpanContext(context.active(), sc), () => log.child({ method: '/a.B/C' }).info('in span'));
    await shutdownTelemetry();
    expect(lines[0]).toMatchObject({ method: '/a.B/C', trace_id: sc.traceId, span_id: sc.spanId });
    log.info('no span');
    expect(lines[1]!['trace_id']).toBeUndefined();
  });
});
