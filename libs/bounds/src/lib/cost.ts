// The cost of a solve, known before it starts, so a service can refuse a solve it cannot
// afford (or finish before its caller's deadline) instead of starting it. Pure and cheap: it
// reads the request's shape (attack points, ns, dimensions), never draws a sample.
//
// Cost model (units: score evaluations), an upper bound of the work of numeric.ts:
//   evaluations E = attack points x PATH_POINTS (8 points per path: the (beta, u) pairs)
//   directions  D = E, or 2 when the score kernel has one feature (eta = +-|c| F: one band per sign)
//   cost = D x (ns x dims + pilot x log2(pilot)) + ns x 16
// ns x dims per direction stands for eta (or the strata bound) over ns samples, pilot x log2 for
// the pilot sort that places the band levels, ns x 16 for the normals/strata drawn once (a
// quantile costs tens of score evaluations). Linear kernels share directions between nodes, so
// the real work can be well below this: measured on the 2-core dev VM, one unit takes 1.4 ns
// (t, bt) to 80 ns (gc), see services/bounds/README.md.

import type { NormalisedBoundRequest } from './solve';
import { axisPoints, MAX_ATTACK_POINTS } from './attack-grid';
import { pilotSize } from './band';
import { PATH_POINTS } from './numeric';
import { InvalidBoundRequestError } from './errors';
import { kernelFor } from './score-kernels';

export interface SolveCost {
  /** Grid points the numeric bound certifies against (beta0 excluded); 0 for a closed form alone. */
  readonly attackPoints: number;
  /** (beta, u) pairs: attack points x 8 nodes. */
  readonly evaluations: number;
  /** Upper bound of the pairs that need their own band. */
  readonly directions: number;
  /** directions x ns x dims. */
  readonly scoreEvaluations: number;
  /** directions x pilot x log2(pilot). */
  readonly sortEvaluations: number;
  /** The whole estimate, in score evaluations (0: no numeric solve). */
  readonly cost: number;
}

const NONE: SolveCost = Object.freeze({ attackPoints: 0, evaluations: 0, directions: 0, scoreEvaluations: 0, sortEvaluations: 0, cost: 0 });

/** Weight of the per-solve draw of normals/strata, per score sample. */
const SETUP_PER_SAMPLE = 16;

/**
 * The estimated cost of solving `n` (a request that passed `normaliseBoundRequest`); throws
 * InvalidBoundRequestError where the solver would (an axis without points, too many points).
 */
export function estimateSolveCost(n: NormalisedBoundRequest): SolveCost {
  if (n.method === 'closed-form') return NONE;
  const { spec } = n;
  const dims = n.params.length;
  let points = 1;
  let identityOnGrid = true;
  n.params.forEach((name, i) => {
    const axis = axisPoints(name, n.lo[i], n.hi[i], n.grid[i], spec.integerParams[i], spec.identity[i]);
    points *= axis.length;
    if (!axis.includes(spec.identity[i])) identityOnGrid = false;
  });
  // outside the domain is INVALID_ARGUMENT, as the solver would say, not a cost refusal
  if (points > MAX_ATTACK_POINTS) throw new InvalidBoundRequestError('bound_settings.grid_points', `${points} attack points is too many (at most ${MAX_ATTACK_POINTS})`);
  const attackPoints = points - (identityOnGrid ? 1 : 0);
  const evaluations = attackPoints * PATH_POINTS;
  const kernel = kernelFor(spec);
  const directions = kernel.kind === 'linear' && kernel.features === 1 ? Math.min(evaluations, 2) : evaluations;
  const pilot = pilotSize(n.ns);
  const scoreEvaluations = directions * n.ns * dims;
  const sortEvaluations = directions * pilot * Math.log2(pilot);
  return {
    attackPoints,
    evaluations,
    directions,
    scoreEvaluations,
    sortEvaluations,
    cost: scoreEvaluations + sortEvaluations + n.ns * SETUP_PER_SAMPLE,
  };
}
