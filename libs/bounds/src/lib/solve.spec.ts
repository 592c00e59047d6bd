import fc from 'fast-check';
import { TRANSFORMS } from '@glcert/transforms';

import { InvalidBoundRequestError } from './errors';
import { solveNumeric } from './numeric';
import { boundCacheKey, certifies, solveBound, SOLVER_VERSION } from './solve';
import type { BoundRequest } from './solve';

// The referee for the numeric solver is ALGORITHM.md section 5: closed forms evaluated
// independently (Python math.erfc), not by the solver. ns = 20000 as in the paper; Monte Carlo error on h* is
// about 0.002, and the solver must never land below the closed form.

const PHI_4_3 = 0.9087887802741321; // Phi(4/3)
const PHI_T = 0.9065712486684798; // Phi(14 sqrt2 / 15)
const PHI_C = 0.9556927628967586; // Phi(|ln 0.6| / 0.3)
const GAMMA = 1 - 2 ** -4;

const BRIGHTNESS: BoundRequest = { transform: 'b', box: { b: [-0.4, 0.4] }, sigma: { b: 0.3 } };
const CONTRAST: BoundRequest = { transform: 'c', box: { k: [0.6, 1.4] }, sigma: { k: 0.3 } };
const TRANSLATION: BoundRequest = { transform: 't', box: { tx: [-14, 14], ty: [-14, 14] }, sigma: { tx: 15, ty: 15 }, grid: 5 };
const GAMMA_TM: BoundRequest = { transform: 'g', box: { g: [0.5, 2] }, sigma: { g: 0.1 } };

const ACCEPTANCE = [
  ['brightness', BRIGHTNESS, PHI_4_3],
  ['contrast', CONTRAST, PHI_C],
  ['translation', TRANSLATION, PHI_T],
  ['gamma', GAMMA_TM, GAMMA],
] as const;

describe('numeric GL bound reproduces the closed forms (ns = 20000)', () => {
  it.each(ACCEPTANCE)('%s: closed form <= numeric <= closed form + 0.005', (_name, tm, closed) => {
    const r = solveBound({ ...tm, method: 'numeric', ns: 20000 });
    expect(r.method).toBe('numeric');
    expect(r.numericThreshold).toBe(r.threshold);
    expect(r.closedFormThreshold).toBeUndefined();
    expect(r.threshold).toBeGreaterThanOrEqual(closed);
    expect(r.threshold).toBeLessThanOrEqual(closed + 0.005);
    expect(r.certifiable).toBe(true);
    expect(r.scoreEvaluations).toBe(20000 * 8 * r.attackPoints);
    expect(r.numericLaws).toEqual([tm.transform === 'g' ? 'exp' : 'normal']);
    expect(r.notes.join('\n')).toMatch(/no Monte Carlo error/);
  });

  it('never below the closed form, for every seed 0..9 (all four families)', () => {
    const worst: Record<string, [number, number]> = {};
    for (const [name, tm, closed] of ACCEPTANCE) {
      let lo = Infinity;
      let hi = -Infinity;
      for (let seed = 0; seed < 10; seed++) {
        const t = solveBound({ ...tm, method: 'numeric', ns: 20000, seed }).threshold - closed;
        lo = Math.min(lo, t);
        hi = Math.max(hi, t);
      }
      worst[name] = [lo, hi];
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(0.005);
    }
    // numeric - closed form over the seeds, [min, max]
    process.stdout.write(`${JSON.stringify(worst)}\n`);
  });

  it('the largest G sits at the far corner of the box', () => {
    expect(solveBound({ ...CONTRAST, method: 'numeric', ns: 20000 }).worstAttack).toEqual({ k: 0.6 });
    const t = solveBound({ ...TRANSLATION, method: 'numeric', ns: 20000 }).worstAttack!;
    expect([Math.abs(t.tx), Math.abs(t.ty)]).toEqual([14, 14]);
  });

  it('cannot certify a box far beyond the smoothing: threshold 1, never certify', () => {
    const r = solveBound({ transform: 'b', box: { b: [-3, 3] }, sigma: { b: 0.3 }, ns: 20000, grid: 3 });
    expect(r.threshold).toBe(1);
    expect(r.numericThreshold).toBe(1);
    expect(r.certifiable).toBe(false);
    expect(r.notes.join('\n')).toMatch(/cannot be certified/);
    expect(certifies(0.999999, r.threshold)).toBe(false);
  });
});

