// Parameter-space description of every transform family (ALGORITHM.md sections 1-3):
// identity, smoothing laws, the resolving function y = gamma(beta, z), the score
// grad_beta log p(y | beta) at that y, and the parameter composition rule.
//
// Everything here is image-independent and allocation-free; the bound solver calls
// `resolve`/`score` millions of times, so the hot functions do no argument validation:
// `beta` and `out` must have `params.length` entries, `sigma` one entry per parameter (in
// `params` order) and `z` at least `normalsPerSample` standard normals.
//
// Laws from standard normals (fresh for every sample):
//   Normal(0, s^2)    s z
//   LogNormal(0, s^2) exp(s z)
//   Rayleigh(s)       s sqrt(z1^2 + z2^2)
//
// Layout of z per family (index -> role):
//   b   [z0]                 b + s_b z0
//   c   [z0]                 k exp(s_k z0)
//   cb  [z0, z1]             e = exp(s_k z0): (k e, b e + s_b z1)
//   g   [z0, z1]             R = s_g sqrt(z0^2 + z1^2): g R
//   gc  [z0, z1, z2]         R as for g: (g R, k^R exp(s_k z2))
//   t   [z0, z1]             (tx + s_tx z0, ty + s_ty z1)
//   bt  [z0, z1, z2]         (b + s_b z0, tx + s_tx z1, ty + s_ty z2)
//   ct  [z0, z1, z2]         (k exp(s_k z0), tx + s_tx z1, ty + s_ty z2)
//   cbt [z0, z1, z2, z3]     cb on (z0, z1), translation on (z2, z3)
//   r   [z0, z1]             r + s_r sqrt(z0^2 + z1^2)
//
// Image semantics (see apply.ts): no clipping anywhere; gamma is phi(x, g) = sign(x)|x|^g so that
// composition is exact for negative pixel values too; translation shifts cyclically by
// Math.round of the parameter (tx along the width axis, ty along the height axis).

export type TransformKey = 'b' | 'c' | 'cb' | 'g' | 'gc' | 't' | 'bt' | 'ct' | 'cbt' | 'r';
/** brightness, contrast, gamma, translation x/y (pixels), blur variance */
export type ParamName = 'b' | 'k' | 'g' | 'tx' | 'ty' | 'r';
export type Law = 'normal' | 'lognormal' | 'rayleigh';

export interface TransformSpec {
  readonly key: TransformKey;
  readonly description: string;
  /** Order of the beta vector (and of the sigma vector). */
  readonly params: readonly ParamName[];
  /** beta0: phi(x, beta0) = x. */
  readonly identity: readonly number[];
  /** Smoothing law per parameter. */
  readonly laws: readonly Law[];
  /** Number of standard normals consumed per sample by `resolve`/`score`. */
  readonly normalsPerSample: number;
  /** tx, ty are certified on integers. */
  readonly integerParams: readonly boolean[];
  /** false for r: the discretised blur composes only approximately (r1 + r2). */
  readonly exactlyResolvable: boolean;
  /** null if beta is a valid parameter, else the reason. */
  domain(beta: ArrayLike<number>): string | null;
  /** y = gamma(beta, z) (ALGORITHM.md section 2). */
  resolve(beta: ArrayLike<number>, sigma: ArrayLike<number>, z: ArrayLike<number>, out: Float64Array): void;
  /** grad_beta log p(y | beta) at y = gamma(beta, z) (ALGORITHM.md section 3). */
  score(beta: ArrayLike<number>, sigma: ArrayLike<number>, z: ArrayLike<number>, out: Float64Array): void;
  /** phi(phi(x, a), b) == phi(x, compose(a, b)); `out` may alias `a` or `b`. */
  compose(a: ArrayLike<number>, b: ArrayLike<number>, out: Float64Array): void;
}

const LAW_OF: Readonly<Record<ParamName, Law>> = { b: 'normal', tx: 'normal', ty: 'normal', k: 'lognormal', g: 'rayleigh', r: 'rayleigh' };
const IDENTITY_OF: Readonly<Record<ParamName, number>> = { b: 0, k: 1, g: 1, tx: 0, ty: 0, r: 0 };

function makeDomain(params: readonly ParamName[]): (beta: ArrayLike<number>) => string | null {
  const d = params.length;
  return (beta) => {
    if (beta.length !== d) return `expected ${d} parameters (${params.join(', ')}), got ${beta.length}`;
    for (let i = 0; i < d; i++) {
      const v = beta[i];
      const name = params[i];
      if (!Number.isFinite(v)) return `${name} must be finite, got ${v}`;
      if ((name === 'k' || name === 'g') && !(v > 0)) return `${name} must be > 0, got ${v}`;
      if (name === 'r' && !(v >= 0)) return `r must be >= 0, got ${v}`;
    }
    return null;
  };
}

