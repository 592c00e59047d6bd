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
