import fc from 'fast-check';
import { TRANSFORMS, TRANSFORM_KEYS, TransformKey, getTransform } from './transform-spec';
import { normalSource } from './test-helpers';

// Log-densities of y = gamma(beta, z), written from the laws (ALGORITHM.md section 2) and
// independently of the closed-form scores under test. Constants that do not depend on beta
// are kept anyway so the functions are true log-densities.
const LN_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);
const logNormal = (y: number, mu: number, s: number) => -((y - mu) ** 2) / (2 * s * s) - Math.log(s) - LN_SQRT_2PI;
/** y ~ LogNormal(ln k, s) */
const logLogNormal = (y: number, k: number, s: number) => logNormal(Math.log(y), Math.log(k), s) - Math.log(y);
/** y ~ Rayleigh(scale) */
const logRayleigh = (y: number, scale: number) => Math.log(y) - 2 * Math.log(scale) - (y * y) / (2 * scale * scale);

/** log p(y | beta): joint density of the resolved parameters, with the Jacobians of the maps. */
const LOG_DENSITY: Record<TransformKey, (y: number[], beta: number[], s: number[]) => number> = {
  b: (y, beta, s) => logNormal(y[0], beta[0], s[0]),
  c: (y, beta, s) => logLogNormal(y[0], beta[0], s[0]),
  // y1 = k e ~ LogNormal(ln k, s_k); given y1, e = y1/k and y2 ~ N(b y1/k, s_b^2)
  cb: (y, beta, s) => logLogNormal(y[0], beta[0], s[0]) + logNormal(y[1], (beta[1] * y[0]) / beta[0], s[1]),
  // y = g R ~ Rayleigh(g s_g)
  g: (y, beta, s) => logRayleigh(y[0], beta[0] * s[0]),
  // y1 = g R ~ Rayleigh(g s_g); given y1, R = y1/g and ln y2 ~ N(R ln k, s_k^2)
  gc: (y, beta, s) =>
    logRayleigh(y[0], beta[0] * s[0]) + logNormal(Math.log(y[1]), (y[0] / beta[0]) * Math.log(beta[1]), s[1]) - Math.log(y[1]),
  t: (y, beta, s) => logNormal(y[0], beta[0], s[0]) + logNormal(y[1], beta[1], s[1]),
  bt: (y, beta, s) => logNormal(y[0], beta[0], s[0]) + logNormal(y[1], beta[1], s[1]) + logNormal(y[2], beta[2], s[2]),
  ct: (y, beta, s) => logLogNormal(y[0], beta[0], s[0]) + logNormal(y[1], beta[1], s[1]) + logNormal(y[2], beta[2], s[2]),
  cbt: (y, beta, s) =>
    logLogNormal(y[0], beta[0], s[0]) +
    logNormal(y[1], (beta[1] * y[0]) / beta[0], s[1]) +
    logNormal(y[2], beta[2], s[2]) +
    logNormal(y[3], beta[3], s[3]),
  // y - r ~ Rayleigh(s_r)
  r: (y, beta, s) => logRayleigh(y[0] - beta[0], s[0]),
};

/** Arbitrary beta inside the domain, kept where the maps are well conditioned. */
function betaArb(key: TransformKey): fc.Arbitrary<number[]> {
  const spec = TRANSFORMS[key];
  return fc.tuple(
    ...spec.params.map((p) => {
      switch (p) {
        case 'k':
        case 'g':
          return fc.double({ min: 0.3, max: 3, noNaN: true });
        case 'b':
          return fc.double({ min: -1, max: 1, noNaN: true });
        case 'r':
          return fc.double({ min: 0, max: 5, noNaN: true });
        default:
          return fc.double({ min: -20, max: 20, noNaN: true });
      }
    }),
  );
}
const sigmaArb = (key: TransformKey) =>
  fc.array(fc.double({ min: 0.1, max: 1.5, noNaN: true }), { minLength: TRANSFORMS[key].params.length, maxLength: TRANSFORMS[key].params.length });
const zArb = (key: TransformKey) =>
  fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: TRANSFORMS[key].normalsPerSample, maxLength: TRANSFORMS[key].normalsPerSample });

