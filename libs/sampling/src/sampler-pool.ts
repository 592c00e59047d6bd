// The samplers as one pool: a client per SAMPLER_ADDRS entry (a `dns:///` entry is one
// round-robin client over every address of the name), a fixed number of CountSamples calls in
// flight per entry, and chunk scheduling with failover.
//
// Scheduling: a chunk takes a slot on the least busy entry that is neither cooling down (it
// failed recently) nor already failed this chunk; when every such entry is busy it waits for a
// slot (the callers bound the waiters: the certifier's admission control and CERTIFIER_MAX_N,
// the verifier's VERIFIER_MAX_AUDIT_SAMPLES). A chunk that fails with UNAVAILABLE (the sampler
// died, is shutting down, or cannot be reached) is retried on another entry after an
// exponential backoff, at most `retries` times; so is a chunk refused with FAILED_PRECONDITION /
// MODEL_MISMATCH (that replica's sidecar serves another model file than the caller expects,
// e.g. during a rolling update) or answered with another model_sha256 than expected. Any other
// failure ends the whole count (its other chunks are cancelled). Counts depend only on (seed,
// stream, index), so a retried chunk gives the same counts as a fault-free run.
import * as grpc from '@grpc/grpc-js';
import { SamplingServiceClient, type inferenceV1, type samplingV1 } from '@glcert/contracts';
import {
  createClient,
  grpcCode,
  isModelNotFound,
  modelMismatchError,
  modelMismatchOf,
  modelNotFoundError,
  sleep,
  unaryCall,
  UnavailableError,
  type Logger,
  type UnaryCallOptions,
} from '@glcert/runtime';
import { withSpan } from '@glcert/telemetry';
import { addCounts, type Chunk } from './chunks';
import { shared } from '@glcert/runtime';

const MAX_BACKOFF_MS = 2_000;

/** A CountSamples request without its ranges: what every call of one count shares. */
export type CountBase = Omit<samplingV1.CountSamplesRequest, 'stream' | 'startIndex' | 'endIndex' | 'moreRanges'>;

export interface SamplerPoolOptions {
  /** SAMPLER_ADDRS entries. */
  addrs: readonly string[];
  /** Calls in flight per entry. */
  concurrency: number;
  /** Retries of a call that failed with UNAVAILABLE or MODEL_MISMATCH. */
  retries: number;
  /** First backoff; doubles per retry (capped at 2 s), with +-25 % jitter. */
  backoffMs: number;
  maxReceiveMessageBytes?: number;
  maxSendMessageBytes?: number;
  /** Deadline of calls that get none from their caller. */
  defaultDeadlineMs?: number;
  log?: Logger;
  /** The service whose spans the chunks are: tracer `@glcert/<service>`, span `<service>.chunk` (docs/traces.md). Default certifier. */
  service?: string;
}

/** Per-call options: deadline and cancellation from the caller, and our own abort. */
export interface CallScope {
  /** Fresh options for each attempt (e.g. `() => propagate(call, { timeoutMs })`). */
  callOptions: () => grpc.CallOptions;
  /** Aborting it cancels the calls in flight and stops retries. */
  signal: AbortSignal;
}

export interface EndpointStats {
  address: string;
  /** Calls started (retries included). */
  calls: number;
  /** Calls that failed with a retryable code. */
  failures: number;
  inflight: number;
}

interface Endpoint {
  readonly address: string;
  readonly client: SamplingServiceClient;
  inflight: number;
  calls: number;
  failures: number;
  /** Consecutive failures (drives the cooldown). */
  strikes: number;
  coolUntil: number;
}

interface Waiter {
  exclude: ReadonlySet<Endpoint>;
  resolve(ep: Endpoint): void;
  reject(err: unknown): void;
  signal: AbortSignal;
  onAbort(): void;
}

const shaPrefix = (sha: string): string => (sha === '' ? '(none)' : sha.slice(0, 12));

/**
 * The one retry policy of sampler calls: which failures are retried on another sampler. A
 * sampler that is UNAVAILABLE, or one that serves another model (MODEL_MISMATCH): another
 * replica may serve the expected one.
 */
function retryableFailure(err: unknown): 'unavailable' | 'model' | undefined {
  if (grpcCode(err) === grpc.status.UNAVAILABLE) return 'unavailable';
  if (modelMismatchOf(err)) return 'model';
  return undefined;
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new UnavailableError('certification aborted');
}

