// What the handlers share: config, clients, the signing key, admission, the request cache,
// the shutdown state, and the two ways to certify (Certify, stream items) built on
// runCertification.
import { createHash } from 'node:crypto';
import type { Link, Span } from '@opentelemetry/api';
import { withSpan } from '@glcert/telemetry';
import { certifyV1, type Bound, type BoundServiceClient, type inferenceV1 } from '@glcert/contracts';
import type { SigningKey } from '@glcert/certificate';
import { downstreamDeadline, type Logger } from '@glcert/runtime';
import type { Admission } from './admission';
import { fetchBound, runCertification, type CertifyJob, type CertifyResult } from './certify';
import type { CertifierConfig } from './config';
import type { RequestCache } from './request-cache';
import type { CallScope, SamplerPool } from '@glcert/sampling';
import { prepareInput, type InputOneof } from '@glcert/imaging';
import type { CertifySettings } from './validate';

export const TRACER = '@glcert/certifier';
/** Cap on GetModel (a metadata lookup). */
const GET_MODEL_TIMEOUT_MS = 15_000;

export interface CertifierCore {
  readonly cfg: CertifierConfig;
  readonly log: Logger;
  readonly pool: SamplerPool;
  readonly bounds: BoundServiceClient;
  readonly key: SigningKey;
  readonly admission: Admission;
  readonly cache: RequestCache<certifyV1.CertifyResponse>;
  /** Aborted when shutdown's drain period is over: work still running ends with UNAVAILABLE. */
  readonly closing: AbortSignal;
  /** True from the start of shutdown: no new work is accepted. */
  draining(): boolean;
  /** Streams register to be told when shutdown starts. */
  readonly streams: Set<{ drain(): void }>;
}

/**
 * Epoch ms by which the work's downstream calls must end, read at each call: the caller's
 * deadline (`() => callDeadline(call)`), or `() => Infinity` for work that belongs to no one
 * caller (a Certify shared by request_id: it ends through its signal when its last caller goes).
 */
export type DeadlineSource = () => number;

/**
 * A CallScope whose calls get `deadline()` (less a margin, capped at `timeoutMs` from now)
 * and are cancelled through `signal` (which follows the caller's cancellation).
 *
 * Not grpc-js' `parent` option: it adds a 'cancelled' listener to the parent call for every
 * child call and never removes it, so a long stream (thousands of items, each several chunk
 * calls) would accumulate listeners without bound.
 */
export function scopeOf(deadline: DeadlineSource, signal: AbortSignal, timeoutMs: number): CallScope {
  return {
    callOptions: () => ({ deadline: new Date(downstreamDeadline(deadline(), timeoutMs)) }),
    signal,
  };
}

export function getModel(core: CertifierCore, model: string, deadline: DeadlineSource, signal: AbortSignal): Promise<inferenceV1.ModelMetadata> {
  return core.pool.getModel(model, scopeOf(deadline, signal, GET_MODEL_TIMEOUT_MS));
}

export function lookupBound(core: CertifierCore, settings: CertifySettings, deadline: DeadlineSource, signal: AbortSignal): Promise<Bound> {
  return fetchBound(core.bounds, settings, scopeOf(deadline, signal, core.cfg.boundsTimeoutMs));
}

/** Fingerprint of a Certify request without its request_id (same id + other request = conflict). */
export function requestFingerprint(req: certifyV1.CertifyRequest): string {
  return createHash('sha256')
    .update(certifyV1.CertifyRequest.encode({ ...req, requestId: '' }).finish())
    .digest('hex');
}

/** A CertifyJob before its input is decoded, with the deadline and cancellation of its downstream calls. */
export interface ItemWork extends CertifyJob<InputOneof> {
  /** Field prefix of the input in errors (`''` for Certify, `item` in a stream). */
  inputPrefix: string;
  /** Deadline of the downstream calls (see DeadlineSource). */
  deadline: DeadlineSource;
  signal: AbortSignal;
}

/** Decodes the input and runs the certification. */
export async function certifyInput(core: CertifierCore, work: ItemWork, span?: Span): Promise<CertifyResult> {
  const input = await prepareInput(work.input, work.meta, work.inputPrefix);
  span?.setAttribute('glcert.preprocessing_steps', input.preprocessing.length);
  const { requestId, settings, meta, seed, notes, bound } = work;
  return runCertification(
    { requestId, settings, meta, input, seed, notes, bound },
    { pool: core.pool, key: core.key, chunkSize: core.cfg.chunkSize, samplerBatchSize: core.cfg.samplerBatchSize },
    scopeOf(work.deadline, work.signal, core.cfg.chunkTimeoutMs),
    span,
  );
}

/**
 * Runs `fn` in a new span of the certifier's tracer (telemetry's withSpan). `root` with `links`:
 * a new trace (a stream item, linked to its stream's span); otherwise a child of the active span.
 */
export function inSpan<T>(
  name: string,
  options: { root?: boolean; links?: Link[]; attributes?: Record<string, string | number | boolean> },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return withSpan(TRACER, name, options, fn);
}
