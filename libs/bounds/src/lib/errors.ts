/**
 * A bound request that cannot be solved as given. `field` names the offending input as in the
 * contracts (`threat_model.box.k`, `threat_model.sigma.b`, `bound_settings.ns`,
 * `bound_settings.grid_points`, `bound_settings.seed`, `bound_settings.method`); callers map it
 * to INVALID_ARGUMENT (a field violation) or a usage error.
 */
export class InvalidBoundRequestError extends Error {
  readonly code = 'INVALID_ARGUMENT' as const;
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvalidBoundRequestError';
  }
}

/**
 * Raised inside the numeric solver where a quantity leaves the range in which double precision
 * keeps it sound (an overflow, an underflow to 0 or into the denormals, a NaN). `solveNumeric`
 * catches it and answers threshold 1 (certify nothing) with `reason` in its notes; it never
 * escapes the solver.
 */
export class NumericDomainError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'NumericDomainError';
  }
}
