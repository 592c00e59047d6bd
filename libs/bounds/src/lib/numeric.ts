// The sound numerical GL bound (ALGORITHM.md section 4; NOT the public reference
// implementation's path integral, which carries an extra factor t and certifies about twice the
// true radius, see section 8), with an UPPER BOUND of B in place of its Monte Carlo estimate:
//
//   for every evaluated (beta, u), with eta = u . score(beta; z):
//     Bplus(q) = min_k (a_k + q w_k) >= B(q)     (band.ts; a_k >= E[(eta - w_k)^+])
//     M+ = max_q Bplus,  shape P = Bplus / M+
//   p(q) = max of all shapes;  Xi(q) = integral_0^q ds / p(s)  (lower sum over cells)
//   G(beta1) = |delta| * (an upper bound of) integral_0^1 M+(beta0 + t delta, u) dt
//   h* = 1 - Xi^{-1}(Xi(1/2) - max_beta1 G(beta1))
//
// Since B <= M+ p for every evaluated (beta, u), the GL path argument holds with (M+, p): the
// threshold is sound whenever every a_k bounds its g(w_k). For every built-in transform that is
// certain (closed-form laws or deterministic quadrature bounds, conditional.ts); a transform
// without a kernel gets a Monte Carlo band that holds for all levels of all directions at once
// with probability >= 1 - delta (Bonferroni; asymptotic CLT). Distances are Euclidean in raw
// parameter space, u = delta / |delta|. The normals are drawn once (counter-based, so the result
// depends only on the seed): estimation counters [0, ns), pilot (level placement) [ns, ns + ns/8).
//
// The path integral. eta = c(beta, u) . F(z) and B_c(q) = sup over events E of probability q of
// E[c . F; E] is convex and positively homogeneous in c. For every kernel but gc, c(t) runs along
// a segment of c-space as t goes from 0 to 1 (c(t) = A s(t) + B, s = 1/k or 1/g, or c constant;
// score-kernels.ts `segment`), so on a piece [t_i, t_i+1] of the path, B_c(t) is at most the chord
// lambda B_c(t_i) + (1 - lambda) B_c(t_i+1) (lambda linear in s), hence at most
// mbar(t) p with mbar(t) = lambda M+_i + (1 - lambda) M+_i+1: the path argument holds at EVERY t,
// not only at the evaluated points, and G = |delta| * integral of mbar, integrated exactly (the
// 8 points are equally spaced in s, ends included). Gauss-Legendre (used before gl-sound/3)
// underestimated integral dk/k by 4% on k in [0.01, 1] and 23% on [0.001, 1]: false thresholds.
// gc (a curve in c-space) and transforms without a kernel keep the 8-node Gauss-Legendre rule,
// whose error is not bounded (the notes say so).
//
// Floating point. The solver computes in double precision within a documented domain: every
// sigma in [1/SCALE_LIMIT, SCALE_LIMIT] and every box bound at most SCALE_LIMIT in magnitude.
// There every score scale |c|/sigma, path length, M+ and G is a normal double (products of up
// to three such factors stay within 1e-300 .. 1e300, or are too small to move the threshold).
// Outside it, or wherever a stage still produces a non-finite value, an underflow of a scale to 0
// or a NaN, the solver answers threshold 1 (certify nothing) with the reason
// (`domainProblem`): it never returns a threshold it cannot guarantee. Before gl-sound/3 the
// score's variance (1/sigma)^2 overflowed at sigma ~ 1e-155: M = Inf, every shape NaN (silently
// dropped), Xi = Inf, G = Inf, and the search took Inf >= Inf as reachable: threshold 0.5 + 1/ns.

import { fillNormals } from '@glcert/stats';
import type { TransformSpec } from '@glcert/transforms';

