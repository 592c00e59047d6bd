// One certification. FIXED (ALGORITHM.md section 6): selection over n0 samples of stream 0 and
// estimation over n samples of stream 1 (both chunked over the sampler pool, run
// concurrently with each other and with the bound lookup), Clopper-Pearson, the verdict rule.
// SEQUENTIAL (section 9): adaptive selection in blocks while the bound is fetched, then the
// looks of the schedule (a pure function of the threshold, alpha and n_max), each look's extra
// samples chunked over the pool, stopping at the first decisive look. Then the certificate and
// its signature.
import type { Span } from '@opentelemetry/api';
import * as grpc from '@grpc/grpc-js';
import {
  Outcome,
  type Bound,
  type BoundServiceClient,
  type boundsV1,
  type Certificate,
  type inferenceV1,
  type SequentialRecord,
} from '@glcert/contracts';
import { argmaxLowest, CERTIFICATE_VERSION, decideOutcome, signCertificate, THRESHOLD_FLOOR_TOLERANCE, thresholdFloorOf, type SigningKey } from '@glcert/certificate';
import { fromServiceError, GlcertError, unaryCall } from '@glcert/runtime';
import {
  clopperPearsonLower,
  decideAtLook,
  DEFAULT_FUTILITY_BETA,
  GENERATOR_NAME,
  minSamplesToCertify,
  nextSelectionBlock,
  selectionDone,
  SEQUENTIAL_RULE,
  sequentialSchedule,
  type Look,
} from '@glcert/stats';
import { addCounts, planCalls, splitSpan, sum, type CallScope, type Chunk, type SamplerPool } from '@glcert/sampling';
import { inputSha256, type PreparedInput } from '@glcert/imaging';
import type { CertifySettings } from './validate';
import { shared } from '@glcert/runtime';

/** One certification; `Input` is the decoded input here, the request's oneof before (core.ts ItemWork). */
export interface CertifyJob<Input = PreparedInput> {
  /** Certify's request_id, or the stream item's id. */
  requestId: string;
  settings: CertifySettings;
  meta: inferenceV1.ModelMetadata;
  input: Input;
  seed: bigint;
  /** Notes decided by the caller (e.g. how the seed was chosen). */
  notes: string[];
  /** The threshold of the threat model (looked up once per stream, or per Certify call). */
  bound: Promise<Bound>;
}

export interface CertifyResult {
  certificate: Certificate;
  /** Set when this n can never certify at this threshold. */
  minSamplesToCertifyCount?: bigint;
  notes: string[];
}

export interface EngineDeps {
  pool: SamplerPool;
  key: SigningKey;
  chunkSize: number;
  samplerBatchSize: number;
}

/**
 * Downstream codes passed on with their details (the bound service validates bound_settings and
 * refuses a solve over its cost cap or the call's deadline naming bound_settings.ns/grid_points).
 */
const BOUND_PASS_THROUGH = new Set<grpc.status>([
  grpc.status.INVALID_ARGUMENT,
  grpc.status.FAILED_PRECONDITION,
  grpc.status.NOT_FOUND,
  grpc.status.RESOURCE_EXHAUSTED,
]);


/** GetThreshold for the checked threat model and settings (deadline and cancellation from `scope`). */
export function fetchBound(client: BoundServiceClient, settings: CertifySettings, scope: CallScope): Promise<Bound> {
  const request: boundsV1.GetThresholdRequest = {
    threatModel: { ...settings.threatModel.message, note: '' },
    boundSettings: settings.boundSettings,
    onlyCached: false,
  };
  const call = unaryCall<boundsV1.GetThresholdRequest, boundsV1.GetThresholdResponse>(client.getThreshold.bind(client), request, {
    ...scope.callOptions(),
    signal: scope.signal,
  });
  return call.then(
    (res) => {
      if (!res.bound) throw new Error('bound service answered without a bound');
      const t = res.bound.threshold;
      if (!(t >= 0 && t <= 1)) throw new Error(`bound service returned threshold ${t}, outside [0, 1]`);
      // Last line of defence at issue time: the verifier rejects a threshold below the exact one of
      // the box, so never sign one (a bound service that returns it is broken, not the caller).
      const floor = thresholdFloorOf(settings.threatModel.message);
      if (floor.ok && floor.value !== null && Math.max(t, 0.5) < floor.value - THRESHOLD_FLOOR_TOLERANCE) {
        throw new GlcertError(grpc.status.INTERNAL, `bound service returned threshold ${t}, below the exact threshold ${floor.value} (${floor.rule}): refusing to certify`, {
          reason: 'BOUND_BELOW_EXACT_THRESHOLD',
        });
      }
      return res.bound;
    },
    (err: unknown) => {
      throw fromServiceError(err, 'bound service', BOUND_PASS_THROUGH);
    },
  );
}

