// The law of the score projection eta = u . score(beta; z) = c . F(z) for one unit direction c
// of a linear kernel (score-kernels.ts), in the form the band (band.ts) can bound
// g(w) = E[(eta - w)^+] from above WITHOUT Monte Carlo error:
//
//   b, c, t, bt, ct    eta = sum_f c_f z_f/s_f ~ N(0, |c/s|^2) exactly      -> 'normal' (closed form)
//   cb, cbt (c1 = 0)   the same, all normals enter linearly                    -> 'normal'
//   g, gc (c1 = 0)     eta = c0 (z0^2 + z1^2 - 2) = c0 (2E - 2), E ~ Exp(1)    -> 'exp' (closed form)
//   cb, cbt (c1 != 0)  given V = z0: eta ~ m(V) + s(V) Z,                      -> 'strata'
//                      m = c0 V/s0, s = sqrt((c1 e^(s0 V)/s1)^2 + sum_{f>=2} (c_f/s_f)^2)
//   gc (c1 != 0)       given V = E = (z0^2 + z1^2)/2 ~ Exp(1): eta ~ m(V) + s(V) Z,
//                      m = c0 (2V - 2), s = |c1| s0 sqrt(2V)/s1               -> 'strata'
//   r                  eta = c0 (R/s^2 - 1/R), R = s sqrt(2E): monotone in E      -> 'strata' (s = 0)
//   no kernel          Monte Carlo with a confidence band (band.ts)
//
// 'strata': g(w) = E_V[Y(V)] with Y = s psi((m - w)/s) (the normal part integrated exactly,
// psi(x) = x Phi(x) + phi(x)). Y increases in m and in s, s increases in V and m is monotone in
// V, so on a stratum [V_a, V_b] of probability p, p * Y(max(m(V_a), m(V_b)), s(V_b)) bounds the
// stratum's part from above. Strata: ns/2 of equal probability (the outermost ones cut into
// halves down to about TAIL_MASS) merged with ns/2 of equal width, and the tails beyond bounded in closed form
// with Y <= |m| + |w| + s/sqrt(2 pi) (psi(x) <= x^+ + phi(0)). The sum is a deterministic upper
// bound of g(w) (up to floating-point rounding): a discretisation overestimate of relative size
// about 1/ns, never an underestimate. No sample is drawn, so these laws carry no Monte Carlo error.

import { normalCdf, normalPdf, normalQuantile, normalSf } from '@glcert/stats';
import type { TransformSpec } from '@glcert/transforms';

import { norm2 } from './fp';
import { kernelFor } from './score-kernels';

/** Probability left to the closed-form tail bounds at each end of the strata. */
export const TAIL_MASS = 2 ** -50;
const HALVINGS = 40;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

export type ConditionalLaw =
  /** eta ~ N(0, sd^2) exactly. */
  | { readonly kind: 'normal'; readonly sd: number }
  /** eta = a (2E - 2), E ~ Exp(1), exactly. */
  | { readonly kind: 'exp'; readonly a: number }
  /** g(w) <= sum_j mass_j Y(mHi_j, sHi_j) + tail(w), Y(m, s) = s psi((m - w)/s). */
  | {
      readonly kind: 'strata';
      readonly mHi: Float64Array;
      readonly sHi: Float64Array;
      readonly mass: Float64Array;
      readonly tail: (w: number) => number;
    };

export interface ConditionalSampler {
  /** The law of eta = c . F for the unit coefficient vector c. */
  law(c: Float64Array): ConditionalLaw;
}

/**
 * Strata of a one-dimensional law: the sorted union of N/2 strata of equal probability (the
 * outermost ones halved down to about TAIL_MASS) and N/2 strata of equal width between the
 * extreme boundaries, so that both the bulk (in probability) and the tails (in width, where
 * the box bound's error is set by the stratum width) are fine. Masses come from the CDF below
 * the median and from the survival function above it, so tail masses keep full precision.
 */