import { attackPoints } from './attack-grid';
import { bandLevels, bonferroniZ, lawLevelMin, pilotSize, upperBand } from './band';
import { conditionalSampler } from './conditional';
import type { ConditionalLaw } from './conditional';
import { ShapeEnvelope } from './envelope';
import { InvalidBoundRequestError, NumericDomainError } from './errors';
import { expm1PlusMinus, norm2 } from './fp';
import { GAUSS_NODES, GAUSS_WEIGHTS } from './gauss-legendre';
import { genericEta, kernelFor, linearEta } from './score-kernels';
import type { ScoreKernel } from './score-kernels';

/**
 * Generator stream the solver draws its normals from. Streams 0 and 1 are the per-image
 * selection and estimation streams of certification (ALGORITHM.md section 6).
 */
export const BOUND_NORMALS_STREAM = 2;

export interface NumericBoundInput {
  readonly spec: TransformSpec;
  /** One per parameter, in `spec.params` order. */
  readonly sigma: readonly number[];
  readonly lo: readonly number[];
  readonly hi: readonly number[];
  /** Points per axis, in `spec.params` order. */
  readonly grid: readonly number[];
  readonly ns: number;
  readonly seed: bigint;
  /**
   * Probability that a Monte Carlo band fails anywhere in this solve (default DEFAULT_DELTA);
   * the threshold is then sound with probability >= 1 - delta. Unused when every direction has
   * a known law (all built-in transforms).
   */
  readonly delta?: number;
  /**
   * Diagnostics only (NOT sound): replaces the Monte Carlo band's normal quantile, e.g. 0 for
   * the plain point estimate. No effect on transforms with a known law.
   */
  readonly bandZ?: number;
}

/** Default failure probability of the Monte Carlo band, per solve. */
export const DEFAULT_DELTA = 1e-6;

/**
 * The solver's floating-point domain: sigma in [1/SCALE_LIMIT, SCALE_LIMIT], box bounds at most
 * SCALE_LIMIT in magnitude. Outside it the numeric bound is threshold 1 (see the header).
 */
export const SCALE_LIMIT = 1e100;

/** Points per path where M+ is evaluated (8: the chord pieces of a segment, or Gauss-Legendre). */
export const PATH_POINTS = GAUSS_NODES.length;

/** Relative allowance added to every G for the rounding of its sum (far above the real error). */
const G_ROUNDING = 1e-12;

/**
 * Where to evaluate M+ along the path beta0 + t delta (t[0..7]) and with which weights, such that
 * integral_0^1 mbar(t) dt = sum_j w_j M+_j (see the header). Segment kernels: points equally
 * spaced in s (ends included) and the exact integral of the chord interpolant; curves: Gauss-Legendre.
 */
function pathRule(kernel: ScoreKernel, beta0: readonly number[], delta: ArrayLike<number>, t: Float64Array, w: Float64Array, beta: Float64Array): void {
  const N = PATH_POINTS - 1;
  const segment = kernel.kind === 'linear' ? kernel.segment : null;
  if (segment === null) {
    t.set(GAUSS_NODES);
    w.set(GAUSS_WEIGHTS);
    return;
  }
  w.fill(0);
  const j = segment === 'constant' ? -1 : segment.reciprocal;
  const dj = j < 0 ? 0 : delta[j];
  if (dj === 0) {
    // c is constant along the path: every M+ is the same; trapezoid weights sum to 1
    for (let i = 0; i <= N; i++) t[i] = i / N;
    for (let i = 0; i < N; i++) {
      w[i] += 0.5 / N;
      w[i + 1] += 0.5 / N;
    }
    return;
  }
  const b0 = beta0[j];
  const b1 = b0 + dj;
  if (!(b0 > 0 && b1 > 0)) throw new NumericDomainError(`path to ${b1}: the reciprocal 1/beta is not finite on it`);
  const s0 = 1 / b0;
  const s1 = 1 / b1;
  for (let i = 0; i <= N; i++) {
    beta[i] = i === 0 ? b0 : i === N ? b1 : 1 / (s0 + ((s1 - s0) * i) / N);
    t[i] = i === 0 ? 0 : i === N ? 1 : (beta[i] - b0) / dj;
  }
  for (let i = 0; i < N; i++) {
    // On the piece, beta runs from beta_i to beta_i+1 = rho beta_i (x = ln rho) and the chord puts
    // weight lambda = (s_i+1 - s)/(s_i+1 - s_i) on M+_i. Exactly:
    //   integral of lambda dt       = beta_i (x + expm1(-x)) / (dj (1 - e^-x))
    //   integral of (1 - lambda) dt = beta_i (expm1(x) - x) / (dj (1 - e^-x))
    // (written so that neither cancels: a piece from k = 7 to 1e100 has weights 1.6e-97 and 1).
    const x = Math.log(beta[i + 1] / beta[i]);
    if (x === 0) {
      // a piece shorter than the rounding of beta (a box of width ~1e-16): M+ is the same at both ends
      const half = Math.max(0, t[i + 1] - t[i]) / 2;
      w[i] += half;
      w[i + 1] += half;
      continue;
    }
    const scale = beta[i] / (dj * -Math.expm1(-x));
    const lo = scale * expm1PlusMinus(x, -1);
    const hi = scale * expm1PlusMinus(x, 1);
    if (!(lo >= 0 && hi >= 0 && Number.isFinite(lo + hi))) throw new NumericDomainError(`path weights ${lo}, ${hi} on [${beta[i]}, ${beta[i + 1]}]`);
    w[i] += lo;
    w[i + 1] += hi;
  }
}

