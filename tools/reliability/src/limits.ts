// Limits the in-process services of the bad-input test run with (small, so "over the limit"
// cases are cheap); the table of cases and the harness both read them.

/** Bytes a server accepts in one message. */
export const LIMITS = {
  certifier: 1024 * 1024,
  sampler: 1024 * 1024,
  // a sampler batch of 256 MNIST images is 0.8 MB
  inference: 2 * 1024 * 1024,
  bounds: 64 * 1024,
  verifier: 64 * 1024,
} as const;

/** CERTIFIER_MAX_N of the in-process certifier. */
export const MAX_N = 100_000;
/** SAMPLER_MAX_RANGE of the in-process sampler. */
export const MAX_RANGE = 100_000;