function strata(
  N: number,
  lowerQuantile: (p: number) => number,
  upperQuantile: (q: number) => number,
  cdf: (v: number) => number,
  sf: (v: number) => number,
  median: number,
  lowerEnd: number | null,
): { V: Float64Array; mass: Float64Array } {
  const half = Math.max(1, Math.floor(N / 2));
  const v: number[] = [];
  const small: number[] = [];
  for (let k = HALVINGS; k >= 1; k--) if (2 ** -k / half > TAIL_MASS) small.push(2 ** -k / half);
  const first = Math.min(TAIL_MASS, (small[0] ?? 1 / half) / 2);
  if (lowerEnd === null) {
    v.push(lowerQuantile(first));
    for (const p of small) v.push(lowerQuantile(p));
  } else {
    v.push(lowerEnd);
  }
  for (let j = 1; j < half; j++) v.push(j / half <= 0.5 ? lowerQuantile(j / half) : upperQuantile(1 - j / half));
  for (let k = small.length - 1; k >= 0; k--) v.push(upperQuantile(small[k]));
  v.push(upperQuantile(first));
  const lo = v[0];
  const hi = v[v.length - 1];
  const width: number[] = [];
  for (let j = 1; j < half; j++) width.push(lo + ((hi - lo) * j) / half);
  // The sorted union by a linear merge (both lists ascend: quantiles of ascending p, and equal
  // widths), not Array.prototype.sort: that one is a single native call V8 cannot interrupt, so
  // at ns = 1e7 a cancelled solve kept its thread for seconds. Ties take the quantile first, as
  // the stable sort of the concatenation did: the same strata, bit for bit.
  if (!ascending(v)) v.sort((x, y) => x - y); // never seen; kept so the merge stays exact
  const V: number[] = [];
  const keep = (x: number): void => {
    if (V.length === 0 || x > V[V.length - 1]) V.push(x);
  };
  let a = 0;
  let b = 0;
  while (a < v.length || b < width.length) {
    if (b >= width.length || (a < v.length && !(v[a] - width[b] > 0))) keep(v[a++]);
    else keep(width[b++]);
  }
  const mass = new Float64Array(V.length - 1);
  for (let j = 0; j + 1 < V.length; j++) {
    mass[j] = V[j] >= median ? sf(V[j]) - sf(V[j + 1]) : cdf(V[j + 1]) - cdf(V[j]);
  }
  return { V: Float64Array.from(V), mass };
}

function ascending(x: readonly number[]): boolean {
  for (let i = 1; i < x.length; i++) if (x[i - 1] - x[i] > 0) return false;
  return true;
}

function normalStrata(N: number): { V: Float64Array; mass: Float64Array } {
  return strata(N, normalQuantile, (q) => -normalQuantile(q), normalCdf, normalSf, 0, null);
}

/** Exp(1) strata; lowerEnd 0 for laws without a lower tail, null to refine towards E = 0 too. */
function exponentialStrata(N: number, lowerEnd: number | null): { E: Float64Array; mass: Float64Array } {
  const { V, mass } = strata(
    N,
    (p) => -Math.log1p(-p),
    (q) => -Math.log(q),
    (e) => -Math.expm1(-e),
    (e) => Math.exp(-e),
    Math.LN2,
    lowerEnd,
  );
  return { E: V, mass };
}

/**
 * The law helper of `spec` for ns strata, or null when eta needs Monte Carlo (r, or a
 * transform without a kernel).
 */
