// The sound numerical GL bound (ALGORITHM.md section 4; NOT the public reference
// implementation's path integral, which carries an extra factor t and certifies about twice the
// true radius, see section 8), with an UPPER BOUND of B in place of its Monte Carlo estimate:
//
//   for every evaluated (beta, u), with eta = u . score(beta; z):
//     Bplus(q) = min_k (a_k + q w_k) >= B(q)     (band.ts; a_k >= E[(eta - w_k)^+])
//     M+ = max_q Bplus,  shape P = Bplus / M+
//   p(q) = max of all shapes;  Xi(q) = integral_0^q ds / p(s)  (lower sum over cells)
//   G(beta1) = |delta| * integral_0^1 M+(beta0 + t delta, u) dt   (8-node Gauss-Legendre)
//   h* = 1 - Xi^{-1}(Xi(1/2) - max_beta1 G(beta1))
//
// Since B <= M+ p for every evaluated (beta, u), the GL path argument holds with (M+, p): the
// threshold is sound whenever every a_k bounds its g(w_k). For every built-in transform that is
// certain (closed-form laws or deterministic quadrature bounds, conditional.ts); a transform
// without a kernel gets a Monte Carlo band that holds for all levels of all directions at once
// with probability >= 1 - delta (Bonferroni; asymptotic CLT). Distances are Euclidean in raw
// parameter space, u = delta / |delta|. The normals are drawn once (counter-based, so the result
// depends only on the seed): estimation counters [0, ns), pilot (level placement) [ns, ns + ns/8).

import { fillNormals } from '@glcert/stats';
import type { TransformSpec } from '@glcert/transforms';

import { attackPoints } from './attack-grid';
import { bandLevels, bonferroniZ, lawLevelMin, pilotSize, upperBand } from './band';
import { conditionalSampler } from './conditional';
import type { ConditionalLaw } from './conditional';
import { ShapeEnvelope } from './envelope';
import { GAUSS_NODES, GAUSS_WEIGHTS } from './gauss-legendre';
import { genericEta, kernelFor, linearEta } from './score-kernels';

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
}

export function solveNumeric(input: NumericBoundInput): NumericBound {
  const { spec, sigma, ns, seed } = input;
  const delta = input.delta ?? DEFAULT_DELTA;
  if (!(delta > 0 && delta < 0.5)) throw new RangeError(`delta must be in (0, 1/2), got ${delta}`);
  const d = spec.params.length;
  const dim = spec.normalsPerSample;
  const beta0 = spec.identity;

  const grid = attackPoints(spec.params, input.lo, input.hi, input.grid, spec.integerParams, beta0);
  const nodes = GAUSS_NODES.length;
  const evaluations = grid.count * nodes;

  // Pass 1: every (path, node) -> a direction (and, for linear kernels, the scale |c| of eta).
  // The set of directions depends only on the request, so the Bonferroni count is fixed before
  // any sample is drawn.
  const kernel = kernelFor(spec);
  const dirOf = new Int32Array(evaluations).fill(-1);
  const scaleOf = new Float64Array(evaluations);
  const directions: Float64Array[] = []; // linear: unit c; generic: beta ++ u
  const beta = new Float64Array(d);
  const u = new Float64Array(d);
  const delta_ = new Float64Array(d);
  const lengths = new Float64Array(grid.count);
  const keyIndex = new Map<string, number>();
  const c = kernel.kind === 'linear' ? new Float64Array(kernel.features) : new Float64Array(0);
  for (let p = 0; p < grid.count; p++) {
    let len = 0;
    for (let i = 0; i < d; i++) {
      delta_[i] = grid.points[p * d + i] - beta0[i];
      len += delta_[i] * delta_[i];
    }
    len = Math.sqrt(len);
    lengths[p] = len;
    if (len === 0) continue;
    for (let i = 0; i < d; i++) u[i] = delta_[i] / len;
    for (let n = 0; n < nodes; n++) {
      const t = GAUSS_NODES[n];
      for (let i = 0; i < d; i++) beta[i] = beta0[i] + t * delta_[i];
      const e = p * nodes + n;
      if (kernel.kind === 'linear') {
        kernel.coefficients(beta, u, c);
        let norm = 0;
        for (let f = 0; f < c.length; f++) norm += c[f] * c[f];
        norm = Math.sqrt(norm);
        scaleOf[e] = norm;
        if (norm === 0) continue;
        // eta scales with |c| and its shape does not: one band per direction of c. Directions
        // equal to 1e-12 share it (e.g. the 8 nodes of a path, whose c differ only by rounding).
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
    for (let i = 0; i < a.length; i++) {
      if (!Number.isFinite(a[i])) throw new RangeError('the score is not finite at some sample (parameter outside the transform domain?)');
    }
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
    unitM[k] = band.M;
    envelope.addBand(band);
  }

  // G(beta1) = |delta| * sum_n w_n M+(node n), the worst over the attack set.
  let maxG = 0;
  let worst = -1;
  for (let p = 0; p < grid.count; p++) {
    const len = lengths[p];
    if (len === 0) continue;
    let integral = 0;
    for (let n = 0; n < nodes; n++) {
      const e = p * nodes + n;
      if (dirOf[e] < 0) continue;
      integral += GAUSS_WEIGHTS[n] * scaleOf[e] * unitM[dirOf[e]];
    }
    const G = len * integral;
    if (G > maxG || worst < 0) {
      maxG = Math.max(G, maxG);
      worst = p;
    }
  }

  const { threshold, certifiable } = envelope.threshold(maxG);
  return {
    threshold,
    certifiable,
    maxG,
    xiHalf: envelope.xiHalf(),
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
  };
}