/** Runs one certification; `span` gets the glcert.* attributes. */
export async function runCertification(job: CertifyJob, deps: EngineDeps, scope: CallScope, span?: Span): Promise<CertifyResult> {
  const { settings, meta, input, seed } = job;
  const { sha256, tensor } = inputSha256(input);
  span?.setAttributes({
    'glcert.model': meta.name,
    'glcert.transform': settings.threatModel.spec.key,
    'glcert.n0': settings.n0,
    'glcert.n': settings.n,
    'glcert.alpha': settings.alpha,
  });

  const base = {
    model: meta.name,
    image: tensor,
    threatModel: settings.threatModel.message,
    seed,
    batchSize: deps.samplerBatchSize,
    // every chunk must be counted by the model the certificate names (model_sha256 below)
    expectedModelSha256: meta.sha256,
  };
  // one scope for both streams: a failure of either cancels the other
  const local = new AbortController();
  shared(local.signal);
  const onAbort = (): void => local.abort(scope.signal.reason);
  if (scope.signal.aborted) onAbort();
  else scope.signal.addEventListener('abort', onAbort, { once: true });
  const inner: CallScope = { callOptions: scope.callOptions, signal: local.signal };
  const guard = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      if (!local.signal.aborted) local.abort(err);
      throw err;
    });
  const count = (chunks: readonly Chunk[]): Promise<number[]> => guard(deps.pool.countChunks(base, chunks, inner));
  const countStreams = (calls: Chunk[][]): Promise<Map<number, number[]>> => guard(deps.pool.countCalls(base, calls, inner));
  let sampled: Sampled;
  try {
    sampled = settings.sampling === 'fixed' ? await sampleFixed(job, deps, countStreams, guard) : await sampleSequential(job, deps, count, guard, span);
  } catch (err) {
    throw local.signal.aborted && local.signal.reason !== undefined ? local.signal.reason : err;
  } finally {
    scope.signal.removeEventListener('abort', onAbort);
  }
  const { selection, n0, n, na, predictedClass, paLower, bound, sequential } = sampled;
  const threshold = bound.threshold;
  const outcome = decideOutcome(paLower, threshold);

  const notes = [...job.notes];
  notes.push(`threat model: ${settings.threatModel.message.note}`);
  if (sequential) {
    notes.push(
      `sequential sampling: stopped at look ${sequential.look} of ${sequential.looks} (${sequential.stopReason}) after ${n0} selection and ${n} estimation samples ` +
        `(maxima ${settings.n0} and ${settings.n}); pa_lower at the look's level ${sequential.level.toPrecision(6)}`,
    );
  }
  let minSamplesToCertifyCount: bigint | undefined;
  // the best pa_lower a look can give (nA = n) is level^(1/n); the verdict needs more than max(threshold, 1/2).
  // FIXED: one look (n, alpha); SEQUENTIAL: when no look is reachable the schedule is that one look too.
  const effective = Math.max(threshold, 0.5);
  const best = Math.pow(settings.alpha, 1 / settings.n);
  if (!(best > effective)) {
    const m = minSamplesToCertify(effective, settings.alpha);
    if (Number.isFinite(m)) {
      minSamplesToCertifyCount = BigInt(m);
      notes.push(
        `threshold unreachable: at n = ${settings.n} and alpha = ${settings.alpha} pa_lower can never exceed ${best.toPrecision(6)}, ` +
          `below the threshold ${effective.toPrecision(6)}; n >= ${m} could certify`,
      );
    } else {
      notes.push(`threshold unreachable: the threshold ${threshold} cannot be exceeded by any n`);
    }
  }
  for (const note of bound.notes) notes.push(`bound: ${note}`);

  const unsigned: Certificate = {
    certificateVersion: CERTIFICATE_VERSION,
    requestId: job.requestId,
    modelName: meta.name,
    modelVersion: meta.version,
    modelSha256: meta.sha256,
    inputSha256: sha256,
    inputShape: input.shape.map(BigInt),
    preprocessing: input.preprocessing,
    threatModel: settings.threatModel.message,
    boundSettings: {
      ns: bound.ns,
      gridPoints: [...bound.gridPoints],
      seed: bound.seed,
      method: settings.boundSettings.method,
    },
    n0: BigInt(n0),
    n: BigInt(n),
    na: BigInt(na),
    predictedClass,
    selectionClassCounts: selection.map(BigInt),
    alpha: settings.alpha,
    paLower,
    threshold,
    thresholdMethod: bound.method,
    boundCacheKey: bound.cacheKey,
    solverVersion: bound.solverVersion,
    outcome,
    seed,
    generator: GENERATOR_NAME,
    issueTime: new Date(),
    signature: Buffer.alloc(0),
    keyId: '',
    sequential,
  };
  const certificate = signCertificate(unsigned, deps.key);
  span?.setAttributes({
    'glcert.outcome': outcome === Outcome.OUTCOME_CERTIFIED ? 'CERTIFIED' : 'ABSTAINED',
    'glcert.pa_lower': paLower,
    'glcert.threshold': threshold,
    'glcert.predicted_class': predictedClass,
    'glcert.na': na,
    'glcert.n0_used': n0,
    'glcert.n_used': n,
  });
  return { certificate, minSamplesToCertifyCount, notes };
}