export interface NumericBound {
  /** h*: certify iff pA > max(h*, 1/2). 1 when the attack set cannot be certified. */
  readonly threshold: number;
  readonly certifiable: boolean;
  /** max over the attack set of G(beta1) (with the upper band M+ of every M). */
  readonly maxG: number;
  /** Xi(1/2) (lower sum from q = 0); certification needs max G < Xi(1/2). */
  readonly xiHalf: number;
  /** The attack point attaining max G (parameter order), null when there is none. */
  readonly worstAttack: number[] | null;
  /** Grid points certified against (beta0 excluded). */
  readonly attackPoints: number;
  /** Points of each axis, in parameter order. */
  readonly axes: number[][];
  /** (beta, u) pairs evaluated: attack points x 8. */
  readonly evaluations: number;
  /** Of those, the ones that needed their own eta and band (the rest repeat a direction exactly). */
  readonly distinctEvaluations: number;
  /** ns x evaluations. */
  readonly scoreEvaluations: number;
  /** Failure probability of the band (all levels of all distinct directions together). */
  readonly delta: number;
  /** One-sided normal quantile of every band level (Bonferroni over levels x directions). */
  readonly z: number;
  /** Band levels per direction (pilot quantiles plus 0). */
  readonly levels: number;
  /** Pilot samples per direction (level placement; counters ns.. of the same stream). */
  readonly pilot: number;
  /**
   * How g(w) was bounded: 'normal' / 'exp' (closed form), 'strata' (deterministic quadrature
   * bound), 'monte carlo' (CLT confidence band at quantile z); see conditional.ts and band.ts.
   */
  readonly laws: string[];
  /**
   * How the path integral of M+ was bounded: 'chord' (exact integral of an upper bound, every
   * kernel with a segment) or 'gauss-legendre' (8 nodes, error not bounded: gc, no kernel).
   */
  readonly pathRule: 'chord' | 'gauss-legendre';
  /**
   * Why the solver answered threshold 1 without a bound (outside its floating-point domain, or a
   * stage that overflowed, underflowed or gave NaN); null when it solved. maxG and xiHalf are 0 then.
   */
  readonly domainProblem: string | null;
}

