import * as grpc from '@grpc/grpc-js';
import {
  BoundMethod,
  BoundServiceService,
  Distribution,
  lawOfDistribution,
  ThresholdMethod,
  type Bound,
  type BoundServiceServer,
  type boundsV1,
} from '@glcert/contracts';
import {
  cacheKeyOf,
  CLOSED_FORM_TRANSFORMS,
  estimateSolveCost,
  InvalidBoundRequestError,
  PATH_POINTS,
  normaliseBoundRequest,
  type BoundMethodName,
  type BoundRequest,
  type BoundResult,
} from '@glcert/bounds';
import {
  SharedWork,
  createLogger,
  GlcertError,
  InvalidArgumentError,
  rejectViolations,
  threatModelIdentifierViolations,
  startService,
  unaryHandler,
  type CallContext,
  type Logger,
  type RunningService,
  type ServiceHandle,
  type ServiceOptions,
} from '@glcert/runtime';
import { validateThreatModelEntries } from '@glcert/transforms';
import { BoundCache } from './cache';
import { defaultBoundsConfig, SERVICE_NAME, type BoundsConfig } from './config';
import { SolverPool } from './solver-pool';

const METHOD_NAME: Record<number, BoundMethodName | undefined> = {
  [BoundMethod.BOUND_METHOD_UNSPECIFIED]: 'auto',
  [BoundMethod.BOUND_METHOD_AUTO]: 'auto',
  [BoundMethod.BOUND_METHOD_NUMERIC]: 'numeric',
  [BoundMethod.BOUND_METHOD_CLOSED_FORM]: 'closed-form',
};

/** A GetThresholdRequest checked and mapped: the solver's request and where each parameter sits on the wire. */
interface ParsedRequest {
  readonly request: BoundRequest;
  /** Index of each parameter's box / smoothing entry, by parameter name. */
  readonly boxAt: ReadonlyMap<string, number>;
  readonly smoothingAt: ReadonlyMap<string, number>;
}

/**
 * The threat model goes through the shared wire validator (validateThreatModelEntries: numeric
 * domains, null-prototype names, wire paths) like in every other service; this adds only the
 * smoothing law, whose enum the bounds contract defines.
 */
function parseRequest(req: boundsV1.GetThresholdRequest): ParsedRequest {
  const tm = req.threatModel;
  if (!tm) throw new InvalidArgumentError('threat_model', 'is required');
  // names are short (runtime limits.ts): a long one is refused before it is quoted anywhere
  rejectViolations(threatModelIdentifierViolations(tm));
  const checked = validateThreatModelEntries({ transform: tm.transform, box: tm.box, smoothing: tm.smoothing });
  if (!checked.ok) throw InvalidArgumentError.of(checked.violations.map((v) => ({ field: v.field, description: v.message })));
  const { spec, lo, hi, sigma: sigmaList } = checked.value;
  const box: Record<string, [number, number]> = {};
  const sigma: Record<string, number> = {};
  const boxAt = new Map<string, number>();
  const smoothingAt = new Map<string, number>();
  spec.params.forEach((p, i) => {
    box[p] = [lo[i], hi[i]];
    sigma[p] = sigmaList[i];
    boxAt.set(p, checked.boxAt[i]);
    smoothingAt.set(p, checked.smoothingAt[i]);
    const at = checked.smoothingAt[i];
    const given = tm.smoothing[at].distribution;
    if (given !== Distribution.DISTRIBUTION_UNSPECIFIED && lawOfDistribution(given) !== spec.laws[i]) {
      throw new InvalidArgumentError(
        `threat_model.smoothing[${at}].distribution`,
        `${p} of transform ${spec.key} is smoothed with the ${spec.laws[i]} law, not ${Distribution[given] ?? String(given)}`,
      );
    }
  });
  const settings = req.boundSettings;
  const method = METHOD_NAME[settings?.method ?? 0];
  if (!method) throw new InvalidArgumentError('bound_settings.method', `unknown method ${settings?.method}`);
  const request: BoundRequest = {
    transform: spec.key,
    box,
    sigma,
    ns: settings && settings.ns !== 0n ? Number(settings.ns) : undefined,
    grid: settings && settings.gridPoints.length > 0 ? settings.gridPoints : undefined,
    seed: settings?.seed ?? 0n,
    method,
  };
  return { request, boxAt, smoothingAt };
}