describe('bound portfolio', () => {
  it('auto computes both and uses the smaller, saying which', () => {
    for (const [tm, closed] of [
      [BRIGHTNESS, PHI_4_3],
      [GAMMA_TM, GAMMA],
    ] as const) {
      const r = solveBound({ ...tm, ns: 20000 });
      expect(r.requestedMethod).toBe('auto');
      expect(r.closedFormThreshold).toBeCloseTo(closed, 6);
      expect(r.numericThreshold).toBeDefined();
      expect(r.threshold).toBe(Math.min(r.closedFormThreshold!, r.numericThreshold!));
      expect(r.method).toBe(r.threshold === r.closedFormThreshold ? 'closed-form' : 'numeric');
      expect(r.method).toBe('closed-form');
    }
  });

  it('auto without a closed form is the numeric bound', () => {
    const r = solveBound({ transform: 'cb', box: { k: [0.8, 1.2], b: [-0.2, 0.2] }, sigma: { k: 0.3, b: 0.3 }, ns: 4000, grid: 7 });
    expect(r.method).toBe('numeric');
    expect(r.closedFormThreshold).toBeUndefined();
    expect(r.threshold).toBe(r.numericThreshold);
    expect(r.threshold).toBeGreaterThan(0.5);
    expect(r.threshold).toBeLessThan(1);
  });

  it('closed-form alone skips the solver and errors when there is none', () => {
    const r = solveBound({ ...CONTRAST, method: 'closed-form' });
    expect(r.method).toBe('closed-form');
    expect(r.threshold).toBeCloseTo(PHI_C, 6);
    expect(r.numericThreshold).toBeUndefined();
    expect(r.scoreEvaluations).toBe(0);
    expect(() => solveBound({ transform: 'cb', box: { k: [0.8, 1.2], b: [-0.2, 0.2] }, sigma: { k: 0.3, b: 0.3 }, method: 'closed-form' })).toThrow(
      expect.objectContaining({ field: 'bound_settings.method' }),
    );
  });
});

describe('determinism and the cache key', () => {
  const small: BoundRequest = { transform: 'cb', box: { k: [0.8, 1.2], b: [-0.2, 0.2] }, sigma: { k: 0.3, b: 0.3 }, ns: 4000, grid: [5, 4], seed: 7 };

  it('the same seed gives the same threshold; another seed a close one', () => {
    const a = solveBound(small);
    const b = solveBound(small);
    expect(b.threshold).toBe(a.threshold);
    expect(b.cacheKey).toBe(a.cacheKey);
    // the seed only places the band levels (pilot quantiles) for built-in transforms
    const c = solveBound({ ...BRIGHTNESS, method: 'numeric', seed: 1 });
    const d = solveBound({ ...BRIGHTNESS, method: 'numeric', seed: 2 });
    expect(Math.abs(c.threshold - d.threshold)).toBeLessThan(1e-4);
  });

  it('accepts the seed as bigint, number or decimal string alike', () => {
    const keys = [7n, 7, '7'].map((seed) => boundCacheKey({ ...small, seed }));
    expect(new Set(keys).size).toBe(1);
    expect(solveBound({ ...small, seed: 2n ** 64n - 1n }).seed).toBe('18446744073709551615');
  });

  it('is a stable hex SHA-256, independent of key order, sensitive to every field', () => {
    const key = boundCacheKey(small);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    const reordered: BoundRequest = { seed: 7, grid: [5, 4], ns: 4000, sigma: { b: 0.3, k: 0.3 }, box: { b: [-0.2, 0.2], k: [0.8, 1.2] }, transform: 'cb' };
    expect(boundCacheKey(reordered)).toBe(key);
    expect(boundCacheKey({ ...small, grid: { k: 5, b: 4 } })).toBe(key);
    expect(solveBound(small).cacheKey).toBe(key);
    const variants: BoundRequest[] = [
      { ...small, transform: 'cbt', box: { ...small.box, tx: [0, 0], ty: [0, 0] }, sigma: { ...small.sigma, tx: 1, ty: 1 }, grid: 5 },
      { ...small, box: { k: [0.8, 1.2], b: [-0.2, 0.21] } },
      { ...small, box: { k: [0.79, 1.2], b: [-0.2, 0.2] } },
      { ...small, sigma: { k: 0.3, b: 0.31 } },
      { ...small, sigma: { k: 0.29, b: 0.3 } },
      { ...small, ns: 4001 },
      { ...small, grid: [4, 5] },
      { ...small, seed: 8 },
      { ...small, method: 'numeric' },
      { ...small, delta: 1e-3 },
    ];
    const keys = variants.map(boundCacheKey);
    expect(new Set([key, ...keys]).size).toBe(variants.length + 1);
    expect(solveBound(small).solverVersion).toBe(SOLVER_VERSION);
  });
});