describe('transform specs', () => {
  it('has the agreed shapes', () => {
    const normals: Record<TransformKey, number> = { b: 1, c: 1, cb: 2, g: 2, gc: 3, t: 2, bt: 3, ct: 3, cbt: 4, r: 2 };
    expect(TRANSFORM_KEYS.slice().sort()).toEqual(Object.keys(normals).sort());
    for (const key of TRANSFORM_KEYS) {
      const spec = TRANSFORMS[key];
      expect(spec.key).toBe(key);
      expect(spec.normalsPerSample).toBe(normals[key]);
      expect(spec.identity).toHaveLength(spec.params.length);
      expect(spec.laws).toHaveLength(spec.params.length);
      expect(spec.integerParams).toEqual(spec.params.map((p) => p === 'tx' || p === 'ty'));
      expect(spec.domain(spec.identity)).toBeNull();
      expect(spec.exactlyResolvable).toBe(key !== 'r');
    }
    expect(TRANSFORMS.cb.params).toEqual(['k', 'b']);
    expect(TRANSFORMS.gc.params).toEqual(['g', 'k']);
    expect(TRANSFORMS.cbt.params).toEqual(['k', 'b', 'tx', 'ty']);
    expect(TRANSFORMS.cbt.identity).toEqual([1, 0, 0, 0]);
    expect(TRANSFORMS.gc.laws).toEqual(['rayleigh', 'lognormal']);
    expect(TRANSFORMS.r.laws).toEqual(['rayleigh']);
    expect(TRANSFORMS.bt.laws).toEqual(['normal', 'normal', 'normal']);
  });

  it('getTransform throws a RangeError naming an unknown key', () => {
    expect(getTransform('cb')).toBe(TRANSFORMS.cb);
    expect(() => getTransform('blur')).toThrow(RangeError);
    expect(() => getTransform('blur')).toThrow(/'blur'/);
    expect(() => getTransform('toString')).toThrow(RangeError);
  });

  it('domain rejects invalid parameters with a reason', () => {
    expect(TRANSFORMS.c.domain([0])).toMatch(/k/);
    expect(TRANSFORMS.c.domain([-1])).toMatch(/k/);
    expect(TRANSFORMS.g.domain([0])).toMatch(/g/);
    expect(TRANSFORMS.gc.domain([1, 0])).toMatch(/k/);
    expect(TRANSFORMS.r.domain([-0.1])).toMatch(/r/);
    expect(TRANSFORMS.r.domain([0])).toBeNull();
    expect(TRANSFORMS.b.domain([NaN])).toMatch(/finite/);
    expect(TRANSFORMS.t.domain([Infinity, 0])).toMatch(/finite/);
    expect(TRANSFORMS.t.domain([0])).toMatch(/2 parameters/);
    expect(TRANSFORMS.t.domain([0.5, -3.2])).toBeNull();
  });

  it('resolve follows the section-2 maps at known points', () => {
    const out = new Float64Array(4);
    TRANSFORMS.cb.resolve([2, 0.5], [0.3, 0.2], [1, -1], out);
    const e = Math.exp(0.3);
    expect(out[0]).toBeCloseTo(2 * e, 14);
    expect(out[1]).toBeCloseTo(0.5 * e - 0.2, 14);
    TRANSFORMS.gc.resolve([1.5, 2], [0.1, 0.3], [3, 4, 0.5], out);
    expect(out[0]).toBeCloseTo(1.5 * 0.5, 14);
    expect(out[1]).toBeCloseTo(Math.pow(2, 0.5) * Math.exp(0.15), 14);
    TRANSFORMS.r.resolve([1], [2], [3, 4], out);
    expect(out[0]).toBeCloseTo(11, 14);
    TRANSFORMS.cbt.resolve([1, 0, 3, -2], [0.3, 0.3, 15, 10], [0, 0, 1, -1], out);
    expect(Array.from(out)).toEqual([1, 0, 18, -12]);
  });

  describe.each(TRANSFORM_KEYS.map((k) => [k]))('%s', (key) => {
    const spec = TRANSFORMS[key];
    const d = spec.params.length;

    it('score equals a central finite difference of log p(y | beta) at y = gamma(beta, z)', () => {
      fc.assert(
        fc.property(betaArb(key), sigmaArb(key), zArb(key), (beta, sigma, z) => {
          if (key === 'r' || key === 'g' || key === 'gc') fc.pre(Math.hypot(z[0], z[1]) > 0.05);
          const y = new Float64Array(d);
          spec.resolve(beta, sigma, z, y);
          const score = new Float64Array(d);
          spec.score(beta, sigma, z, score);
          const yv = Array.from(y);
          for (let i = 0; i < d; i++) {
            const h = 1e-6 * Math.max(1, Math.abs(beta[i]));
            const up = beta.slice();
            const dn = beta.slice();
            up[i] += h;
            dn[i] -= h;
            const fd = (LOG_DENSITY[key](yv, up, sigma) - LOG_DENSITY[key](yv, dn, sigma)) / (2 * h);
            const tol = 1e-5 * Math.max(1, Math.abs(fd));
            if (!(Math.abs(fd - score[i]) <= tol)) {
              throw new Error(`param ${spec.params[i]}: score ${score[i]} vs finite difference ${fd}`);
            }
          }
        }),
        { numRuns: 300 },
      );
    });

    it('score has mean ~0 under the smoothing law (Monte Carlo)', () => {
      const normal = normalSource(1234 + d);
      const beta = spec.params.map((p) => ({ b: 0.2, k: 1.3, g: 0.8, tx: 2, ty: -1, r: 0.5 })[p]);
      const sigma = spec.params.map((p) => ({ b: 0.3, k: 0.3, g: 0.4, tx: 3, ty: 2, r: 1 })[p]);
      const n = 200_000;
      const z = new Float64Array(spec.normalsPerSample);
      const s = new Float64Array(d);
      const sum = new Float64Array(d);
      const sumSq = new Float64Array(d);
      for (let j = 0; j < n; j++) {
        for (let i = 0; i < z.length; i++) z[i] = normal();
        spec.score(beta, sigma, z, s);
        for (let i = 0; i < d; i++) {
          sum[i] += s[i];
          sumSq[i] += s[i] * s[i];
        }
      }
      for (let i = 0; i < d; i++) {
        const mean = sum[i] / n;
        const sd = Math.sqrt(sumSq[i] / n - mean * mean);
        // 6 standard errors; the blur score has a heavy lower tail (infinite variance, log-divergent),
        // so the empirical sd underestimates there and a floor relative to 1/s_r is used.
        const tol = key === 'r' ? Math.max((6 * sd) / Math.sqrt(n), 0.03 / sigma[0]) : (6 * sd) / Math.sqrt(n);
        expect(Math.abs(mean)).toBeLessThan(tol);
      }
    });

    it('compose with the identity is a no-op and compose is associative', () => {
      fc.assert(
        fc.property(betaArb(key), betaArb(key), betaArb(key), (a, b, c) => {
          const out = new Float64Array(d);
          spec.compose(a, spec.identity, out);
          for (let i = 0; i < d; i++) expect(out[i]).toBeCloseTo(a[i], 12);
          spec.compose(spec.identity, a, out);
          for (let i = 0; i < d; i++) expect(out[i]).toBeCloseTo(a[i], 12);
          const ab = new Float64Array(d);
          const left = new Float64Array(d);
          const bc = new Float64Array(d);
          const right = new Float64Array(d);
          spec.compose(a, b, ab);
          spec.compose(ab, c, left);
          spec.compose(b, c, bc);
          spec.compose(a, bc, right);
          for (let i = 0; i < d; i++) expect(Math.abs(left[i] - right[i])).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(left[i])));
        }),
        { numRuns: 100 },
      );
    });

    it('resolve equals composing beta with the smoothing draw gamma(beta0, z)', () => {
      // gamma(beta, z) = compose(beta, gamma(beta0, z)): the smoothing acts on the attacked image.
      fc.assert(
        fc.property(betaArb(key), sigmaArb(key), zArb(key), (beta, sigma, z) => {
          const y = new Float64Array(d);
          const noise = new Float64Array(d);
          const composed = new Float64Array(d);
          spec.resolve(beta, sigma, z, y);
          spec.resolve(spec.identity, sigma, z, noise);
          spec.compose(beta, noise, composed);
          for (let i = 0; i < d; i++) expect(Math.abs(y[i] - composed[i])).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(y[i])));
        }),
        { numRuns: 100 },
      );
    });
  });
});
