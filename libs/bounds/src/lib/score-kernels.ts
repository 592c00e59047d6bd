// Fast evaluation of eta_i = u . score(beta; z_i) over all samples (ALGORITHM.md section 3).
//
// Every score of section 3 is linear in a few per-sample features whose coefficients depend on
// (beta, u) only: eta_i = sum_f c_f(beta, u) F_f(z_i). The features are computed once per
// solve from the drawn normals (the exponentials and square roots are paid once, not per path
// point), and each evaluation is then a short dot product per sample. `score-kernels.spec.ts`
// checks every kernel against `TransformSpec.score`, which stays the single source of truth;
// a transform without a kernel falls back to calling `spec.score` per sample.
//
// Because eta is linear in c, scaling c by lambda > 0 scales eta, M and every B by lambda and
// leaves the shape P unchanged: the solver memoises (M/|c|, shape) by the direction c/|c|.

import type { TransformKey, TransformSpec } from '@glcert/transforms';

export interface LinearScoreKernel {
  readonly kind: 'linear';
  /** Number of features per sample. */
  readonly features: number;
  /** Feature f of sample i into F[f * ns + i] (feature-major). */
  fill(z: Float64Array, ns: number, dim: number, sigma: readonly number[], F: Float64Array): void;
  /** c(beta, u) into `out` (length `features`). */
  coefficients(beta: ArrayLike<number>, u: ArrayLike<number>, out: Float64Array): void;
  /**
   * How c moves along a straight path beta(t) = beta0 + t delta from the identity (u fixed):
   * 'constant' (c does not depend on beta), { reciprocal: j } (c(t) = A s(t) + B, s = 1/beta_j(t):
   * a segment of c-space traversed monotonically), or null (a curve). On a segment the path
   * integral of M is bounded rigorously (numeric.ts); `score-kernels.spec.ts` checks the claim.
   */
  readonly segment: 'constant' | { readonly reciprocal: number } | null;
}

export interface GenericScoreKernel {
  readonly kind: 'generic';
}

export type ScoreKernel = LinearScoreKernel | GenericScoreKernel;

function linear(
  features: number,
  segment: LinearScoreKernel['segment'],
  feature: (z: Float64Array, at: number, sigma: readonly number[], out: Float64Array) => void,
  coefficients: LinearScoreKernel['coefficients'],
): LinearScoreKernel {
  return {
    kind: 'linear',
    features,
    segment,
    fill(z, ns, dim, sigma, F) {
      const row = new Float64Array(features);
      for (let i = 0, at = 0; i < ns; i++, at += dim) {
        feature(z, at, sigma, row);
        for (let f = 0; f < features; f++) F[f * ns + i] = row[f];
      }
    },
    coefficients,
  };
}

/** The chi-square(2) score part of a Rayleigh law: z0^2 + z1^2 - 2. */
function rayleighShape(z: Float64Array, at: number): number {
  return z[at] * z[at] + z[at + 1] * z[at + 1] - 2;
}

