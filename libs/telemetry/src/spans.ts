// Spans of our own work (a batch, a chunk, a stream item): the one way to open one, run work in
// it and mark it failed. grpc-js calls get theirs from the instrumentation.
import { context, ROOT_CONTEXT, SpanStatusCode, trace, type Attributes, type Context, type Link, type Span } from '@opentelemetry/api';

export interface SpanOptions {
  attributes?: Attributes;
  links?: Link[];
  /** A new trace (e.g. a stream item, linked to its stream's span) rather than a child. */
  root?: boolean;
  /** Parent of the span; default the active context. */
  parent?: Context;
  /** Also record a failure as an exception event (its message and stack). */
  recordException?: boolean;
}

/** Marks `span` failed by `err`: status ERROR with its message, and `glcert.status_code` when it carries a gRPC code. */
export function markSpanError(span: Span, err: unknown, recordException = false): void {
  if (recordException) span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'number') span.setAttribute('glcert.status_code', code);
}

/**
 * Runs `fn` in a new span of tracer `tracerName`, active while it runs; a failure marks the
 * span (markSpanError) and is rethrown; the span ends either way.
 */
export function withSpan<T>(tracerName: string, name: string, options: SpanOptions, fn: (span: Span) => Promise<T>): Promise<T> {
  const parent = options.root ? ROOT_CONTEXT : (options.parent ?? context.active());
  const span = trace.getTracer(tracerName).startSpan(name, { root: options.root, links: options.links, attributes: options.attributes }, parent);
  return context.with(trace.setSpan(parent, span), async () => {
    try {
      return await fn(span);
    } catch (err) {
      markSpanError(span, err, options.recordException);
      throw err;
    } finally {
      span.end();
    }
  });
}