/** What the sampling gave: counts, the bound, and (sequential) the record of where it stopped. */
interface Sampled {
  selection: number[];
  n0: number;
  n: number;
  na: number;
  predictedClass: number;
  paLower: number;
  bound: Bound;
  sequential?: SequentialRecord;
}

type Count = (chunks: readonly Chunk[]) => Promise<number[]>;
type CountStreams = (calls: Chunk[][]) => Promise<Map<number, number[]>>;
type Guard = <T>(p: Promise<T>) => Promise<T>;

function checkTotals(selection: number[], n0: number, estimation: number[], n: number, classes: number): void {
  while (selection.length < classes) selection.push(0);
  if (sum(selection) !== n0 || sum(estimation) !== n) {
    throw new Error(`samplers counted ${sum(selection)}/${n0} selection and ${sum(estimation)}/${n} estimation samples`);
  }
}

/**
 * Section 6: n0 and n samples, concurrently with the bound. Both streams go out together: their
 * ranges laid end to end and cut every chunkSize samples (planCalls), so n0 + n <= chunkSize is
 * one CountSamples call (and one pass of batches on the sidecar) instead of two.
 */
async function sampleFixed(job: CertifyJob, deps: EngineDeps, countStreams: CountStreams, guard: Guard): Promise<Sampled> {
  const { settings } = job;
  const ranges = [
    { stream: 0, start: 0, end: settings.n0 },
    { stream: 1, start: 0, end: settings.n },
  ];
  const [byStream, bound] = await Promise.all([countStreams(planCalls(ranges, deps.chunkSize)), guard(job.bound)]);
  const selection = byStream.get(0) ?? [];
  const estimation = byStream.get(1) ?? [];
  checkTotals(selection, settings.n0, estimation, settings.n, Math.max(job.meta.classNames.length, estimation.length));
  const predictedClass = argmaxLowest(selection);
  const na = estimation[predictedClass] ?? 0;
  return { selection, n0: settings.n0, n: settings.n, na, predictedClass, paLower: clopperPearsonLower(na, settings.n, settings.alpha), bound };
}

/**
 * Section 9: adaptive selection (blocks of stream 0) while the bound is fetched; the first look
 * is counted as soon as the schedule is known, concurrently with the rest of the selection (its
 * counts are per class, cA is only needed to decide); every later look counts only the samples
 * after the previous one. Every range is fixed by the seed-free rule and the counts, so the
 * result is the same however the ranges are chunked.
 */
async function sampleSequential(job: CertifyJob, deps: EngineDeps, count: Count, guard: Guard, span?: Span): Promise<Sampled> {
  const { settings } = job;
  const selectionP = (async () => {
    const counts: number[] = [];
    let drawn = 0;
    while (!selectionDone(counts, drawn, settings.n0)) {
      const block = nextSelectionBlock(drawn, settings.n0);
      addCounts(counts, await count(splitSpan(0, drawn, drawn + block, deps.chunkSize)));
      drawn += block;
    }
    return { counts, drawn };
  })();
  // the other branch's failure aborts this one through `guard`; keep its own rejection handled
  selectionP.catch(() => undefined);
  const bound = await guard(job.bound);
  const hEff = Math.max(bound.threshold, 0.5);
  const schedule: Look[] = sequentialSchedule(hEff, settings.alpha, settings.n);
  const firstLook = count(splitSpan(1, 0, schedule[0]!.n, deps.chunkSize));
  firstLook.catch(() => undefined);
  const [{ counts: selection, drawn: n0 }, first] = await Promise.all([selectionP, firstLook]);
  const estimation = first;
  const predictedClass = argmaxLowest(selection);
  const beta = DEFAULT_FUTILITY_BETA;
  for (let k = 0; ; k++) {
    const look = schedule[k]!;
    if (k > 0) addCounts(estimation, await count(splitSpan(1, schedule[k - 1]!.n, look.n, deps.chunkSize)));
    const na = estimation[predictedClass] ?? 0;
    const d = decideAtLook(schedule, k, na, hEff, beta);
    span?.addEvent('glcert.look', { look: k + 1, n: look.n, na, pa_lower: d.paLower });
    if (!d.stop) continue;
    checkTotals(selection, n0, estimation, look.n, Math.max(job.meta.classNames.length, estimation.length));
    return {
      selection,
      n0,
      n: look.n,
      na,
      predictedClass,
      paLower: d.paLower,
      bound,
      sequential: {
        rule: SEQUENTIAL_RULE,
        look: k + 1,
        looks: schedule.length,
        level: look.level,
        beta,
        n0Max: BigInt(settings.n0),
        nMax: BigInt(settings.n),
        stopReason: d.reason,
      },
    };
  }
}
