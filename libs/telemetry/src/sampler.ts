import type { Attributes, Context, Link, SpanKind } from '@opentelemetry/api';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-base';

/**
 * Span-name prefixes that are never recorded. instrumentation-grpc names spans
 * `grpc.<package.Service>/<Method>`, so this drops both the client and the server side of
 * every `grpc.health.v1.Health/*` call (Kubernetes probes would otherwise be most of the traces).
 *
 * Why not `ignoreGrpcMethods`: in instrumentation-grpc 0.223.0 that option is matched against
 * the bare method name only (`Check`, `Watch`), never the service, so it cannot say
 * "Health/Check" without also ignoring every other service's `Check`.
 */
export const UNTRACED_SPAN_PREFIXES: readonly string[] = ['grpc.grpc.health.v1.Health/'];

/** Wraps a sampler and drops spans whose name starts with one of `prefixes`. */
export class IgnoreSpansSampler implements Sampler {
  constructor(
    private readonly delegate: Sampler,
    private readonly prefixes: readonly string[] = UNTRACED_SPAN_PREFIXES,
  ) {}

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (this.prefixes.some((p) => spanName.startsWith(p))) return { decision: SamplingDecision.NOT_RECORD };
    return this.delegate.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `IgnoreSpansSampler{${this.delegate.toString()}}`;
  }
}

function ratio(env: NodeJS.ProcessEnv): number {
  const raw = env['OTEL_TRACES_SAMPLER_ARG'];
  const value = raw === undefined || raw.trim() === '' ? NaN : Number(raw);
  return Number.isFinite(value) && value >= 0 && value <= 1 ? value : 1;
}

/**
 * The sampler the OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG variables ask for
 * (the spec's names; default `parentbased_always_on`).
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv = process.env): Sampler {
  switch ((env['OTEL_TRACES_SAMPLER'] ?? '').trim()) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio(env));
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio(env)) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}