const KERNELS: Readonly<Partial<Record<TransformKey, LinearScoreKernel>>> = {
  // score z0/s_b
  b: linear(
    1,
    'constant',
    (z, at, s, o) => {
      o[0] = z[at] / s[0];
    },
    (_beta, u, c) => {
      c[0] = u[0];
    },
  ),
  // score z0/(s_k k)
  c: linear(
    1,
    { reciprocal: 0 },
    (z, at, s, o) => {
      o[0] = z[at] / s[0];
    },
    (beta, u, c) => {
      c[0] = u[0] / beta[0];
    },
  ),
  // d/dk = (1/k) z0/s_k - (b/k) z1 e/s_b, d/db = z1 e/s_b, e = exp(s_k z0)
  cb: linear(
    2,
    { reciprocal: 0 },
    (z, at, s, o) => {
      o[0] = z[at] / s[0];
      o[1] = (z[at + 1] * Math.exp(s[0] * z[at])) / s[1];
    },
    (beta, u, c) => {
      const k = beta[0];
      c[0] = u[0] / k;
      c[1] = u[1] - (u[0] * beta[1]) / k;
    },
  ),
  // (z0^2 + z1^2 - 2)/g
  g: linear(
    1,
    { reciprocal: 0 },
    (z, at, _s, o) => {
      o[0] = rayleighShape(z, at);
    },
    (beta, u, c) => {
      c[0] = u[0] / beta[0];
    },
  ),
  // d/dg = (z0^2+z1^2-2)/g - (ln k/g) z2 R/s_k, d/dk = (1/k) z2 R/s_k, R = s_g sqrt(z0^2+z1^2)
  gc: linear(
    2,
    null,
    (z, at, s, o) => {
      const R = s[0] * Math.sqrt(z[at] * z[at] + z[at + 1] * z[at + 1]);
      o[0] = rayleighShape(z, at);
      o[1] = (z[at + 2] * R) / s[1];
    },
    (beta, u, c) => {
      const g = beta[0];
      const k = beta[1];
      c[0] = u[0] / g;
      c[1] = u[1] / k - (u[0] * Math.log(k)) / g;
    },
  ),
  // (z0/s_tx, z1/s_ty)
  t: linear(
    2,
    'constant',
    (z, at, s, o) => {
      o[0] = z[at] / s[0];
      o[1] = z[at + 1] / s[1];
    },
    (_beta, u, c) => {
      c[0] = u[0];
      c[1] = u[1];
    },
  ),
  bt: linear(
    3,
    'constant',
    (z, at, s, o) => {
      o[0] = z[at] / s[0];
      o[1] = z[at + 1] / s[1];
      o[2] = z[at + 2] / s[2];
    },
    (_beta, u, c) => {
      c[0] = u[0];
      c[1] = u[1];
      c[2] = u[2];
    },
  ),
  ct: linear(
    3,
    { reciprocal: 0 },
    (z, at, s, o) => {
      o[0] = z[at] / s[0];
      o[1] = z[at + 1] / s[1];
      o[2] = z[at + 2] / s[2];
    },
    (beta, u, c) => {
      c[0] = u[0] / beta[0];
      c[1] = u[1];
      c[2] = u[2];
    },
  ),
  cbt: linear(
    4,
    { reciprocal: 0 },
    (z, at, s, o) => {
      o[0] = z[at] / s[0];
      o[1] = (z[at + 1] * Math.exp(s[0] * z[at])) / s[1];
      o[2] = z[at + 2] / s[2];
      o[3] = z[at + 3] / s[3];
    },
    (beta, u, c) => {
      const k = beta[0];
      c[0] = u[0] / k;
      c[1] = u[1] - (u[0] * beta[1]) / k;
      c[2] = u[2];
      c[3] = u[3];
    },
  ),
  // R/s_r^2 - 1/R, R = s_r sqrt(z0^2 + z1^2); independent of r
  r: linear(
    1,
    'constant',
    (z, at, s, o) => {
      // R/s^2 - 1/R with R = s rho, written so that s^2 never over- or underflows
      const rho = Math.sqrt(z[at] * z[at] + z[at + 1] * z[at + 1]);
      o[0] = rho / s[0] - 1 / (s[0] * rho);
    },
    (_beta, u, c) => {
      c[0] = u[0];
    },
  ),
};

/** The fast kernel for `spec`, or the generic per-sample fallback. */
export function kernelFor(spec: TransformSpec): ScoreKernel {
  const kernel = Object.prototype.hasOwnProperty.call(KERNELS, spec.key) ? KERNELS[spec.key] : undefined;
  return kernel ?? { kind: 'generic' };
}

/** eta_i = u . spec.score(beta; z_i) for i < ns, by calling the spec per sample. */
export function genericEta(
  spec: TransformSpec,
  rows: readonly Float64Array[],
  sigma: readonly number[],
  beta: ArrayLike<number>,
  u: ArrayLike<number>,
  scratch: Float64Array,
  eta: Float64Array,
): void {
  const d = u.length;
  for (let i = 0; i < rows.length; i++) {
    spec.score(beta, sigma, rows[i], scratch);
    let s = 0;
    for (let j = 0; j < d; j++) s += u[j] * scratch[j];
    eta[i] = s;
  }
}

/** eta_i = sum_f c_f F_f(z_i) for i < ns. */
export function linearEta(F: Float64Array, ns: number, c: Float64Array, eta: Float64Array): void {
  const nf = c.length;
  const c0 = c[0];
  for (let i = 0; i < ns; i++) eta[i] = c0 * F[i];
  for (let f = 1; f < nf; f++) {
    const cf = c[f];
    if (cf === 0) continue;
    const off = f * ns;
    for (let i = 0; i < ns; i++) eta[i] += cf * F[off + i];
  }
}