/** Rejects inputs no solve can use (InvalidBoundRequestError naming the field). */
function validateInput(input: NumericBoundInput): void {
  const { spec, sigma, lo, hi } = input;
  const d = spec.params.length;
  if (sigma.length !== d || lo.length !== d || hi.length !== d || input.grid.length !== d) {
    throw new InvalidBoundRequestError('threat_model', `expected ${d} values (${spec.params.join(', ')}) for sigma, box and grid`);
  }
  for (let i = 0; i < d; i++) {
    const p = spec.params[i];
    if (typeof sigma[i] !== 'number' || !(Number.isFinite(sigma[i]) && sigma[i] > 0)) {
      throw new InvalidBoundRequestError(`threat_model.sigma.${p}`, `must be a finite number > 0, got ${String(sigma[i])}`);
    }
    if (typeof lo[i] !== 'number' || typeof hi[i] !== 'number' || !Number.isFinite(lo[i]) || !Number.isFinite(hi[i]) || !(lo[i] <= hi[i])) {
      throw new InvalidBoundRequestError(`threat_model.box.${p}`, `must be finite with lo <= hi, got [${String(lo[i])}, ${String(hi[i])}]`);
    }
    for (const v of [lo[i], hi[i]]) {
      const beta = spec.identity.slice();
      beta[i] = v;
      const problem = spec.domain(beta);
      if (problem !== null) throw new InvalidBoundRequestError(`threat_model.box.${p}`, problem);
    }
  }
  if (!Number.isInteger(input.ns) || input.ns < 2) throw new InvalidBoundRequestError('bound_settings.ns', `must be an integer >= 2, got ${input.ns}`);
}

/** The floating-point domain (see the header); a NumericDomainError outside it. */
function checkDomain(input: NumericBoundInput): void {
  const { spec, sigma, lo, hi } = input;
  for (let i = 0; i < spec.params.length; i++) {
    const p = spec.params[i];
    if (!(sigma[i] >= 1 / SCALE_LIMIT && sigma[i] <= SCALE_LIMIT)) {
      throw new NumericDomainError(`sigma.${p} = ${sigma[i]} is outside the solver's floating-point domain [${1 / SCALE_LIMIT}, ${SCALE_LIMIT}]`);
    }
    if (!(Math.abs(lo[i]) <= SCALE_LIMIT && Math.abs(hi[i]) <= SCALE_LIMIT)) {
      throw new NumericDomainError(`box.${p} = [${lo[i]}, ${hi[i]}] is outside the solver's floating-point domain (|bound| <= ${SCALE_LIMIT})`);
    }
  }
}

export function solveNumeric(input: NumericBoundInput): NumericBound {
  const delta = input.delta ?? DEFAULT_DELTA;
  if (!(delta > 0 && delta < 0.5)) throw new InvalidBoundRequestError('bound_settings.delta', `must be in (0, 1/2), got ${delta}`);
  validateInput(input);
  const { spec } = input;
  const grid = attackPoints(spec.params, input.lo, input.hi, input.grid, spec.integerParams, spec.identity);
  const kernel = kernelFor(spec);
  const rule = kernel.kind === 'linear' && kernel.segment !== null ? 'chord' : 'gauss-legendre';
  try {
    checkDomain(input);
    return solveInDomain(input, delta, grid, kernel, rule);
  } catch (e) {
    if (!(e instanceof NumericDomainError)) throw e;
    // certify nothing: threshold 1 is sound for every box
    return {
      threshold: 1,
      certifiable: false,
      maxG: 0,
      xiHalf: 0,
      worstAttack: null,
      attackPoints: grid.count,
      axes: grid.axes,
      evaluations: grid.count * PATH_POINTS,
      distinctEvaluations: 0,
      scoreEvaluations: 0,
      delta,
      z: 0,
      levels: 0,
      pilot: 0,
      laws: [],
      pathRule: rule,
      domainProblem: e.reason,
    };
  }
}

/** Throws NumericDomainError unless x is finite (and, with `positive`, a normal double > 0). */
function guard(x: number, what: string, positive = false): number {
  if (!Number.isFinite(x) || (positive && !(x >= 2.2250738585072014e-308))) {
    throw new NumericDomainError(`${what} is ${x} in double precision`);
  }
  return x;
}

