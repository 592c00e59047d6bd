// The bound portfolio (ALGORITHM.md sections 4-5): the numeric GL bound, the closed form where
// one exists, and the smaller of the two (both are sound sufficient conditions).

import { GENERATOR_NAME, minSamplesToCertify } from '@glcert/stats';
import { validateThreatModel } from '@glcert/transforms';
import type { TransformSpec } from '@glcert/transforms';

import { normaliseGrid } from './attack-grid';
import { sha256Canonical } from './cache-key';
import { closedFormThreshold } from './closed-form';
import { InvalidBoundRequestError } from './errors';
import { BOUND_NORMALS_STREAM, DEFAULT_DELTA, solveNumeric } from './numeric';

export type BoundMethodName = 'auto' | 'numeric' | 'closed-form';
export const BOUND_METHODS: readonly BoundMethodName[] = Object.freeze(['auto', 'numeric', 'closed-form']);

export const DEFAULT_NS = 20000;
export const DEFAULT_SEED = 0n;
/**
 * Changes whenever a solver change could change a threshold; part of the cache key.
 * gl-sound/2: upper bands on B (exact laws, deterministic strata bounds, or a Monte Carlo
 * confidence band at failure probability delta) instead of the plug-in empirical B of /1,
 * whose Monte Carlo error could put the threshold below the truth.
 * gl-sound/3: the path integral bounded by the exact integral of a chord upper bound (Gauss-
 * Legendre underestimated it on contrast/gamma paths towards 0), and a floating-point domain
 * outside which the solver answers threshold 1 (sigma ~ 1e-155 gave 0.5 + 1/ns before).
 */
export const SOLVER_VERSION = `gl-sound/3 (${GENERATOR_NAME}, stream ${BOUND_NORMALS_STREAM}, chord-8, upper-band, fp-domain)`;

export interface BoundRequest {
  /** Transform key: b, c, cb, g, gc, t, bt, ct, cbt, r. */
  readonly transform: string;
  /** Attack box per parameter name, [lo, hi]. */
  readonly box: Readonly<Record<string, readonly [number, number]>>;
  /** Smoothing scale per parameter name. */
  readonly sigma: Readonly<Record<string, number>>;
  /** Score samples (default 20000). */
  readonly ns?: number;
  /** Grid points per axis: one number for all, one per parameter (in the transform's order), or by name. */
  readonly grid?: number | readonly number[] | Readonly<Record<string, number>>;
  /** Seed of the score normals (default 0). */
  readonly seed?: bigint | number | string;
  /** default 'auto' */
  readonly method?: BoundMethodName;
  /**
   * Failure probability of the Monte Carlo band, per solve (default 1e-6). Only transforms
   * without a score kernel use Monte Carlo; every built-in one is bounded without it.
   */
  readonly delta?: number;
}

export interface BoundResult {
  /** h*: an image is certified iff pA > max(threshold, 1/2). 1 = never certify. */
  readonly threshold: number;
  /** Which bound produced `threshold`. */
  readonly method: 'numeric' | 'closed-form';
  readonly numericThreshold?: number;
  readonly closedFormThreshold?: number;
  readonly transform: string;
  /** Parameter order of the transform (order of `grid`). */
  readonly params: string[];
  readonly box: Record<string, [number, number]>;
  readonly sigma: Record<string, number>;
  readonly ns: number;
  /** Grid points requested per axis, in `params` order. */
  readonly grid: number[];
  /** Decimal string (seeds are 64-bit). */
  readonly seed: string;
  /** Method requested. */
  readonly requestedMethod: BoundMethodName;
  readonly seconds: number;
  /** ns x (beta, u) pairs evaluated (0 for a closed form alone). */
  readonly scoreEvaluations: number;
  /** (beta, u) pairs that needed their own band (the others repeat a direction exactly). */
  readonly distinctEvaluations: number;
  /** Attack-grid points certified against by the numeric bound (beta0 excluded). */
  readonly attackPoints: number;
  /** Numeric bound: max G over the attack set, Xi(1/2), and the point attaining max G. */
  readonly maxG?: number;
  readonly xiHalf?: number;
  readonly worstAttack?: Record<string, number>;
  readonly solverVersion: string;
  readonly cacheKey: string;
  /** false when the threshold is 1: no pA can certify this box. */
  readonly certifiable: boolean;
  /** Failure probability of the numeric bound's Monte Carlo band (delta requested). */
  readonly delta: number;
  /**
   * How the numeric bound bounded B: 'normal'/'exp' (closed-form laws), 'strata' (deterministic
   * quadrature bound), 'monte carlo' (confidence band at probability 1 - delta). Empty without it.
   */
  readonly numericLaws: string[];
  readonly notes: string[];
}

