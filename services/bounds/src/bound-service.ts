import {
  BoundMethod,
  BoundServiceService,
  Distribution,
  ThresholdMethod,
  type Bound,
  type BoundServiceServer,
  type boundsV1,
  type ThreatModel,
} from '@glcert/contracts';
import {
  cacheKeyOf,
  CLOSED_FORM_TRANSFORMS,
  InvalidBoundRequestError,
  normaliseBoundRequest,
  type BoundMethodName,
  type BoundRequest,
  type BoundResult,
} from '@glcert/bounds';
import {
  createLogger,
  InvalidArgumentError,
  rejectViolations,
  ResourceExhaustedError,
  threatModelIdentifierViolations,
  startService,
  unaryHandler,
  type Logger,
  type RunningService,
  type SignalTarget,
} from '@glcert/runtime';
import { getTransform, type Law } from '@glcert/transforms';
import { BoundCache } from './cache';
import { SERVICE_NAME, type BoundsConfig } from './config';
import { SolverPool } from './solver-pool';

const LAW_OF: Record<number, Law | undefined> = {
  [Distribution.DISTRIBUTION_NORMAL]: 'normal',
  [Distribution.DISTRIBUTION_LOG_NORMAL]: 'lognormal',
  [Distribution.DISTRIBUTION_RAYLEIGH]: 'rayleigh',
};
const METHOD_NAME: Record<number, BoundMethodName | undefined> = {
  [BoundMethod.BOUND_METHOD_UNSPECIFIED]: 'auto',
  [BoundMethod.BOUND_METHOD_AUTO]: 'auto',
  [BoundMethod.BOUND_METHOD_NUMERIC]: 'numeric',
  [BoundMethod.BOUND_METHOD_CLOSED_FORM]: 'closed-form',
};

/** GetThresholdRequest -> the solver's request; every problem names its proto field. */
export function boundRequestFromProto(req: boundsV1.GetThresholdRequest): BoundRequest {
  const tm = req.threatModel;
  if (!tm) throw new InvalidArgumentError('threat_model', 'is required');
  // names are short (runtime limits.ts): a long one is refused before it is quoted anywhere
  rejectViolations(threatModelIdentifierViolations(tm));
  let spec;
  try {
    spec = getTransform(tm.transform);
  } catch {
    throw new InvalidArgumentError('threat_model.transform', `unknown transform ${JSON.stringify(tm.transform)}`);
  }
  // null-prototype maps: a parameter named __proto__ is an unknown name, not a prototype
  const box: Record<string, [number, number]> = Object.create(null);
  tm.box.forEach((r, i) => {
    if (r.name in box) throw new InvalidArgumentError(`threat_model.box[${i}].name`, `parameter ${r.name} appears twice`);
    box[r.name] = [r.min, r.max];
  });
  const sigma: Record<string, number> = Object.create(null);
  tm.smoothing.forEach((s, i) => {
    if (s.name in sigma) throw new InvalidArgumentError(`threat_model.smoothing[${i}].name`, `parameter ${s.name} appears twice`);
    const at = spec.params.indexOf(s.name as never);
    const law = LAW_OF[s.distribution];
    if (at >= 0 && s.distribution !== Distribution.DISTRIBUTION_UNSPECIFIED && law !== spec.laws[at]) {
      throw new InvalidArgumentError(
        `threat_model.smoothing[${i}].distribution`,
        `${s.name} of transform ${spec.key} is smoothed with the ${spec.laws[at]} law, not ${Distribution[s.distribution]}`,
      );
    }
    sigma[s.name] = s.sigma;
  });
  const settings = req.boundSettings;
  const method = METHOD_NAME[settings?.method ?? 0];
  if (!method) throw new InvalidArgumentError('bound_settings.method', `unknown method ${settings?.method}`);
  return {
    transform: tm.transform,
    box,
    sigma,
    ns: settings && settings.ns !== 0n ? Number(settings.ns) : undefined,
    grid: settings && settings.gridPoints.length > 0 ? settings.gridPoints : undefined,
    seed: settings?.seed ?? 0n,
    method,
  };
}

/**
 * The solver names `threat_model.box.<p>` / `threat_model.sigma.<p>`; on the wire they are
 * `threat_model.box[i]` / `threat_model.smoothing[i].sigma`, or `.name` for an unknown parameter
 * (AIP-193 field paths, as the certifier reports them).
 */