/** GetThresholdRequest -> the solver's request; every problem names its proto field. */
export function boundRequestFromProto(req: boundsV1.GetThresholdRequest): BoundRequest {
  return parseRequest(req).request;
}

/**
 * The solver names `threat_model.box.<p>` / `threat_model.sigma.<p>`; on the wire they are
 * `threat_model.box[i]` / `threat_model.smoothing[i].sigma` (AIP-193 field paths, as the
 * certifier reports them).
 */
function protoField(field: string, parsed: ParsedRequest): string {
  const m = /^threat_model\.(box|sigma)\.(.+)$/s.exec(field);
  if (!m) return field === 'threat_model.sigma' ? 'threat_model.smoothing' : field;
  const [, kind, name] = m;
  if (kind === 'box') {
    const at = parsed.boxAt.get(name);
    return at === undefined ? 'threat_model.box' : `threat_model.box[${at}]`;
  }
  const at = parsed.smoothingAt.get(name);
  return at === undefined ? 'threat_model.smoothing' : `threat_model.smoothing[${at}].sigma`;
}

/**
 * A solver error as a status: a request it refuses names its field; a RangeError means its
 * arithmetic left the finite range for these inputs (a gap in the documented domains, logged so
 * it gets closed), which is still the caller's input, never INTERNAL. Anything else is a bug.
 */
function solverError(err: unknown, parsed: ParsedRequest, log: Logger): unknown {
  if (err instanceof InvalidBoundRequestError) {
    const description = err.message.startsWith(`${err.field}: `) ? err.message.slice(err.field.length + 2) : err.message;
    return new InvalidArgumentError(protoField(err.field, parsed), description);
  }
  if (err instanceof RangeError) {
    log.warn('bound solver arithmetic out of range', { err: err.message.slice(0, 200), transform: parsed.request.transform });
    return new InvalidArgumentError('threat_model', `the bound cannot be computed in floating point for these values (${err.message.slice(0, 120)})`, {
      reason: 'OUTSIDE_NUMERIC_DOMAIN',
    });
  }
  return err;
}