/** The inputs of a solve after validation and defaults: what the cache key covers. */
export interface NormalisedBoundRequest {
  readonly spec: TransformSpec;
  readonly transform: string;
  readonly params: string[];
  readonly lo: number[];
  readonly hi: number[];
  readonly sigmaList: number[];
  readonly box: Record<string, [number, number]>;
  readonly sigma: Record<string, number>;
  readonly ns: number;
  readonly grid: number[];
  readonly seed: bigint;
  readonly method: BoundMethodName;
  readonly delta: number;
}

const MAX_NS = 10_000_000;
const SEED_LIMIT = 1n << 64n;

function parseSeed(seed: BoundRequest['seed']): bigint {
  if (seed === undefined) return DEFAULT_SEED;
  let value: bigint;
  try {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw new Error();
    if (typeof seed === 'string' && !/^\d+$/.test(seed.trim())) throw new Error();
    value = BigInt(typeof seed === 'string' ? seed.trim() : seed);
  } catch {
    throw new InvalidBoundRequestError('bound_settings.seed', `must be an integer in [0, 2^64), got ${String(seed)}`);
  }
  if (value < 0n || value >= SEED_LIMIT) throw new InvalidBoundRequestError('bound_settings.seed', `must be in [0, 2^64), got ${value}`);
  return value;
}

/** Validates `request` and fills in defaults. Throws InvalidBoundRequestError naming the field. */
export function normaliseBoundRequest(request: BoundRequest): NormalisedBoundRequest {
  const validated = validateThreatModel({ transform: request.transform, box: request.box, sigma: request.sigma });
  if (!validated.ok) throw new InvalidBoundRequestError(validated.field, validated.message);
  const { spec, lo, hi, sigma: sigmaList } = validated.value;
  const params = spec.params.slice() as string[];

  const ns = request.ns ?? DEFAULT_NS;
  if (!Number.isInteger(ns) || ns < 10 || ns > MAX_NS) {
    throw new InvalidBoundRequestError('bound_settings.ns', `must be an integer in [10, ${MAX_NS}], got ${ns}`);
  }
  const grid = normaliseGrid(request.grid, params);
  grid.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1 || n > 100_000) {
      throw new InvalidBoundRequestError('bound_settings.grid_points', `${params[i]}: points per axis must be an integer in [1, 100000], got ${n}`);
    }
  });
  const method = request.method ?? 'auto';
  if (!BOUND_METHODS.includes(method)) {
    throw new InvalidBoundRequestError('bound_settings.method', `must be one of ${BOUND_METHODS.join(', ')}, got ${String(method)}`);
  }
  const delta = request.delta ?? DEFAULT_DELTA;
  if (typeof delta !== 'number' || !(delta >= 1e-300 && delta <= 0.1)) {
    throw new InvalidBoundRequestError('bound_settings.delta', `must be a number in [1e-300, 0.1], got ${String(delta)}`);
  }
  const box: Record<string, [number, number]> = {};
  const sigma: Record<string, number> = {};
  params.forEach((p, i) => {
    box[p] = [lo[i], hi[i]];
    sigma[p] = sigmaList[i];
  });
  return {
    spec,
    transform: spec.key,
    params,
    lo: lo.slice(),
    hi: hi.slice(),
    sigmaList: sigmaList.slice(),
    box,
    sigma,
    ns,
    grid,
    seed: parseSeed(request.seed),
    method,
    delta,
  };
}

/** The cache key of a normalised request: SHA-256 of its canonical JSON with the solver version. */
export function cacheKeyOf(n: NormalisedBoundRequest): string {
  return sha256Canonical({
    transform: n.transform,
    box: n.box,
    sigma: n.sigma,
    ns: n.ns,
    grid: n.grid,
    seed: n.seed.toString(),
    method: n.method,
    delta: n.delta,
    solverVersion: SOLVER_VERSION,
  });
}

/** The cache key `solveBound(request)` would report, without solving. */
export function boundCacheKey(request: BoundRequest): string {
  return cacheKeyOf(normaliseBoundRequest(request));
}

/** The verdict rule (ALGORITHM.md section 6): certified iff pA > max(h*, 1/2). */
export function certifies(paLower: number, threshold: number): boolean {
  return paLower > Math.max(threshold, 0.5);
}