function protoField(field: string, description: string, tm: ThreatModel): string {
  const m = /^threat_model\.(box|sigma)\.(.+)$/s.exec(field);
  if (!m) return field === 'threat_model.sigma' ? 'threat_model.smoothing' : field;
  const [, kind, name] = m;
  const unknown = description.startsWith('unknown parameter');
  if (kind === 'box') {
    const at = tm.box.findIndex((r) => r.name === name);
    return at < 0 ? 'threat_model.box' : `threat_model.box[${at}]${unknown ? '.name' : ''}`;
  }
  const at = tm.smoothing.findIndex((s) => s.name === name);
  return at < 0 ? 'threat_model.smoothing' : `threat_model.smoothing[${at}].${unknown ? 'name' : 'sigma'}`;
}

export function boundToProto(r: BoundResult): Bound {
  return {
    threshold: r.threshold,
    method: r.method === 'numeric' ? ThresholdMethod.THRESHOLD_METHOD_NUMERIC : ThresholdMethod.THRESHOLD_METHOD_CLOSED_FORM,
    numericThreshold: r.numericThreshold ?? 0,
    closedFormThreshold: r.closedFormThreshold,
    cacheKey: r.cacheKey,
    solverVersion: r.solverVersion,
    ns: BigInt(r.ns),
    gridPoints: r.grid,
    solveSeconds: r.seconds,
    notes: r.notes,
    seed: BigInt(r.seed),
  };
}

export interface BoundsServiceOptions {
  logger?: Logger;
  signals?: readonly NodeJS.Signals[];
  signalTarget?: SignalTarget;
  exit?: (code: number) => void;
}

export interface BoundsServiceHandle {
  readonly port: number;
  readonly address: string;
  readonly running: RunningService;
  readonly pool: SolverPool;
  close(): Promise<void>;
}

/**
 * BoundService: a threshold per (threat model, settings), solved once and kept on disk.
 * Concurrent requests for the same key share one solve; a restart serves from the disk cache.
 */
export async function startBoundsService(config: BoundsConfig, options: BoundsServiceOptions = {}): Promise<BoundsServiceHandle> {
  const log = options.logger ?? createLogger(SERVICE_NAME);
  const cache = new BoundCache(config.cacheDir);
  const pool = new SolverPool(config.maxConcurrentSolves, config.maxQueuedSolves);
  const inFlight = new Map<string, Promise<BoundResult>>();

  const getThreshold = async (req: boundsV1.GetThresholdRequest): Promise<boundsV1.GetThresholdResponse> => {
    const request = boundRequestFromProto(req);
    let normalised;
    try {
      normalised = normaliseBoundRequest(request);
    } catch (err) {
      if (err instanceof InvalidBoundRequestError) {
        const description = err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
        throw new InvalidArgumentError(protoField(err.field, description, req.threatModel!), description);
      }
      throw err;
    }
    if (normalised.method === 'closed-form' && !CLOSED_FORM_TRANSFORMS.includes(normalised.transform)) {
      // refused here: from the solver worker it would come back as a plain Error (INTERNAL)
      throw new InvalidArgumentError('bound_settings.method', `transform '${normalised.transform}' has no closed-form bound (use auto or numeric)`);
    }
    const key = cacheKeyOf(normalised);
    const hit = cache.get(key);
    if (hit) return { bound: boundToProto(hit), cacheHit: true };
    if (req.onlyCached) return { bound: undefined, cacheHit: false };

    const attackPoints = normalised.grid.reduce((a, b) => a * b, 1);
    const evaluations = normalised.method === 'closed-form' ? 0 : normalised.ns * attackPoints * 8;
    if (evaluations > config.maxScoreEvaluations) {
      throw new ResourceExhaustedError(
        `bound_settings: ns x grid points x 8 = ${evaluations.toExponential(2)} score evaluations exceeds the limit ${config.maxScoreEvaluations.toExponential(2)}`,
      );
    }
    let solving = inFlight.get(key);
    if (!solving) {
      log.info('solving bound', { key, transform: normalised.transform, ns: normalised.ns, grid: normalised.grid });
      solving = pool.solve(request).then((result) => {
        cache.put(result);
        log.info('bound solved', { key, threshold: result.threshold, method: result.method, seconds: result.seconds });
        return result;
      });
      inFlight.set(key, solving);
      solving.then(
        () => inFlight.delete(key),
        () => inFlight.delete(key),
      );
    }
    return { bound: boundToProto(await solving), cacheHit: false };
  };

  const implementation: BoundServiceServer = { getThreshold: unaryHandler(getThreshold, { log }) };
  const running = await startService({
    name: SERVICE_NAME,
    config,
    services: [{ definition: BoundServiceService, implementation }],
    log,
    signals: options.signals ?? [],
    signalTarget: options.signalTarget,
    exit: options.exit,
  });
  running.ready();
  return {
    port: running.port,
    address: running.address,
    running,
    pool,
    close: () => running.shutdown('close'),
  };
}
