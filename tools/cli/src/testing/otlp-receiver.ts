// A minimal OTLP/HTTP trace receiver for whole-system tests: a node:http server on
// 127.0.0.1:0 that accepts `POST /v1/traces` with an OTLP/JSON body (what the services send
// with OTEL_EXPORTER_OTLP_PROTOCOL=http/json), keeps every span, flattened, and answers 200
// with an empty ExportTraceServiceResponse. Bodies may be gzip-compressed
// (OTEL_EXPORTER_OTLP_COMPRESSION=gzip). Anything else (another path, a protobuf body) is
// answered 404 / 415 and counted in `rejected`, so a test notices a misconfigured exporter.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export type AttributeValue = string | number | boolean | null | AttributeValue[] | { [key: string]: AttributeValue };

/** One received span, its OTLP/JSON fields decoded (ids stay lowercase hex, as OTLP/JSON writes them). */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** Undefined for a root span. */
  parentSpanId?: string;
  name: string;
  /** OTLP SpanKind: 1 INTERNAL, 2 SERVER, 3 CLIENT, 4 PRODUCER, 5 CONSUMER. */
  kind: number;
  /** `service.name` of the exporting process's resource. */
  service: string;
  /** Instrumentation scope name (`@opentelemetry/instrumentation-grpc`, `@glcert/certifier`, ...). */
  scope: string;
  attributes: Record<string, AttributeValue>;
  resource: Record<string, AttributeValue>;
  links: Array<{ traceId: string; spanId: string; attributes: Record<string, AttributeValue> }>;
  events: Array<{ name: string; attributes: Record<string, AttributeValue> }>;
  /** OTLP status code: 0 UNSET, 1 OK, 2 ERROR. */
  statusCode: number;
  startNs: bigint;
  endNs: bigint;
}

export const SPAN_KIND = { INTERNAL: 1, SERVER: 2, CLIENT: 3 } as const;

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: the value of OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly endpoint: string;
  readonly port: number;
  /** Every span received so far, in arrival order. */
  spans(): ReceivedSpan[];
  /** Every request body received on /v1/traces (decompressed text), for blanket checks. */
  bodies(): string[];
  /** Requests refused (wrong path, method or content type), as `METHOD path content-type`. */
  readonly rejected: string[];
  /**
   * Resolves with `check(spans)` once it returns a value other than undefined (re-checked on
   * every export and every 250 ms); rejects after `timeoutMs` with `describe(spans)`.
   */
  waitFor<T>(check: (spans: ReceivedSpan[]) => T | undefined, timeoutMs: number, describe?: (spans: ReceivedSpan[]) => string): Promise<T>;
  close(): Promise<void>;
}

interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | string;
  doubleValue?: number | string;
  bytesValue?: string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: OtlpKeyValue[];
  events?: Array<{ name: string; attributes?: OtlpKeyValue[] }>;
  links?: Array<{ traceId: string; spanId: string; attributes?: OtlpKeyValue[] }>;
  status?: { code?: number };
}
interface OtlpRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{ scope?: { name?: string }; spans?: OtlpSpan[] }>;
  }>;
}

function anyValue(v: OtlpAnyValue | undefined): AttributeValue {
  if (v === undefined) return null;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return Number(v.doubleValue);
  // base64 in OTLP/JSON: kept as the string, so a size check sees it
  if (v.bytesValue !== undefined) return v.bytesValue;
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue);
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue.values);
  return null;
}

function attributes(kvs: OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of kvs ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

/** Lowercase hex: OTLP/JSON writes ids as hex; a base64 id (some SDKs) is converted. */
function hexId(id: string | undefined, bytes: number): string | undefined {
  if (id === undefined || id === '') return undefined;
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(id)) return id.toLowerCase();
  return Buffer.from(id, 'base64').toString('hex');
}

/** The spans of one ExportTraceServiceRequest in OTLP/JSON. */
export function decodeOtlpJson(body: OtlpRequest): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    const service = typeof resource['service.name'] === 'string' ? resource['service.name'] : '';
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: hexId(s.traceId, 16)!,
          spanId: hexId(s.spanId, 8)!,
          parentSpanId: hexId(s.parentSpanId, 8),
          name: s.name,
          kind: s.kind ?? 0,
          service,
          scope: ss.scope?.name ?? '',
          attributes: attributes(s.attributes),
          resource,
          links: (s.links ?? []).map((l) => ({ traceId: hexId(l.traceId, 16)!, spanId: hexId(l.spanId, 8)!, attributes: attributes(l.attributes) })),
          events: (s.events ?? []).map((e) => ({ name: e.name, attributes: attributes(e.attributes) })),
          statusCode: s.status?.code ?? 0,
          startNs: BigInt(s.startTimeUnixNano ?? 0),
          endNs: BigInt(s.endTimeUnixNano ?? 0),
        });
      }
    }
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Starts the receiver on 127.0.0.1 (port 0: any free port). */
export async function startOtlpReceiver(port = 0): Promise<OtlpReceiver> {
  const received: ReceivedSpan[] = [];
  const bodies: string[] = [];
  const rejected: string[] = [];
  const listeners = new Set<() => void>();
  const notify = (): void => {
    for (const l of [...listeners]) l();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const raw = await readBody(req);
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/traces') {
      rejected.push(`${req.method} ${req.url} ${type}`);
      res.writeHead(404).end();
      return;
    }
    if (type !== 'application/json') {
      rejected.push(`${req.method} ${req.url} ${type}`);
      res.writeHead(415, { 'content-type': 'text/plain' }).end('this receiver takes OTLP/JSON only (OTEL_EXPORTER_OTLP_PROTOCOL=http/json)');
      return;
    }
    let text: string;
    let spans: ReceivedSpan[];
    try {
      text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8');
      spans = decodeOtlpJson(JSON.parse(text) as OtlpRequest);
    } catch (err) {
      rejected.push(`${req.method} ${req.url} ${type}: ${(err as Error).message}`);
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ code: 3, message: (err as Error).message }));
      return;
    }
    bodies.push(text);
    received.push(...spans);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    notify();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // exporters keep connections alive; never let one hold the test process open
  server.keepAliveTimeout = 1_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;

  return {
    endpoint: `http://127.0.0.1:${bound}`,
    port: bound,
    spans: () => [...received],
    bodies: () => [...bodies],
    rejected,
    waitFor<T>(check: (spans: ReceivedSpan[]) => T | undefined, timeoutMs: number, describe?: (spans: ReceivedSpan[]) => string): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        let done = false;
        const finish = (fn: () => void): void => {
          if (done) return;
          done = true;
          listeners.delete(attempt);
          clearInterval(poll);
          clearTimeout(timer);
          fn();
        };
        const attempt = (): void => {
          if (done) return;
          let value: T | undefined;
          try {
            value = check([...received]);
          } catch (err) {
            finish(() => reject(err));
            return;
          }
          if (value !== undefined) finish(() => resolve(value as T));
        };
        const poll = setInterval(attempt, 250);
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(new Error(`spans not received within ${timeoutMs} ms${describe ? `:\n${describe([...received])}` : ` (${received.length} spans so far)`}`)),
            ),
          timeoutMs,
        );
        listeners.add(attempt);
        attempt();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