describe('monotone in the box', () => {
  it('a larger box never gives a smaller numeric threshold (b, c, g)', () => {
    const specs = [
      { key: 'b', center: 0, sigma: 0.3, max: 0.6 },
      { key: 'c', center: 1, sigma: 0.3, max: 0.5 },
      { key: 'g', center: 1, sigma: 0.1, max: 0.6 },
    ] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...specs),
        fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
        fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true })),
        (s, [a1, a2], [g1, g2]) => {
          // inner box [c - a1 m, c + a2 m], outer box grows each side by g * m
          const m = s.max;
          const inner: [number, number] = [s.center - a1 * m * 0.5, s.center + a2 * m * 0.5];
          const outer: [number, number] = [inner[0] - g1 * m * 0.5, inner[1] + g2 * m * 0.5];
          const spec = TRANSFORMS[s.key];
          const solve = (box: [number, number]) =>
            solveNumeric({ spec, sigma: [s.sigma], lo: [box[0]], hi: [box[1]], grid: [5], ns: 2000, seed: 3n }).threshold;
          expect(solve(outer)).toBeGreaterThanOrEqual(solve(inner));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a superset attack grid never gives a smaller threshold (cb)', () => {
    const base = { spec: TRANSFORMS.cb, sigma: [0.3, 0.3], ns: 2000, seed: 5n };
    const inner = solveNumeric({ ...base, lo: [0.8, -0.2], hi: [1.2, 0.2], grid: [5, 5] }).threshold;
    const outer = solveNumeric({ ...base, lo: [0.6, -0.4], hi: [1.4, 0.4], grid: [9, 9] }).threshold;
    expect(outer).toBeGreaterThanOrEqual(inner);
  });
});

describe('Monte Carlo path (a transform without a score kernel)', () => {
  const generic = (key: 'b' | 'g' | 'cb') => ({ ...TRANSFORMS[key], key: `${key}-generic` }) as unknown as (typeof TRANSFORMS)[typeof key];

  it('agrees with the kernel path within its confidence band, from above', () => {
    const input = { sigma: [0.3, 0.3], lo: [0.8, -0.2], hi: [1.2, 0.2], grid: [4, 3], ns: 4000, seed: 11n };
    const fast = solveNumeric({ ...input, spec: TRANSFORMS.cb });
    const mc = solveNumeric({ ...input, spec: generic('cb') });
    expect(fast.laws).toEqual(['normal', 'strata']);
    expect(mc.laws).toEqual(['monte carlo']);
    expect(mc.distinctEvaluations).toBe(mc.evaluations);
    expect(mc.z).toBeGreaterThan(5);
    expect(mc.threshold).toBeGreaterThanOrEqual(fast.threshold);
    expect(mc.threshold - fast.threshold).toBeLessThan(0.05);
  });

  it('never below the closed form over seeds (brightness and gamma by Monte Carlo, ns = 20000, delta = 1e-6)', () => {
    for (const [key, lo, hi, sigma, closed] of [
      ['b', -0.4, 0.4, 0.3, PHI_4_3],
      ['g', 0.5, 2, 0.1, GAMMA],
    ] as const) {
      for (let seed = 0n; seed < 3n; seed++) {
        const r = solveNumeric({ spec: generic(key), sigma: [sigma], lo: [lo], hi: [hi], grid: [11], ns: 20000, seed });
        expect(r.laws).toEqual(['monte carlo']);
        expect(r.threshold).toBeGreaterThanOrEqual(closed);
        expect(r.threshold).toBeLessThan(closed + 0.03);
      }
    }
  });
});

describe('input validation names the field', () => {
  it.each([
    [{ ...BRIGHTNESS, transform: 'zz' }, 'threat_model.transform'],
    [{ ...BRIGHTNESS, sigma: { b: 0 } }, 'threat_model.sigma.b'],
    [{ ...BRIGHTNESS, box: { b: [0.4, -0.4] } }, 'threat_model.box.b'],
    [{ ...BRIGHTNESS, ns: 5 }, 'bound_settings.ns'],
    [{ ...BRIGHTNESS, ns: 100.5 }, 'bound_settings.ns'],
    [{ ...BRIGHTNESS, grid: 1 }, 'bound_settings.grid_points'],
    [{ ...BRIGHTNESS, grid: [3, 3] }, 'bound_settings.grid_points'],
    [{ ...BRIGHTNESS, seed: -1 }, 'bound_settings.seed'],
    [{ ...BRIGHTNESS, seed: 'x' }, 'bound_settings.seed'],
    [{ ...BRIGHTNESS, method: 'fast' }, 'bound_settings.method'],
    [{ ...BRIGHTNESS, delta: 0 }, 'bound_settings.delta'],
    [{ ...BRIGHTNESS, delta: 0.5 }, 'bound_settings.delta'],
  ] as [BoundRequest, string][])('%j -> %s', (req, field) => {
    let error: unknown;
    try {
      solveBound(req);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidBoundRequestError);
    expect((error as InvalidBoundRequestError).field).toBe(field);
    expect((error as InvalidBoundRequestError).code).toBe('INVALID_ARGUMENT');
  });
});

describe('verdict helpers', () => {
  it('certifies iff pA > max(threshold, 1/2)', () => {
    expect(certifies(0.95, 0.9088)).toBe(true);
    expect(certifies(0.9088, 0.9088)).toBe(false);
    expect(certifies(0.5, 0.3)).toBe(false);
    expect(certifies(0.51, 0.3)).toBe(true);
    expect(certifies(0.99, 1)).toBe(false);
  });
});