/** Solves the bound of a threat model (ALGORITHM.md sections 4-5). Deterministic given the seed. */
export function solveBound(request: BoundRequest): BoundResult {
  const started = performance.now();
  const n = normaliseBoundRequest(request);
  const notes: string[] = [];

  const closed = n.method === 'numeric' ? null : closedFormThreshold(n.spec, n.sigmaList, n.lo, n.hi);
  if (n.method === 'closed-form' && closed === null) {
    throw new InvalidBoundRequestError('bound_settings.method', `transform '${n.transform}' has no closed-form bound (use auto or numeric)`);
  }
  const numeric =
    n.method === 'closed-form'
      ? null
      : solveNumeric({ spec: n.spec, sigma: n.sigmaList, lo: n.lo, hi: n.hi, grid: n.grid, ns: n.ns, seed: n.seed, delta: n.delta });

  let threshold: number;
  let method: 'numeric' | 'closed-form';
  if (numeric && closed) {
    method = closed.threshold <= numeric.threshold ? 'closed-form' : 'numeric';
    threshold = Math.min(closed.threshold, numeric.threshold);
  } else if (closed) {
    method = 'closed-form';
    threshold = closed.threshold;
  } else if (numeric) {
    method = 'numeric';
    threshold = numeric.threshold;
  } else {
    throw new Error('unreachable: neither bound was computed');
  }
  const certifiable = threshold < 1;

  if (closed) notes.push(`closed form (${closed.rule}), certifies the whole box: ${closed.threshold}`);
  if (numeric) {
    const axes = numeric.axes.map((a, i) => `${n.params[i]}: ${a.length}`).join(', ');
    const paths =
      numeric.pathRule === 'chord'
        ? 'path integrals bounded by the exact integral of a chord upper bound (8 points per path)'
        : '8-node Gauss-Legendre path integrals (their quadrature error is not bounded for this transform)';
    notes.push(
      `numeric GL bound (ALGORITHM.md section 4) over ${numeric.attackPoints} attack-grid points (${axes} per axis, borders included, beta0 skipped), ` +
        `${n.ns} score samples, ${paths}: ${numeric.threshold}`,
    );
    const mc = numeric.laws.includes('monte carlo');
    if (numeric.domainProblem === null) notes.push(
      `numeric: B bounded from above by ${numeric.laws.join(' + ')} ` +
        (mc
          ? `(Monte Carlo: one-sided CLT band, z = ${numeric.z.toFixed(3)}, Bonferroni over ${numeric.distinctEvaluations} directions x ${numeric.levels} levels; ` +
            `the threshold is sound with probability >= 1 - ${n.delta} (asymptotic))`
          : '(no Monte Carlo error: closed-form laws and deterministic quadrature upper bounds; the threshold does not depend on luck)'),
    );
    n.params.forEach((p, i) => {
      if (!n.spec.integerParams[i]) return;
      const all = Math.floor(n.hi[i]) - Math.ceil(n.lo[i]) + 1;
      if (numeric.axes[i].length < all) {
        notes.push(`${p}: the numeric bound covers ${numeric.axes[i].length} of the ${all} integer values of the box (raise grid to cover all)`);
      }
    });
    if (numeric.domainProblem !== null) {
      notes.push(
        `numeric: outside the solver's floating-point domain (${numeric.domainProblem}): no bound can be guaranteed there, ` +
          'threshold 1 (never certify)',
      );
    } else if (!numeric.certifiable) {
      notes.push(
        `numeric: max G = ${numeric.maxG.toPrecision(6)} >= Xi(1/2) = ${numeric.xiHalf.toPrecision(6)}: this box cannot be certified at this smoothing ` +
          '(threshold 1, never certify); shrink the box or raise sigma',
      );
    }
  }
  if (numeric && closed) notes.push(`portfolio: the smaller threshold (${method}) is used`);
  if (!n.spec.exactlyResolvable) notes.push(`transform '${n.transform}' is only approximately resolvable once discretised (blur)`);
  if (certifiable) {
    notes.push(`with alpha = 0.001 an image needs n >= ${minSamplesToCertify(threshold, 0.001)} samples before pA can exceed the threshold`);
  } else {
    notes.push('threshold 1: no image can be certified against this box');
  }

  const worstAttack: Record<string, number> | undefined = numeric?.worstAttack
    ? Object.fromEntries(n.params.map((p, i) => [p, numeric.worstAttack![i]]))
    : undefined;

  return {
    threshold,
    method,
    ...(numeric ? { numericThreshold: numeric.threshold } : {}),
    ...(closed ? { closedFormThreshold: closed.threshold } : {}),
    transform: n.transform,
    params: n.params,
    box: n.box,
    sigma: n.sigma,
    ns: n.ns,
    grid: n.grid,
    seed: n.seed.toString(),
    requestedMethod: n.method,
    seconds: (performance.now() - started) / 1000,
    scoreEvaluations: numeric?.scoreEvaluations ?? 0,
    distinctEvaluations: numeric?.distinctEvaluations ?? 0,
    attackPoints: numeric?.attackPoints ?? 0,
    ...(numeric ? { maxG: numeric.maxG, xiHalf: numeric.xiHalf } : {}),
    ...(worstAttack ? { worstAttack } : {}),
    solverVersion: SOLVER_VERSION,
    cacheKey: cacheKeyOf(n),
    certifiable,
    delta: n.delta,
    numericLaws: numeric?.laws ?? [],
    notes,
  };
}
