// The sound numerical GL bound (ALGORITHM.md section 4, implemented as written; NOT the public
// reference implementation's path integral, which carries an extra factor t and certifies
// about twice the true radius, see section 8).
//
//   for every evaluated (beta, u): eta = u . score(beta; z) over ns samples,
//     B(j/ns) = (1/ns) * (sum of the j largest eta), M = max_j B, shape P = B / M
//   p(q) = max of all shapes;  Xi(q) = integral_0^q ds / p(s)
//   G(beta1) = |delta| * integral_0^1 M(beta0 + t delta, u) dt   (8-node Gauss-Legendre)
//   h* = 1 - Xi^{-1}(Xi(1/2) - max_beta1 G(beta1))
//
// The normals are drawn once (counter-based, so the result depends only on the seed) and reused
// for every beta. Distances are Euclidean in raw parameter space, u = delta / |delta|.

import { fillNormals } from '@glcert/stats';
import type { TransformSpec } from '@glcert/transforms';

import { attackPoints } from './attack-grid';
import { ShapeEnvelope } from './envelope';
import { GAUSS_NODES, GAUSS_WEIGHTS } from './gauss-legendre';
import { genericEta, kernelFor, linearEta } from './score-kernels';
import { largestAscending } from './select';

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
}

export interface NumericBound {
  /** h*: certify iff pA > max(h*, 1/2). 1 when the attack set cannot be certified. */
  readonly threshold: number;
  readonly certifiable: boolean;
  /** max over the attack set of G(beta1). */
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
  /** Of those, the ones that needed their own eta, sort and shape (the rest were exact repeats). */
  readonly distinctEvaluations: number;
  /** ns x evaluations. */
  readonly scoreEvaluations: number;
}

export function solveNumeric(input: NumericBoundInput): NumericBound {
  const { spec, sigma, ns, seed } = input;
  const d = spec.params.length;
  const dim = spec.normalsPerSample;
  const beta0 = spec.identity;

  const grid = attackPoints(spec.params, input.lo, input.hi, input.grid, spec.integerParams, beta0);

  const z = new Float64Array(ns * dim);
  fillNormals(seed, BOUND_NORMALS_STREAM, 0, ns, dim, z);

  const kernel = kernelFor(spec);
  const eta = new Float64Array(ns);
  const h = Math.floor(ns / 2);
  const envelope = new ShapeEnvelope(ns);
  let distinct = 0;

  // Measures M(beta, u), adding the shape of (beta, u) to the envelope.
  const shapeOfEta = (): number => {
    let positive = 0;
    for (let i = 0; i < ns; i++) {
      const v = eta[i];
      if (v > 0) positive += v;
      else if (!(v <= 0)) throw new RangeError('the score is not finite at some sample (parameter outside the transform domain?)');
    }
    distinct++;
    if (positive > 0) envelope.add(largestAscending(eta, h), positive);
    return positive / ns;
  };

  let measure: (beta: Float64Array, u: Float64Array) => number;
  if (kernel.kind === 'linear') {
    const F = new Float64Array(kernel.features * ns);
    kernel.fill(z, ns, dim, sigma, F);
    const c = new Float64Array(kernel.features);
    const memo = new Map<string, number>();
    measure = (beta, u) => {
      kernel.coefficients(beta, u, c);
      let norm = 0;
      for (let f = 0; f < c.length; f++) norm += c[f] * c[f];
      norm = Math.sqrt(norm);
      if (norm === 0) return 0;
      for (let f = 0; f < c.length; f++) c[f] /= norm;
      // eta scales with |c| and its shape does not: one sort per direction of c. Directions
      // equal to 1e-12 share it (e.g. the 8 nodes of a path, whose c differ only by rounding).
      let key = '';
      for (let f = 0; f < c.length; f++) key += `${Math.round(c[f] * 1e12)},`;
      let unitM = memo.get(key);
      if (unitM === undefined) {
        linearEta(F, ns, c, eta);
        unitM = shapeOfEta();
        memo.set(key, unitM);
      }
      return norm * unitM;
    };
  } else {
    const rows: Float64Array[] = [];
    for (let i = 0; i < ns; i++) rows.push(z.subarray(i * dim, (i + 1) * dim));
    const scratch = new Float64Array(d);
    measure = (beta, u) => {
      genericEta(spec, rows, sigma, beta, u, scratch, eta);
      return shapeOfEta();
    };
  }

  const beta = new Float64Array(d);
  const u = new Float64Array(d);
  const delta = new Float64Array(d);
  let maxG = 0;
  let worst = -1;
  for (let p = 0; p < grid.count; p++) {
    let len = 0;
    for (let i = 0; i < d; i++) {
      delta[i] = grid.points[p * d + i] - beta0[i];
      len += delta[i] * delta[i];
    }
    len = Math.sqrt(len);
    if (len === 0) continue;
    for (let i = 0; i < d; i++) u[i] = delta[i] / len;
    let integral = 0;
    for (let n = 0; n < GAUSS_NODES.length; n++) {
      const t = GAUSS_NODES[n];
      for (let i = 0; i < d; i++) beta[i] = beta0[i] + t * delta[i];
      integral += GAUSS_WEIGHTS[n] * measure(beta, u);
    }
    const G = len * integral;
    if (G > maxG || worst < 0) {
      maxG = Math.max(G, maxG);
      worst = p;
    }
  }

  const { threshold, certifiable } = envelope.threshold(maxG);
  const evaluations = grid.count * GAUSS_NODES.length;
  return {
    threshold,
    certifiable,
    maxG,
    xiHalf: envelope.xiHalf(),
    worstAttack: worst < 0 ? null : Array.from(grid.points.subarray(worst * d, (worst + 1) * d)),
    attackPoints: grid.count,
    axes: grid.axes,
    evaluations,
    distinctEvaluations: distinct,
    scoreEvaluations: evaluations * ns,
  };
}