function solveInDomain(
  input: NumericBoundInput,
  delta: number,
  grid: ReturnType<typeof attackPoints>,
  kernel: ScoreKernel,
  rule: NumericBound['pathRule'],
): NumericBound {
  const { spec, sigma, ns, seed } = input;
  const d = spec.params.length;
  const dim = spec.normalsPerSample;
  const beta0 = spec.identity;
  const nodes = PATH_POINTS;
  const evaluations = grid.count * nodes;

  // Pass 1: every (path, point) -> a direction (and, for linear kernels, the scale |c| of eta)
  // and its weight in G. The set of directions depends only on the request, so the Bonferroni
  // count is fixed before any sample is drawn.
  const dirOf = new Int32Array(evaluations).fill(-1);
  const scaleOf = new Float64Array(evaluations);
  const weightOf = new Float64Array(evaluations);
  const directions: Float64Array[] = []; // linear: unit c; generic: beta ++ u
  const beta = new Float64Array(d);
  const u = new Float64Array(d);
  const delta_ = new Float64Array(d);
  const tPath = new Float64Array(nodes);
  const wPath = new Float64Array(nodes);
  const betaPath = new Float64Array(nodes);
  const lengths = new Float64Array(grid.count);
  const keyIndex = new Map<string, number>();
  const c = kernel.kind === 'linear' ? new Float64Array(kernel.features) : new Float64Array(0);
  for (let p = 0; p < grid.count; p++) {
    for (let i = 0; i < d; i++) delta_[i] = grid.points[p * d + i] - beta0[i];
    // scaled: delta^2 under- or overflows long before |delta| does (a box of +-1e-170 had
    // length 0 and was skipped as beta0 itself)
    const len = guard(norm2(delta_), 'a path length');
    lengths[p] = len;
    if (len === 0) continue;
    for (let i = 0; i < d; i++) u[i] = guard(delta_[i] / len, 'a path direction');
    pathRule(kernel, beta0, delta_, tPath, wPath, betaPath);
    for (let n = 0; n < nodes; n++) {
      const t = tPath[n];
      for (let i = 0; i < d; i++) beta[i] = n === nodes - 1 && rule === 'chord' ? grid.points[p * d + i] : beta0[i] + t * delta_[i];
      const e = p * nodes + n;
      weightOf[e] = wPath[n];
      if (kernel.kind === 'linear') {
        kernel.coefficients(beta, u, c);
        const norm = guard(norm2(c), 'a score coefficient norm');
        scaleOf[e] = norm;
        if (norm === 0) continue;
        // eta scales with |c| and its shape does not: one band per direction of c. Directions
        // equal to 1e-12 share it (e.g. the points of a path, whose c differ only by rounding).
        let key = '';
        for (let f = 0; f < c.length; f++) key += `${Math.round((c[f] / norm) * 1e12)},`;
        let idx = keyIndex.get(key);
        if (idx === undefined) {
          idx = directions.length;
          keyIndex.set(key, idx);
          directions.push(Float64Array.from(c, (v) => v / norm));
        }
        dirOf[e] = idx;
      } else {
        scaleOf[e] = 1;
        dirOf[e] = directions.length;
        const row = new Float64Array(2 * d);
        row.set(beta, 0);
        row.set(u, d);
        directions.push(row);
      }
    }
  }

  // Pass 2: a band per direction. Estimation sample: counters [0, ns) of the solver stream;
  // pilot (level placement only): counters [ns, ns + pilot).
  const levels = bandLevels(ns); // Monte Carlo: at least ~50 expected exceedances per level
  const lawLevels = bandLevels(ns, lawLevelMin(ns)); // known laws: down to what the pilot resolves
  const tests = Math.max(1, directions.length) * (levels.length + 1);
  const z = input.bandZ ?? bonferroniZ(delta, tests);
  const np = pilotSize(ns);
  const sampler = conditionalSampler(spec, ns, sigma);
  // The estimation sample is only drawn when some direction needs Monte Carlo.
  const zMain = sampler ? new Float64Array(0) : new Float64Array(ns * dim);
  if (!sampler) fillNormals(seed, BOUND_NORMALS_STREAM, 0, ns, dim, zMain);
  const zPilot = new Float64Array(np * dim);
  fillNormals(seed, BOUND_NORMALS_STREAM, ns, np, dim, zPilot);

  const envelope = new ShapeEnvelope(ns);
  const eta = new Float64Array(ns);
  const etaPilot = new Float64Array(np);
  const unitM = new Float64Array(directions.length);
  const laws = new Set<string>();

  let fill: (dir: Float64Array) => ConditionalLaw | null;
  if (kernel.kind === 'linear') {
    const F = sampler ? null : new Float64Array(kernel.features * ns);
    if (F) kernel.fill(zMain, ns, dim, sigma, F);
    const FP = new Float64Array(kernel.features * np);
    kernel.fill(zPilot, np, dim, sigma, FP);
    fill = (dir) => {
      linearEta(FP, np, dir, etaPilot);
      if (sampler) return sampler.law(dir);
      linearEta(F!, ns, dir, eta);
      return null;
    };
  } else {
    const rows: Float64Array[] = [];
    for (let i = 0; i < ns; i++) rows.push(zMain.subarray(i * dim, (i + 1) * dim));
    const pilotRows: Float64Array[] = [];
    for (let i = 0; i < np; i++) pilotRows.push(zPilot.subarray(i * dim, (i + 1) * dim));
    const scratch = new Float64Array(d);
    fill = (dir) => {
      const b = dir.subarray(0, d);
      const v = dir.subarray(d);
      genericEta(spec, rows, sigma, b, v, scratch, eta);
      genericEta(spec, pilotRows, sigma, b, v, scratch, etaPilot);
      return null;
    };
  }

  const finite = (a: Float64Array) => {
    for (let i = 0; i < a.length; i++) guard(a[i], 'the score at some sample');
  };
  for (let k = 0; k < directions.length; k++) {
    const law = fill(directions[k]);
    finite(etaPilot);
    if (law === null) finite(eta);
    etaPilot.sort();
    etaPilot.reverse();
    const band = upperBand({ law, eta: law === null ? eta : null, pilotDescending: etaPilot, levels: law === null ? levels : lawLevels, z });
    laws.add(law === null ? 'monte carlo' : law.kind);
    if (band === null) continue; // eta identically 0: B = 0, M = 0
    unitM[k] = guard(band.M, 'the band maximum M+', true);
    envelope.addBand(band);
  }

  // G(beta1) = |delta| * sum_n w_n M+(point n), the worst over the attack set.
  let maxG = 0;
  let worst = -1;
  for (let p = 0; p < grid.count; p++) {
    const len = lengths[p];
    if (len === 0) continue;
    let integral = 0;
    for (let n = 0; n < nodes; n++) {
      const e = p * nodes + n;
      if (dirOf[e] < 0) continue;
      // (|c| M+) first: both are set by the box and sigma together and stay moderate
      integral += weightOf[e] * (scaleOf[e] * unitM[dirOf[e]]);
    }
    const G = guard(len * integral * (1 + G_ROUNDING), 'a path integral G');
    if (G > maxG || worst < 0) {
      maxG = Math.max(G, maxG);
      worst = p;
    }
  }

  const xiHalf = envelope.xiHalf();
  const { threshold, certifiable } = envelope.threshold(maxG);
  guard(threshold, 'the threshold');
  if (!(threshold >= 0.5 && threshold <= 1)) throw new NumericDomainError(`the threshold ${threshold} is outside [1/2, 1]`);
  return {
    threshold,
    certifiable,
    maxG,
    xiHalf: Number.isFinite(xiHalf) ? xiHalf : Number.MAX_VALUE,
    worstAttack: worst < 0 ? null : Array.from(grid.points.subarray(worst * d, (worst + 1) * d)),
    attackPoints: grid.count,
    axes: grid.axes,
    evaluations,
    distinctEvaluations: directions.length,
    scoreEvaluations: evaluations * ns,
    delta,
    z,
    levels: levels.length + 1,
    pilot: np,
    laws: [...laws].sort(),
    pathRule: rule,
    domainProblem: null,
  };
}
