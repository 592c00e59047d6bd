import { trace } from '@opentelemetry/api';

/**
 * A small structured logger: one JSON object per line on stderr
 * (`{"time":..,"level":"info","logger":"certifier","msg":"..",...fields}`), with the active
 * span's `trace_id`/`span_id` when there is one, so log lines join their trace.
 *
 * It never writes secrets: any field whose name looks like a credential (password, secret,
 * token, authorization, api key, private key, cookie, credential, otlp headers) is written as
 * "[REDACTED]", at any depth. Error values become `{ name, message, code?, stack? }` (stack
 * only at debug level).
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  isEnabled(level: Exclude<LogLevel, 'silent'>): boolean;
}

export interface LoggerOptions {
  /** Default: LOG_LEVEL from the environment, else `info`. */
  level?: LogLevel;
  /** Where lines go. Default: process.stderr. */
  sink?: (line: string) => void;
  /** Fields on every line. */
  fields?: LogFields;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };
export const REDACTED = '[REDACTED]';
const SECRET_KEY =
  /pass(word|wd|phrase)?$|secret|token|authori[sz]ation|api[-_]?key|private[-_]?key|signing[-_]?key|credential|cookie|otel_exporter_otlp(_\w+)?_headers/i;

/** True when a field name looks like it holds a credential. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

export function parseLogLevel(raw: string | undefined, fallback: LogLevel = 'info'): LogLevel {
  const v = (raw ?? '').trim().toLowerCase();
  if (v === 'warning') return 'warn';
  return v in RANK ? (v as LogLevel) : fallback;
}

function serialize(value: unknown, withStack: boolean, depth: number, seen: WeakSet<object>): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return String(value);
  if (typeof value !== 'object') return value;
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value)) return `<${value.byteLength} bytes>`;
  if (seen.has(value)) return '[Circular]';
  if (depth > 6) return '[Object]';
  seen.add(value);
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; cause?: unknown };
    const out: LogFields = { name: e.name, message: e.message };
    if (e.code !== undefined) out['code'] = e.code;
    if (withStack && e.stack) out['stack'] = e.stack;
    if (e.cause !== undefined) out['cause'] = serialize(e.cause, withStack, depth + 1, seen);
    return out;
  }
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((v) => serialize(v, withStack, depth + 1, seen));
  const out: LogFields = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) ? REDACTED : serialize(v, withStack, depth + 1, seen);
  }
  return out;
}

class JsonLogger implements Logger {
  constructor(
    readonly level: LogLevel,
    private readonly sink: (line: string) => void,
    private readonly fields: LogFields,
  ) {}

  isEnabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return RANK[level] >= RANK[this.level];
  }

  private write(level: Exclude<LogLevel, 'silent'>, msg: string, fields?: LogFields): void {
    if (!this.isEnabled(level)) return;
    const line: LogFields = { time: new Date().toISOString(), level, msg };
    const spanContext = trace.getActiveSpan()?.spanContext();
    if (spanContext) {
      line['trace_id'] = spanContext.traceId;
      line['span_id'] = spanContext.spanId;
    }
    const extra = serialize({ ...this.fields, ...fields }, this.level === 'debug', 0, new WeakSet()) as LogFields;
    for (const [k, v] of Object.entries(extra)) if (!(k in line)) line[k] = v;
    try {
      this.sink(JSON.stringify(line) + '\n');
    } catch {
      // a logger never throws into the code that logs
    }
  }

  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.level, this.sink, { ...this.fields, ...fields });
  }
}

/** `createLogger('certifier')` writes `"logger":"certifier"` on every line. */
export function createLogger(name: string, options: LoggerOptions = {}): Logger {
  const level = options.level ?? parseLogLevel(process.env['LOG_LEVEL']);
  const sink = options.sink ?? ((line: string) => void process.stderr.write(line));
  return new JsonLogger(level, sink, { logger: name, ...options.fields });
}