export class SamplerPool {
  readonly #endpoints: Endpoint[];
  readonly #waiters: Waiter[] = [];
  readonly #opts: SamplerPoolOptions;
  #rotation = 0;
  #wakeTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: SamplerPoolOptions) {
    if (options.addrs.length === 0) throw new Error('SamplerPool: no sampler address');
    this.#opts = options;
    this.#endpoints = options.addrs.map((address) => ({
      address,
      client: createClient(SamplingServiceClient, address, {
        maxReceiveMessageBytes: options.maxReceiveMessageBytes,
        maxSendMessageBytes: options.maxSendMessageBytes,
        defaultDeadlineMs: options.defaultDeadlineMs,
        loadBalancing: 'round_robin',
      }),
      inflight: 0,
      calls: 0,
      failures: 0,
      strikes: 0,
      coolUntil: 0,
    }));
  }

  get size(): number {
    return this.#endpoints.length;
  }

  stats(): EndpointStats[] {
    return this.#endpoints.map(({ address, calls, failures, inflight }) => ({ address, calls, failures, inflight }));
  }

  /** Model metadata from any sampler (failover on UNAVAILABLE); NOT_FOUND for an unknown model. */
  async getModel(model: string, scope: CallScope): Promise<inferenceV1.ModelMetadata> {
    const res = await this.#withFailover(
      `GetModel(${model})`,
      false,
      scope,
      (ep, options) => unaryCall<samplingV1.GetModelRequest, samplingV1.GetModelResponse>(ep.client.getModel.bind(ep.client), { model }, options),
    ).catch((err: unknown) => {
      if (isModelNotFound(err)) throw modelNotFoundError(`model '${model}' is not served by the samplers`, model);
      throw err;
    });
    if (!res.metadata) throw new Error(`GetModel(${model}): response without metadata`);
    return res.metadata;
  }

  /**
   * Class counts of every chunk, summed. The chunks run concurrently over the pool, one call
   * each; the first failure that is not retried aborts the others and is thrown.
   */
  async countChunks(base: CountBase, chunks: readonly Chunk[], scope: CallScope): Promise<number[]> {
    const total: number[] = [];
    for (const counts of (await this.countCalls(base, chunks.map((c) => [c]), scope)).values()) addCounts(total, counts);
    return total;
  }

  /**
   * Class counts per stream over every piece of every call (planCalls: one CountSamples call per
   * list of pieces, the first piece its range and the others its more_ranges). The calls run
   * concurrently over the pool; the first failure that is not retried aborts the others and is
   * thrown.
   */
  async countCalls(base: CountBase, calls: ReadonlyArray<readonly Chunk[]>, scope: CallScope): Promise<Map<number, number[]>> {
    const local = new AbortController();
    shared(local.signal);
    const onOuterAbort = (): void => local.abort(abortReason(scope.signal));
    if (scope.signal.aborted) onOuterAbort();
    else scope.signal.addEventListener('abort', onOuterAbort, { once: true });
    const inner: CallScope = { callOptions: scope.callOptions, signal: local.signal };
    const byStream = new Map<number, number[]>();
    for (const piece of calls.flat()) if (!byStream.has(piece.stream)) byStream.set(piece.stream, []);
    try {
      await Promise.all(
        calls.map(async (pieces) => {
          try {
            const counts = await this.#countCall(base, pieces, inner);
            pieces.forEach((piece, i) => addCounts(byStream.get(piece.stream)!, counts[i]!));
          } catch (err) {
            if (!local.signal.aborted) local.abort(err);
            throw err;
          }
        }),
      );
    } catch (err) {
      // the first failure, not the abort it caused in its siblings
      throw local.signal.aborted ? local.signal.reason : err;
    } finally {
      scope.signal.removeEventListener('abort', onOuterAbort);
    }
    return byStream;
  }

  /** One CountSamples call over `pieces` (the first its range, the rest more_ranges): counts per piece. */
  async #countCall(base: CountBase, pieces: readonly Chunk[], scope: CallScope): Promise<ReadonlyArray<ReadonlyArray<bigint>>> {
    const [first, ...more] = pieces;
    if (!first) return [];
    const request: samplingV1.CountSamplesRequest = {
      ...base,
      stream: first.stream,
      startIndex: BigInt(first.start),
      endIndex: BigInt(first.end),
      moreRanges: more.map((c) => ({ stream: c.stream, startIndex: BigInt(c.start), endIndex: BigInt(c.end) })),
    };
    const service = this.#opts.service ?? 'certifier';
    const size = (c: Chunk): bigint => BigInt(c.end - c.start);
    const total = pieces.reduce((a, c) => a + size(c), 0n);
    const what = `CountSamples[${pieces.map((c) => `${c.stream}:${c.start}-${c.end})`).join(' ')}`;
    return withSpan(
      `@glcert/${service}`,
      `${service}.chunk`,
      { attributes: { 'glcert.stream': first.stream, 'glcert.start_index': first.start, 'glcert.count': Number(total), 'glcert.ranges': pieces.length } },
      async (span) => {
        const res = await this.#withFailover(what, true, scope, async (ep, options) => {
          span.setAttribute('glcert.sampler', ep.address);
          const r = await unaryCall<samplingV1.CountSamplesRequest, samplingV1.CountSamplesResponse>(ep.client.countSamples.bind(ep.client), request, options);
          // defence in depth: a sampler that ignored expected_model_sha256 (e.g. an older
          // version) must not add counts of another model; retried elsewhere like a refusal
          const want = request.expectedModelSha256;
          if (want !== '' && r.modelSha256 !== want) {
            throw modelMismatchError(`sampler ${ep.address} answered with model sha256 ${shaPrefix(r.modelSha256)}, not ${shaPrefix(want)}`, {
              expected: want,
              served: r.modelSha256,
            });
          }
          return r;
        }, (attempt) => span.setAttribute('glcert.attempts', attempt));
        const counted = (counts: readonly bigint[]): bigint => counts.reduce((a, b) => a + b, 0n);
        if (more.length > 0 && res.moreCounts.length === 0 && res.samplesCount === size(first) && counted(res.classCounts) === size(first)) {
          // a sampler from before more_ranges counted the first range only: count the others one call each
          this.#opts.log?.debug('sampler ignored more_ranges; counting them one call each', { ranges: more.length });
          const rest = await Promise.all(more.map((c) => this.#countCall(base, [c], scope)));
          return [res.classCounts, ...rest.map((r) => r[0]!)];
        }
        const perPiece = [res.classCounts, ...res.moreCounts.map((m) => m.classCounts)];
        if (perPiece.length !== pieces.length || res.samplesCount !== total || pieces.some((c, i) => counted(perPiece[i]!) !== size(c))) {
          throw new Error(
            `sampler counted ${perPiece.map(counted).join(' + ')} (samples_count ${res.samplesCount}) of ${pieces.map(size).join(' + ')} samples in ${what}`,
          );
        }
        return perPiece;
      },
    );
  }

  /**
   * Runs `fn` on an endpoint; on a retryable failure (see retryableFailure) marks it failed and
   * retries on another one after a backoff. `slotted` calls take one of the endpoint's slots
   * (and may wait for one). Out of retries: UNAVAILABLE, or FAILED_PRECONDITION when the last
   * failure was a sampler serving another model.
   */
  async #withFailover<T>(
    what: string,
    slotted: boolean,
    scope: CallScope,
    fn: (ep: Endpoint, options: UnaryCallOptions) => Promise<T>,
    onAttempt?: (attempt: number) => void,
  ): Promise<T> {
    const tried = new Set<Endpoint>();
    for (let attempt = 0; ; attempt++) {
      if (scope.signal.aborted) throw abortReason(scope.signal);
      const ep = slotted ? await this.#acquire(tried, scope.signal) : this.#pick(tried, false)!;
      if (!slotted) ep.inflight++;
      ep.calls++;
      onAttempt?.(attempt + 1);
      try {
        // cancelled when the scope aborts
        const result = await fn(ep, { ...scope.callOptions(), signal: scope.signal });
        ep.strikes = 0;
        ep.coolUntil = 0;
        return result;
      } catch (err) {
        if (scope.signal.aborted) throw abortReason(scope.signal);
        const kind = retryableFailure(err);
        if (kind === undefined) throw err;
        ep.failures++;
        ep.strikes++;
        ep.coolUntil = Date.now() + Math.min(MAX_BACKOFF_MS, this.#opts.backoffMs * 2 ** (ep.strikes - 1));
        tried.add(ep);
        if (tried.size >= this.#endpoints.length) tried.clear();
        const message = err instanceof Error ? err.message : String(err);
        if (attempt >= this.#opts.retries) {
          const mismatch = kind === 'model' ? modelMismatchOf(err) : undefined;
          if (mismatch) {
            throw modelMismatchError(
              `${what}: samplers serve a different model: expected sha256 ${shaPrefix(mismatch.expected)}, served ${shaPrefix(mismatch.served)} ` +
                `(${attempt + 1} attempt(s); last: ${message})`,
              { expected: mismatch.expected, served: mismatch.served },
              err,
            );
          }
          throw new UnavailableError(`${what}: samplers unavailable after ${attempt + 1} attempt(s); last: ${message}`, {
            reason: 'SAMPLERS_UNAVAILABLE',
            cause: err,
          });
        }
        this.#opts.log?.warn('sampler call failed, retrying elsewhere', { call: what, sampler: ep.address, attempt: attempt + 1, kind, error: message });
        const backoff = Math.min(MAX_BACKOFF_MS, this.#opts.backoffMs * 2 ** attempt) * (0.75 + 0.5 * Math.random());
        await sleep(backoff, scope.signal);
      } finally {
        this.#release(ep);
      }
    }
  }

  /** Best endpoint, or undefined when none may be used now (slotted: every usable one is full). */
  #pick(exclude: ReadonlySet<Endpoint>, slotted: boolean): Endpoint | undefined {
    const now = Date.now();
    const limit = slotted ? this.#opts.concurrency : Infinity;
    const n = this.#endpoints.length;
    const rank = (ep: Endpoint): number => (exclude.has(ep) ? 2 : 0) + (ep.coolUntil > now ? 1 : 0);
    let best: Endpoint | undefined;
    let bestRank = Infinity;
    let bestLoad = Infinity;
    let bestAny = Infinity; // best rank regardless of free slots
    for (let k = 0; k < n; k++) {
      const ep = this.#endpoints[(this.#rotation + k) % n]!;
      const r = rank(ep);
      bestAny = Math.min(bestAny, r);
      if (ep.inflight >= limit) continue;
      if (r < bestRank || (r === bestRank && ep.inflight < bestLoad)) {
        best = ep;
        bestRank = r;
        bestLoad = ep.inflight;
      }
    }
    // a healthier endpoint is only busy: wait for it rather than use a failing one
    if (!best || bestRank > bestAny) return slotted ? undefined : best ?? this.#endpoints[this.#rotation % n];
    this.#rotation = (this.#endpoints.indexOf(best) + 1) % n;
    return best;
  }

  #acquire(exclude: ReadonlySet<Endpoint>, signal: AbortSignal): Promise<Endpoint> {
    if (this.#closed) return Promise.reject(new UnavailableError('sampler pool closed'));
    if (signal.aborted) return Promise.reject(abortReason(signal));
    if (this.#waiters.length === 0) {
      const ep = this.#pick(exclude, true);
      if (ep) {
        ep.inflight++;
        return Promise.resolve(ep);
      }
    }
    return new Promise<Endpoint>((resolve, reject) => {
      const waiter: Waiter = {
        exclude,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          reject(abortReason(signal));
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#serveWaiters();
    });
  }

  #release(ep: Endpoint): void {
    ep.inflight--;
    this.#serveWaiters();
  }

  /** Hands free slots to waiters in FIFO order; re-runs when a cooldown ends. */
  #serveWaiters(): void {
    for (let i = 0; i < this.#waiters.length; ) {
      const w = this.#waiters[i]!;
      const ep = this.#pick(w.exclude, true);
      if (!ep) {
        i++;
        continue;
      }
      this.#waiters.splice(i, 1);
      w.signal.removeEventListener('abort', w.onAbort);
      ep.inflight++;
      w.resolve(ep);
    }
    if (this.#waiters.length > 0 && !this.#wakeTimer) {
      const now = Date.now();
      const next = Math.min(...this.#endpoints.map((e) => (e.coolUntil > now ? e.coolUntil : Infinity)));
      if (Number.isFinite(next)) {
        this.#wakeTimer = setTimeout(() => {
          this.#wakeTimer = undefined;
          this.#serveWaiters();
        }, next - now + 1);
        this.#wakeTimer.unref();
      }
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#wakeTimer);
    for (const w of this.#waiters.splice(0)) {
      w.signal.removeEventListener('abort', w.onAbort);
      w.reject(new UnavailableError('sampler pool closed'));
    }
    for (const ep of this.#endpoints) ep.client.close();
  }
}