export function conditionalSampler(spec: TransformSpec, ns: number, sigma: readonly number[]): ConditionalSampler | null {
  const key = spec.key as string;
  if (kernelFor(spec).kind !== 'linear') return null;
  switch (key) {
    case 'b':
    case 'c':
    case 't':
    case 'bt':
    case 'ct':
      return {
        law(c) {
          // sd = |c / sigma| scaled: (c/sigma)^2 overflowed at sigma ~ 1e-155 (gl-sound/2)
          const scaled = new Float64Array(c.length);
          for (let f = 0; f < c.length; f++) scaled[f] = c[f] / sigma[f];
          return { kind: 'normal', sd: norm2(scaled) };
        },
      };
    case 'cb':
    case 'cbt': {
      const { V, mass } = normalStrata(Math.max(2, ns));
      const S = mass.length;
      const E = Float64Array.from(V, (v) => Math.exp(sigma[0] * v) / sigma[1]);
      const mHi = new Float64Array(S);
      const sHi = new Float64Array(S);
      const [s0, s1] = sigma;
      const lo = V[0];
      const hi = V[S];
      return {
        law(c) {
          let rest = 0; // variance of the translation part
          for (let f = 2; f < c.length; f++) rest += (c[f] / sigma[f]) ** 2;
          if (c[1] === 0) return { kind: 'normal', sd: Math.sqrt((c[0] / s0) ** 2 + rest) };
          const c0 = c[0] / s0;
          const c1 = Math.abs(c[1]);
          for (let j = 0; j < S; j++) {
            mHi[j] = Math.max(c0 * V[j], c0 * V[j + 1]);
            const e = c1 * E[j + 1];
            sHi[j] = Math.sqrt(e * e + rest);
          }
          const sqrtRest = Math.sqrt(rest);
          const expTerm = (c1 / s1) * INV_SQRT_2PI * Math.exp((s0 * s0) / 2);
          // Y <= |c0| |V| + |w| + (c1 e^(s0 V)/s1 + sqrt(rest))/sqrt(2 pi) integrated over the tails.
          const tail = (w: number) =>
            Math.abs(c0) * (normalPdf(lo) + normalPdf(hi)) +
            (Math.abs(w) + sqrtRest * INV_SQRT_2PI) * (normalCdf(lo) + normalSf(hi)) +
            expTerm * (normalCdf(lo - s0) + normalSf(hi - s0));
          return { kind: 'strata', mHi, sHi, mass, tail };
        },
      };
    }
    case 'g':
    case 'gc': {
      if (key === 'g') return { law: (c) => ({ kind: 'exp', a: c[0] }) };
      const { E: V, mass } = exponentialStrata(Math.max(2, ns), 0); // E >= 0: no lower tail
      const S = mass.length;
      const R = Float64Array.from(V, (v) => (sigma[0] * Math.sqrt(2 * v)) / sigma[1]);
      const mHi = new Float64Array(S);
      const sHi = new Float64Array(S);
      const L = V[S];
      const eL = Math.exp(-L);
      return {
        law(c) {
          if (c[1] === 0) return { kind: 'exp', a: c[0] };
          const c0 = c[0];
          const c1 = Math.abs(c[1]);
          for (let j = 0; j < S; j++) {
            mHi[j] = Math.max(c0 * (2 * V[j] - 2), c0 * (2 * V[j + 1] - 2));
            sHi[j] = c1 * R[j + 1];
          }
          // Y <= |c0| (2E + 2) + |w| + c1 s0 sqrt(2E)/(s1 sqrt(2 pi)), sqrt(2E) <= E + 1/2, over E > L.
          const sCoef = (c1 * sigma[0] * INV_SQRT_2PI) / sigma[1];
          const tail = (w: number) => (Math.abs(c0) * (2 * L + 4) + Math.abs(w) + sCoef * (L + 1.5)) * eL;
          return { kind: 'strata', mHi, sHi, mass, tail };
        },
      };
    }
    case 'r': {
      // eta = c0 F(E), F = R/s^2 - 1/R, R = s sqrt(2E): F increases in E, so (eta - w)^+ is
      // monotone on every stratum (a 'strata' law with s = 0). F -> -inf as E -> 0 (the heavy
      // lower tail of the blur score): strata refined towards E = 0 as well as towards infinity.
      const { E: V, mass } = exponentialStrata(Math.max(2, ns), null);
      const S = mass.length;
      const sr = sigma[0];
      const F = Float64Array.from(V, (e) => {
        const R = sr * Math.sqrt(2 * e);
        return R / (sr * sr) - 1 / R;
      });
      const mHi = new Float64Array(S);
      const sHi = new Float64Array(S); // zeros
      const eps = V[0];
      const L = V[S];
      const eL = Math.exp(-L);
      const RL = sr * Math.sqrt(2 * L);
      return {
        law(c) {
          const c0 = c[0];
          for (let j = 0; j < S; j++) mHi[j] = Math.max(c0 * F[j], c0 * F[j + 1]);
          const a = Math.abs(c0);
          // E < eps: (eta - w)^+ <= |c0|/R + |c0| R/s^2 + |w|, and int_0^eps e^-E/sqrt(2E) dE <= sqrt(2 eps);
          // E > L: (eta - w)^+ <= |c0| R/s^2 + |c0|/R_L + |w|, R <= s (E + 1/2).
          const tail = (w: number) =>
            (a * Math.sqrt(2 * eps)) / sr + (a * Math.sqrt(2 * eps) * sr * (eps + 0.5)) / (sr * sr) + Math.abs(w) * eps +
            ((a * (L + 1.5)) / sr + a / RL + Math.abs(w)) * eL;
          return { kind: 'strata', mHi, sHi, mass, tail };
        },
      };
    }
    default:
      return null;
  }
}