interface Def {
  key: TransformKey;
  description: string;
  params: ParamName[];
  normalsPerSample: number;
  exactlyResolvable: boolean;
  resolve: TransformSpec['resolve'];
  score: TransformSpec['score'];
  compose: TransformSpec['compose'];
}

function define(def: Def): TransformSpec {
  const spec: TransformSpec = {
    key: def.key,
    description: def.description,
    params: Object.freeze(def.params.slice()),
    identity: Object.freeze(def.params.map((p) => IDENTITY_OF[p])),
    laws: Object.freeze(def.params.map((p) => LAW_OF[p])),
    normalsPerSample: def.normalsPerSample,
    integerParams: Object.freeze(def.params.map((p) => p === 'tx' || p === 'ty')),
    exactlyResolvable: def.exactlyResolvable,
    domain: makeDomain(def.params),
    resolve: def.resolve,
    score: def.score,
    compose: def.compose,
  };
  return Object.freeze(spec);
}

export const TRANSFORMS: Readonly<Record<TransformKey, TransformSpec>> = Object.freeze({
  b: define({
    key: 'b',
    description: 'brightness: x + b',
    params: ['b'],
    normalsPerSample: 1,
    exactlyResolvable: true,
    resolve(beta, s, z, out) {
      out[0] = beta[0] + s[0] * z[0];
    },
    score(_beta, s, z, out) {
      out[0] = z[0] / s[0];
    },
    compose(a, b, out) {
      out[0] = a[0] + b[0];
    },
  }),
  c: define({
    key: 'c',
    description: 'contrast: k x',
    params: ['k'],
    normalsPerSample: 1,
    exactlyResolvable: true,
    resolve(beta, s, z, out) {
      out[0] = beta[0] * Math.exp(s[0] * z[0]);
    },
    score(beta, s, z, out) {
      out[0] = z[0] / (s[0] * beta[0]);
    },
    compose(a, b, out) {
      out[0] = a[0] * b[0];
    },
  }),
  cb: define({
    key: 'cb',
    description: 'contrast+brightness: k x + b',
    params: ['k', 'b'],
    normalsPerSample: 2,
    exactlyResolvable: true,
    resolve(beta, s, z, out) {
      const e = Math.exp(s[0] * z[0]);
      const b = beta[1];
      out[0] = beta[0] * e;
      out[1] = b * e + s[1] * z[1];
    },
    score(beta, s, z, out) {
      const k = beta[0];
      const b = beta[1];
      const e = Math.exp(s[0] * z[0]);
      out[0] = z[0] / (s[0] * k) - (z[1] * b * e) / (k * s[1]);
      out[1] = (z[1] * e) / s[1];
    },
    compose(a, b, out) {
      const k1 = a[0];
      const b1 = a[1];
      const k2 = b[0];
      const b2 = b[1];
      out[0] = k1 * k2;
      out[1] = k2 * b1 + b2;
    },
  }),
  g: define({
    key: 'g',
    description: 'gamma: sign(x) |x|^g',
    params: ['g'],
    normalsPerSample: 2,
    exactlyResolvable: true,
    resolve(beta, s, z, out) {
      out[0] = beta[0] * s[0] * Math.sqrt(z[0] * z[0] + z[1] * z[1]);
    },
    score(beta, _s, z, out) {
      out[0] = (z[0] * z[0] + z[1] * z[1] - 2) / beta[0];
    },
    compose(a, b, out) {
      out[0] = a[0] * b[0];
    },
  }),
  gc: define({
    key: 'gc',
    description: 'gamma+contrast: k sign(x) |x|^g',
    params: ['g', 'k'],
    normalsPerSample: 3,
    exactlyResolvable: true,
    resolve(beta, s, z, out) {
      const R = s[0] * Math.sqrt(z[0] * z[0] + z[1] * z[1]);
      const k = beta[1];
      out[0] = beta[0] * R;
      out[1] = Math.exp(R * Math.log(k) + s[1] * z[2]);
    },
    score(beta, s, z, out) {
      const g = beta[0];
      const k = beta[1];
      const R = s[0] * Math.sqrt(z[0] * z[0] + z[1] * z[1]);
      out[0] = (z[0] * z[0] + z[1] * z[1] - 2) / g - (z[2] * R * Math.log(k)) / (g * s[1]);
      out[1] = (z[2] * R) / (k * s[1]);
    },
    compose(a, b, out) {
      const g1 = a[0];
      const k1 = a[1];
      const g2 = b[0];
      const k2 = b[1];
      out[0] = g1 * g2;
      out[1] = k2 * Math.pow(k1, g2);
    },
  }),
  t: define({
    key: 't',
    description: 'translation: cyclic shift by (round(tx), round(ty)) pixels',
    params: ['tx', 'ty'],
    normalsPerSample: 2,
    exactlyResolvable: true,
    resolve(beta, s, z, out) {
      out[0] = beta[0] + s[0] * z[0];
      out[1] = beta[1] + s[1] * z[1];
    },
    score(_beta, s, z, out) {
      out[0] = z[0] / s[0];
      out[1] = z[1] / s[1];
    },
    compose(a, b, out) {
      out[0] = a[0] + b[0];
      out[1] = a[1] + b[1];
    },
  }),
  bt: define({
    key: 'bt',
    description: 'brightness+translation: shift(x + b)',
    params: ['b', 'tx', 'ty'],
    normalsPerSample: 3,
    exactlyResolvable: true,
    resolve(beta, s, z, out) {
      out[0] = beta[0] + s[0] * z[0];
      out[1] = beta[1] + s[1] * z[1];
      out[2] = beta[2] + s[2] * z[2];
    },
    score(_beta, s, z, out) {
      out[0] = z[0] / s[0];
      out[1] = z[1] / s[1];
      out[2] = z[2] / s[2];
    },
    compose(a, b, out) {
      out[0] = a[0] + b[0];
      out[1] = a[1] + b[1];
      out[2] = a[2] + b[2];
    },
  }),
  ct: define({
    key: 'ct',
    description: 'contrast+translation: shift(k x)',
    params: ['k', 'tx', 'ty'],
    normalsPerSample: 3,
    exactlyResolvable: true,
    resolve(beta, s, z, out) {
      out[0] = beta[0] * Math.exp(s[0] * z[0]);
      out[1] = beta[1] + s[1] * z[1];
      out[2] = beta[2] + s[2] * z[2];
    },
    score(beta, s, z, out) {
      out[0] = z[0] / (s[0] * beta[0]);
      out[1] = z[1] / s[1];
      out[2] = z[2] / s[2];
    },
    compose(a, b, out) {
      out[0] = a[0] * b[0];
      out[1] = a[1] + b[1];
      out[2] = a[2] + b[2];
    },
  }),
  cbt: define({
    key: 'cbt',
    description: 'contrast+brightness+translation: shift(k x + b)',
    params: ['k', 'b', 'tx', 'ty'],
    normalsPerSample: 4,
    exactlyResolvable: true,
    resolve(beta, s, z, out) {
      const e = Math.exp(s[0] * z[0]);
      const b = beta[1];
      out[0] = beta[0] * e;
      out[1] = b * e + s[1] * z[1];
      out[2] = beta[2] + s[2] * z[2];
      out[3] = beta[3] + s[3] * z[3];
    },
    score(beta, s, z, out) {
      const k = beta[0];
      const b = beta[1];
      const e = Math.exp(s[0] * z[0]);
      out[0] = z[0] / (s[0] * k) - (z[1] * b * e) / (k * s[1]);
      out[1] = (z[1] * e) / s[1];
      out[2] = z[2] / s[2];
      out[3] = z[3] / s[3];
    },
    compose(a, b, out) {
      const k1 = a[0];
      const b1 = a[1];
      const k2 = b[0];
      const b2 = b[1];
      out[0] = k1 * k2;
      out[1] = k2 * b1 + b2;
      out[2] = a[2] + b[2];
      out[3] = a[3] + b[3];
    },
  }),
  r: define({
    key: 'r',
    description: 'Gaussian blur with kernel variance r (separable, radius ceil(4 sqrt r), reflect-101)',
    params: ['r'],
    normalsPerSample: 2,
    exactlyResolvable: false,
    resolve(beta, s, z, out) {
      out[0] = beta[0] + s[0] * Math.sqrt(z[0] * z[0] + z[1] * z[1]);
    },
    score(_beta, s, z, out) {
      const R = s[0] * Math.sqrt(z[0] * z[0] + z[1] * z[1]);
      out[0] = R / (s[0] * s[0]) - 1 / R;
    },
    compose(a, b, out) {
      out[0] = a[0] + b[0];
    },
  }),
});

export const TRANSFORM_KEYS: readonly TransformKey[] = Object.freeze(Object.keys(TRANSFORMS) as TransformKey[]);

export function isTransformKey(key: unknown): key is TransformKey {
  return typeof key === 'string' && Object.prototype.hasOwnProperty.call(TRANSFORMS, key);
}

/** The spec for `key`; throws RangeError naming the key when it is unknown. */
export function getTransform(key: string): TransformSpec {
  if (!isTransformKey(key)) {
    throw new RangeError(`unknown transform '${String(key)}' (expected one of ${TRANSFORM_KEYS.join(', ')})`);
  }
  return TRANSFORMS[key];
}
