// @glcert/bounds: the sound General Lipschitz bound solver (ALGORITHM.md section 4), the closed
// forms of section 5 and the bound portfolio. Pure TypeScript; image-independent.
export {
  solveBound,
  normaliseBoundRequest,
  boundCacheKey,
  cacheKeyOf,
  certifies,
  BOUND_METHODS,
  DEFAULT_NS,
  DEFAULT_SEED,
  SOLVER_VERSION,
} from './lib/solve';
export type { BoundMethodName, BoundRequest, BoundResult, NormalisedBoundRequest } from './lib/solve';
export { solveNumeric, BOUND_NORMALS_STREAM, DEFAULT_DELTA, SCALE_LIMIT, PATH_POINTS } from './lib/numeric';
export type { NumericBound, NumericBoundInput } from './lib/numeric';
export { closedFormThreshold, thresholdFloor, CLOSED_FORM_TRANSFORMS } from './lib/closed-form';
export type { ClosedForm } from './lib/closed-form';
export { ShapeEnvelope } from './lib/envelope';
export { upperBand, bandAt, bandLevels, lawLevelMin, pilotSize, bonferroniZ, psiUpper, expExcess, lawExcess, MIN_EXCEEDANCES, LEVEL_RATIO } from './lib/band';
export type { UpperBand, BandInput } from './lib/band';
export { conditionalSampler, TAIL_MASS } from './lib/conditional';
export type { ConditionalLaw, ConditionalSampler } from './lib/conditional';
export { axisPoints, attackPoints, normaliseGrid, DEFAULT_GRID_POINTS } from './lib/attack-grid';
export { estimateSolveCost } from './lib/cost';
export type { SolveCost } from './lib/cost';
export { GAUSS_NODES, GAUSS_WEIGHTS } from './lib/gauss-legendre';
export { canonicalJson, sha256Canonical } from './lib/cache-key';
export { InvalidBoundRequestError, NumericDomainError } from './lib/errors';
export { simulateSoundness, defaultThresholds, cpVerdict, binomialUpperTail, formatSoundnessTable, nullCellTest, SOUNDNESS_STREAM } from './lib/soundness';
export type { NullCellStats, SimulatedCell, SoundnessCell, SoundnessOptions } from './lib/soundness';
