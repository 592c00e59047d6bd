import { fillNormals, normalCdf, normalPdf } from '@glcert/stats';
import { TRANSFORMS } from '@glcert/transforms';

import { bandAt, bandLevels, bonferroniZ, expExcess, lawExcess, pilotSize, psiUpper, upperBand } from './band';
import { conditionalSampler } from './conditional';

const psi = (x: number) => x * normalCdf(x) + normalPdf(x);

function simpson(f: (x: number) => number, a: number, b: number, n: number): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

describe('psiUpper', () => {
  it('is an upper bound of psi(x) = E[(x + Z)^+], within 3e-7', () => {
    for (let x = -12; x <= 12; x += 0.0137) {
      const exact = psi(x);
      expect(psiUpper(x)).toBeGreaterThanOrEqual(exact - 1e-15);
      expect(psiUpper(x) - exact).toBeLessThan(3e-7);
    }
  });
});

describe('expExcess', () => {
  it('is E[(a (2E - 2) - w)^+], E ~ Exp(1), for both signs of a', () => {
    for (const a of [1, -1, 0.3, -2.5]) {
      for (const w of [-3, -1, -0.2, 0, 0.5, 1.5, 4]) {
        const e0 = 1 + w / (2 * a);
        const f = (e: number) => (a * (2 * e - 2) - w) * Math.exp(-e);
        const ref = a > 0 ? simpson(f, Math.max(0, e0), 60, 60000) : e0 <= 0 ? 0 : simpson(f, 0, e0, 20000);
        expect(expExcess(a, w)).toBeCloseTo(ref, 9);
      }
    }
  });
});

describe('deterministic upper bounds of g(w) = E[(eta - w)^+] (strata)', () => {
  // independent reference: eta | z0 ~ N(m, s^2) for cb, integrated over z0 by Simpson
  const cbRef = (c: number[], s: number[]) => (w: number) =>
    simpson(
      (z0) => {
        const m = (c[0] * z0) / s[0];
        const sd = (Math.abs(c[1]) * Math.exp(s[0] * z0)) / s[1];
        return normalPdf(z0) * sd * psi((m - w) / sd);
      },
      -12,
      12,
      24000,
    );
  // r: eta = c (R/s^2 - 1/R), R = s sqrt(2E), E = t^2
  const rRef = (c: number, s: number) => (w: number) =>
    simpson(
      (t) => {
        if (t === 0) return 0;
        const R = s * Math.SQRT2 * t;
        return Math.max(0, c * (R / (s * s) - 1 / R) - w) * Math.exp(-t * t) * 2 * t;
      },
      0,
      9,
      36000,
    );

  it.each([
    ['cb', [0.3, 0.3], [0.6, 0.8]],
    ['cb', [0.3, 0.3], [-0.9, 0.2]],
    ['cb', [0.6, 0.6], [0.3, -0.9]],
  ] as const)('%s sigma %j direction %j: above the exact value, within 0.5%% on the levels that matter (20000 strata)', (key, sigma, c) => {
    const norm = Math.hypot(...c);
    const dir = c.map((v) => v / norm);
    const law = conditionalSampler(TRANSFORMS[key], 20000, sigma)!.law(Float64Array.from(dir));
    expect(law.kind).toBe('strata');
    const ref = cbRef(dir, sigma as unknown as number[]);
    const g0 = ref(0);
    for (let w = -2 * g0; w <= 8 * g0; w += 0.5 * g0) {
      const g = ref(w);
      const bound = lawExcess(law, w);
      expect(bound).toBeGreaterThanOrEqual(g);
      if (g > 1e-2 * g0) expect(bound / g - 1).toBeLessThan(5e-3);
    }
  });

  it.each([1, -1])('r (blur, s = 2), c = %d: above the exact value', (c) => {
    const law = conditionalSampler(TRANSFORMS.r, 4000, [2])!.law(Float64Array.of(c));
    const ref = rRef(c, 2);
    const g0 = ref(0);
    for (let w = -2 * g0; w <= 8 * g0; w += 0.5 * g0) {
      const g = ref(w);
      expect(lawExcess(law, w)).toBeGreaterThanOrEqual(g);
      if (g > 1e-2 * g0) expect(lawExcess(law, w) / g - 1).toBeLessThan(0.15);
    }
  });
});

describe('upperBand', () => {
  const levels = bandLevels(20000);
  const pilotOf = (sd: number) => {
    const p = new Float64Array(pilotSize(20000));
    fillNormals(5n, 2, 20000, p.length, 1, p);
    for (let i = 0; i < p.length; i++) p[i] *= sd;
    return p.sort().reverse();
  };

  it('levels: geometric from 50/ns to 1/2', () => {
    expect(levels[0]).toBeCloseTo(50 / 20000, 12);
    expect(levels[levels.length - 1]).toBe(0.5);
    expect(bonferroniZ(1e-6, 82)).toBeCloseTo(5.5776, 3); // Phi^-1(1 - 1e-6/82)
  });

  it('for an exactly normal eta: a tangent-line upper bound of B, tight on [0.0025, 0.5]', () => {
    const sd = 1 / 0.3;
    const band = upperBand({ law: { kind: 'normal', sd }, eta: null, pilotDescending: pilotOf(sd), levels, z: 6 })!;
    // B(q) = sd phi(Phi^-1(1 - q)), M = sd phi(0)
    expect(band.M).toBeCloseTo(sd * normalPdf(0), 6);
    for (let q = 0.001; q <= 0.5; q += 0.0007) {
      let lo = -10;
      let hi = 10;
      for (let i = 0; i < 80; i++) {
        const mid = (lo + hi) / 2;
        if (1 - normalCdf(mid) > q) lo = mid;
        else hi = mid;
      }
      const B = sd * normalPdf(lo);
      expect(bandAt(band, q)).toBeGreaterThanOrEqual(B * (1 - 1e-12));
      if (q >= 0.0025) expect(bandAt(band, q) / B - 1).toBeLessThan(3e-3);
    }
  });

  it('Monte Carlo band: above the truth at the solver z, and null only for eta = 0', () => {
    const n = 20000;
    const eta = new Float64Array(n);
    fillNormals(9n, 2, 0, n, 1, eta);
    const band = upperBand({ law: null, eta, pilotDescending: pilotOf(1), levels, z: 5.8 })!;
    for (let k = 0; k < band.w.length; k++) expect(band.a[k]).toBeGreaterThan(psi(-band.w[k]));
    expect(upperBand({ law: null, eta: new Float64Array(n), pilotDescending: new Float64Array(100), levels, z: 5 })).toBeNull();
  });
});
