// One certification (ALGORITHM.md section 6): selection over n0 samples of stream 0 and
// estimation over n samples of stream 1 (both chunked over the sampler pool, run
// concurrently with each other and with the bound lookup), Clopper-Pearson, the verdict rule,
// the certificate, its signature.
import type { Span } from '@opentelemetry/api';
import * as grpc from '@grpc/grpc-js';
import {
  Outcome,
  type Bound,
  type BoundServiceClient,
  type boundsV1,
  type Certificate,
  type inferenceV1,
} from '@glcert/contracts';
import { CERTIFICATE_VERSION, decideOutcome, signCertificate, type SigningKey } from '@glcert/certificate';
import { fromServiceError } from '@glcert/runtime';
import { clopperPearsonLower, GENERATOR_NAME, minSamplesToCertify } from '@glcert/stats';
import { argmaxLowest, splitRange, sum } from './chunks';
import type { CallScope, SamplerPool } from './sampler-pool';
import { inputSha256, type PreparedInput } from '@glcert/imaging';
import type { CertifySettings } from './validate';
import { shared } from './signals';

export interface CertifyJob {
  /** Certify's request_id, or the stream item's id. */
  requestId: string;
  settings: CertifySettings;
  meta: inferenceV1.ModelMetadata;
  input: PreparedInput;
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
  return new Promise<Bound>((resolve, reject) => {
    if (scope.signal.aborted) return reject(scope.signal.reason);
    const call = client.getThreshold(request, new grpc.Metadata(), scope.callOptions(), (err, res) => {
      scope.signal.removeEventListener('abort', onAbort);
      if (err) return reject(fromServiceError(err, 'bound service', BOUND_PASS_THROUGH));
      if (!res.bound) return reject(new Error('bound service answered without a bound'));
      const t = res.bound.threshold;
      if (!(t >= 0 && t <= 1)) return reject(new Error(`bound service returned threshold ${t}, outside [0, 1]`));
      resolve(res.bound);
    });
    const onAbort = (): void => call.cancel();
    scope.signal.addEventListener('abort', onAbort, { once: true });
  });
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
  let selection: number[];
  let estimation: number[];
  let bound: Bound;
  try {
    [selection, estimation, bound] = await Promise.all([
      guard(deps.pool.countChunks(base, splitRange(0, settings.n0, deps.chunkSize), inner)),
      guard(deps.pool.countChunks(base, splitRange(1, settings.n, deps.chunkSize), inner)),
      guard(job.bound),
    ]);
  } catch (err) {
    throw local.signal.aborted && local.signal.reason !== undefined ? local.signal.reason : err;
  } finally {
    scope.signal.removeEventListener('abort', onAbort);
  }

  const classes = Math.max(meta.classNames.length, selection.length, estimation.length);
  while (selection.length < classes) selection.push(0);
  if (sum(selection) !== settings.n0 || sum(estimation) !== settings.n) {
    throw new Error(`samplers counted ${sum(selection)}/${settings.n0} selection and ${sum(estimation)}/${settings.n} estimation samples`);
  }
  const predictedClass = argmaxLowest(selection);
  const na = estimation[predictedClass] ?? 0;
  const paLower = clopperPearsonLower(na, settings.n, settings.alpha);
  const threshold = bound.threshold;
  const outcome = decideOutcome(paLower, threshold);

  const notes = [...job.notes];
  notes.push(`threat model: ${settings.threatModel.message.note}`);
  let minSamplesToCertifyCount: bigint | undefined;
  // the best pa_lower this n can give (nA = n) is alpha^(1/n); the verdict needs more than max(threshold, 1/2)
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
    n0: BigInt(settings.n0),
    n: BigInt(settings.n),
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
  };
  const certificate = signCertificate(unsigned, deps.key);
  span?.setAttributes({
    'glcert.outcome': outcome === Outcome.OUTCOME_CERTIFIED ? 'CERTIFIED' : 'ABSTAINED',
    'glcert.pa_lower': paLower,
    'glcert.threshold': threshold,
    'glcert.predicted_class': predictedClass,
    'glcert.na': na,
  });
  return { certificate, minSamplesToCertifyCount, notes };
}