/** RESOURCE_EXHAUSTED naming the settings that set a solve's cost. */
function costError(message: string, reason: string, metadata: Record<string, string>): GlcertError {
  const why = reason === 'DEADLINE_TOO_SHORT' ? 'give the call more time or lower it' : 'lower it';
  return new GlcertError(grpc.status.RESOURCE_EXHAUSTED, message, { reason, metadata }, [
    { field: 'bound_settings.ns', description: `score samples: the cost grows linearly in ns; ${why}`, reason },
    { field: 'bound_settings.grid_points', description: `attack points (the product of grid_points): the cost grows linearly in them; ${why}`, reason },
  ]);
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

export type BoundsServiceOptions = ServiceOptions;

export interface BoundsServiceHandle extends ServiceHandle {
  readonly running: RunningService;
  readonly pool: SolverPool;
}

/**
 * BoundService: a threshold per (threat model, settings), solved once and kept on disk.
 * Concurrent requests for the same key share one solve, which stops when its last caller goes
 * (cancellation or deadline); a solve over BOUNDS_MAX_SOLVE_COST, or one that cannot finish in
 * its caller's time, is refused before it starts. A restart serves from the disk cache.
 */
export async function startBoundsService(partial: Partial<BoundsConfig> = {}, options: BoundsServiceOptions = {}): Promise<BoundsServiceHandle> {
  const config: BoundsConfig = { ...defaultBoundsConfig(), ...partial };
  const log = options.logger ?? createLogger(SERVICE_NAME);
  const cache = new BoundCache(config.cacheDir);
  const pool = new SolverPool(config.maxConcurrentSolves, config.maxQueuedSolves);
  /** Solves in progress by cache key: callers of the same key share one, counted so the last to leave stops it. */
  const inFlight = new Map<string, SharedWork<BoundResult>>();

  const getThreshold = async (req: boundsV1.GetThresholdRequest, _call: unknown, ctx: CallContext): Promise<boundsV1.GetThresholdResponse> => {
    const parsed = parseRequest(req);
    const { request } = parsed;
    let normalised;
    let cost;
    try {
      normalised = normaliseBoundRequest(request);
      cost = estimateSolveCost(normalised);
    } catch (err) {
      throw solverError(err, parsed, log);
    }
    if (normalised.method === 'closed-form' && !CLOSED_FORM_TRANSFORMS.includes(normalised.transform)) {
      // refused here: from the solver worker it would come back as a plain Error (INTERNAL)
      throw new InvalidArgumentError('bound_settings.method', `transform '${normalised.transform}' has no closed-form bound (use auto or numeric)`);
    }
    const key = cacheKeyOf(normalised);
    const hit = cache.get(key);
    if (hit) return { bound: boundToProto(hit), cacheHit: true }; // never refused: it costs nothing
    if (req.onlyCached) return { bound: undefined, cacheHit: false };

    const costs = { estimated_cost: cost.cost.toExponential(2), attack_points: String(cost.attackPoints), ns: String(normalised.ns) };
    if (cost.cost > config.maxSolveCost) {
      throw costError(
        `bound_settings: the solve would cost about ${cost.cost.toExponential(2)} score evaluations (${cost.attackPoints} attack points x ${PATH_POINTS} path points, ns ${normalised.ns}), ` +
          `over this server's limit ${config.maxSolveCost.toExponential(2)} (BOUNDS_MAX_SOLVE_COST); lower bound_settings.ns or bound_settings.grid_points`,
        'SOLVE_TOO_COSTLY',
        { ...costs, max_solve_cost: config.maxSolveCost.toExponential(2), setting: 'BOUNDS_MAX_SOLVE_COST' },
      );
    }

    let flight = inFlight.get(key);
    // a solve whose callers all left is being stopped: this caller starts a new one
    if (!flight || flight.abandoned) {
      // a new solve must be able to finish in its caller's time even at an optimistic rate
      const seconds = cost.cost / config.solveRate;
      const remaining = ctx.remainingMs();
      if (seconds * 1000 > remaining) {
        throw costError(
          `bound_settings: the solve needs at least ${seconds.toFixed(1)} s (${cost.cost.toExponential(2)} score evaluations at ${config.solveRate.toExponential(1)}/s, BOUNDS_SOLVE_RATE) ` +
            `and the call has ${(remaining / 1000).toFixed(1)} s left; give it a longer deadline or lower bound_settings.ns or bound_settings.grid_points`,
          'DEADLINE_TOO_SHORT',
          { ...costs, estimated_seconds: seconds.toFixed(1), remaining_seconds: (remaining / 1000).toFixed(1) },
        );
      }
      log.info('solving bound', { key, transform: normalised.transform, ns: normalised.ns, grid: normalised.grid, estimated_cost: cost.cost });
      // shared by every caller of this key; the last to leave (cancellation or deadline) stops it
      const started = new SharedWork((signal) =>
        pool.solve(request, signal).then((r) => {
          cache.put(r);
          log.info('bound solved', { key, threshold: r.threshold, method: r.method, seconds: r.seconds });
          return r;
        }),
      );
      const forget = (): void => {
        if (inFlight.get(key) === started) inFlight.delete(key);
      };
      started.result.then(forget, forget);
      started.signal.addEventListener('abort', () => log.info('bound solve abandoned', { key }), { once: true });
      inFlight.set(key, started);
      flight = started;
    }

    try {
      return { bound: boundToProto(await flight.join(ctx.signal)), cacheHit: false };
    } catch (err) {
      throw solverError(err, parsed, log);
    }
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
    close: async () => {
      await running.shutdown('close');
      await pool.close();
    },
  };
}
