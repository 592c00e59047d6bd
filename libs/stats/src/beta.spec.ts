import fc from 'fast-check';
import {
  betaPowerTerm,
  betaQuantile,
  invRegIncBeta,
  invRegIncBetaPair,
  regIncBeta,
  regIncBetaComplement,
} from './beta';
import { lnBeta, lnGamma } from './gamma';

const rel = (got: number, want: number) => (got === want ? 0 : Math.abs(got - want) / Math.abs(want));
// Prefactors are formed as exp(log): their relative error grows like eps |ln value|.
const logTol = (want: number) => 1e-15 * (4 + Math.abs(Math.log(want)));

/** P(Bin(n, num/den) >= k) as an exact rational, rounded once to a double. */
function binomialUpperTail(n: number, k: number, num: bigint, den: bigint): number {
  let total = 0n;
  let choose = 1n;
  for (let j = 0; j <= n; j++) {
    if (j >= k) total += choose * num ** BigInt(j) * (den - num) ** BigInt(n - j);
    choose = (choose * BigInt(n - j)) / BigInt(j + 1);
  }
  const scale = den ** BigInt(n);
  // Keep 64 significant bits in the quotient whatever the size of the tail.
  const shift = 64 + scale.toString(2).length - total.toString(2).length;
  const q = (total << BigInt(shift)) / scale;
  return Number(q) * 2 ** -(shift - 512) * 2 ** -512;
}

const logUniform = (lo: number, hi: number) =>
  fc.double({ min: Math.log(lo), max: Math.log(hi), noNaN: true }).map(Math.exp);

describe('regIncBeta', () => {
  it('matches closed forms: a = 1, b = 1, a = b = 1/2, Beta(2, 2)', () => {
    for (const x of [1e-12, 1e-6, 0.01, 0.2, 0.5, 0.77, 0.999]) {
      for (const b of [0.3, 1, 2.5, 40, 1e4]) {
        const a1 = -Math.expm1(b * Math.log1p(-x));
        expect(rel(regIncBeta(x, 1, b), a1)).toBeLessThan(logTol(Math.min(a1, 1 - a1)));
        expect(rel(regIncBeta(x, b, 1), Math.pow(x, b))).toBeLessThan(2e-15 * Math.max(1, Math.abs(b * Math.log(x))));
      }
      const arcsine = (2 / Math.PI) * Math.asin(Math.sqrt(x));
      expect(rel(regIncBeta(x, 0.5, 0.5), arcsine)).toBeLessThan(logTol(arcsine));
      const cubic = x * x * (3 - 2 * x);
      expect(rel(regIncBeta(x, 2, 2), cubic)).toBeLessThan(logTol(cubic));
    }
  });

  it('matches exact binomial tails: I_p(k, n - k + 1) = P(Bin(n, p) >= k)', () => {
    for (const [num, den] of [
      [1n, 4n],
      [3n, 1000n],
      [999n, 1000n],
    ] as const) {
      const p = Number(num) / Number(den);
      for (const n of [5, 60, 300]) {
        for (let k = 1; k <= n; k += Math.max(1, Math.floor(n / 12))) {
          const want = binomialUpperTail(n, k, num, den);
          if (want < 1e-300) continue;
          expect(rel(regIncBeta(p, k, n - k + 1), want)).toBeLessThan(logTol(want));
          const wantUpper = 1 - want;
          if (wantUpper > 1e-3) expect(rel(regIncBetaComplement(p, k, n - k + 1), wantUpper)).toBeLessThan(5e-14);
        }
      }
    }
  });

  // mpmath 1.3.0 at 50 digits (the same continued fraction, evaluated with 50-digit arithmetic).
  it.each([
    [0.49944098300562506, 1e7, 1e7, 2.8664934180684235066e-7],
    [0.4999, 1e6, 1e6, 0.38864871786232204188],
    [1e-5, 2.5, 1e5, 0.1508584231671647795],
    [0.3, 0.7, 2.5, 0.7117207462553189925],
  ])('I_%d(%d, %d) to 5e-15 relative', (x, a, b, want) => {
    expect(rel(regIncBeta(x, a, b), want)).toBeLessThan(5e-15);
  });

  it('is symmetric: I_x(a, b) + I_{1-x}(b, a) = 1, each tail accurate', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-6, max: 1 - 1e-6, noNaN: true }), logUniform(0.05, 1e6), logUniform(0.05, 1e6), (x, a, b) => {
        const lower = regIncBeta(x, a, b);
        const mirrored = regIncBetaComplement(1 - x, b, a);
        // 1 - x is rounded: allow what that rounding can move I by.
        const slack = (Math.abs(1 - x - (1 - x)) + 1.2e-16) * (betaPowerTerm(a, b, x, 1 - x) / (x * (1 - x))) * Math.max(x, 1 - x);
        expect(Math.abs(lower - mirrored)).toBeLessThanOrEqual(1e-13 * lower + slack + 1e-300);
        expect(lower).toBeGreaterThanOrEqual(0);
        expect(lower).toBeLessThanOrEqual(1);
      }),
      { numRuns: 500 },
    );
  });

  it('is monotone in x', () => {
    for (const [a, b] of [
      [0.5, 3],
      [30, 4000],
      [1e6, 1e6],
    ]) {
      let prev = 0;
      for (let i = 1; i < 2000; i++) {
        const v = regIncBeta(i / 2000, a, b);
        expect(v).toBeGreaterThanOrEqual(prev);
        prev = v;
      }
    }
  });

  it('validates its arguments', () => {
    expect(() => regIncBeta(1.5, 1, 1)).toThrow(/x must be in/);
    expect(() => regIncBeta(0.5, 0, 1)).toThrow(/a must be/);
    expect(() => regIncBeta(0.5, 1, Infinity)).toThrow(/b must be/);
    expect(regIncBeta(0, 2, 3)).toBe(0);
    expect(regIncBeta(1, 2, 3)).toBe(1);
  });
});

describe('invRegIncBeta', () => {
  // mpmath 1.3.0 at 50 digits, by bisection on the 50-digit continued fraction: [p, a, b, x, 1 - x].
  it.each([
    [1e-12, 1e7, 1e7, 0.4992135212756453181, 0.5007864787243546819],
    [1e-12, 1e7, 3, 0.99999659476871932923, 3.405231280670769903e-6],
    [1e-12, 3, 1e7, 1.817202964526942865e-11, 0.99999999998182797035],
    [0.95, 1000, 1e7, 0.00010524691569282758137, 0.99989475308430717242],
    [1e-300, 1000, 30, 0.44795233872713467464, 0.55204766127286532536],
    [0.001, 1000, 1e7, 0.000090503462627275671078, 0.99990949653737272433],
    [1e-300, 1e6, 30, 0.99918643461808704961, 0.00081356538191295039163],
    [0.3, 2.5, 0.7, 0.70977589121488045238, 0.29022410878511954762],
  ])('p = %d, a = %d, b = %d: x and 1 - x to 2e-15 relative', (p, a, b, x, y) => {
    const [gx, gy] = invRegIncBetaPair(p, a, b);
    expect(rel(gx, x)).toBeLessThan(2e-15);
    expect(rel(gy, y)).toBeLessThan(2e-15);
  });

  it('inverts closed forms', () => {
    for (const p of [1e-12, 1e-6, 0.05, 0.5, 0.95, 1 - 1e-9]) {
      const arcsine = Math.sin((Math.PI * p) / 2) ** 2;
      expect(rel(invRegIncBeta(p, 0.5, 0.5), arcsine)).toBeLessThan(2 * logTol(Math.min(p, 1 - p)));
      expect(rel(invRegIncBeta(p, 7, 1), Math.pow(p, 1 / 7))).toBeLessThan(1e-15);
      expect(rel(invRegIncBeta(p, 1, 1e6), -Math.expm1(Math.log1p(-p) / 1e6))).toBeLessThan(1e-15);
    }
  });

  it('solves I_x(a, b) = p across extreme shapes (a, b in [0.01, 1e7], p down to 1e-12)', () => {
    fc.assert(
      fc.property(logUniform(0.01, 1e7), logUniform(0.01, 1e7), logUniform(1e-12, 0.5), fc.boolean(), (a, b, small, upper) => {
        const p = upper ? 1 - small : small;
        const [x, y] = invRegIncBetaPair(p, a, b);
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThanOrEqual(1);
        // the root underflows (tiny a or b), or x rounds to 1 while y = 1 - x holds it (checked via y below)
        if (x === 0 || y === 0 || x === 1 || y === 1) return;
        // Residual in the tail holding p, allowing for what a 1e-15 relative change of the
        // smaller of x, y explains, plus the spacing of doubles at x and at 1 - x (and at p).
        const front = betaPowerTerm(a, b, x, y);
        const allowed = 1e-12 * small + (upper ? 1.2e-16 : 0) + front * (1e-15 / Math.max(x, y) + 2.3e-16 * (1 / x + 1 / y));
        const residual = upper ? Math.abs(regIncBetaComplement(x, a, b) - small) : Math.abs(regIncBeta(x, a, b) - small);
        expect(residual).toBeLessThanOrEqual(allowed);
      }),
      { numRuns: 400 },
    );
  });

  it('betaQuantile is the same function; the edges are exact', () => {
    expect(betaQuantile(0.3, 2.5, 0.7)).toBe(invRegIncBeta(0.3, 2.5, 0.7));
    expect(invRegIncBeta(0, 3, 4)).toBe(0);
    expect(invRegIncBeta(1, 3, 4)).toBe(1);
    expect(() => invRegIncBeta(-0.1, 3, 4)).toThrow(/p must be in/);
  });
});

describe('lnGamma and lnBeta', () => {
  it('match factorials and half-integer values', () => {
    let fact = 1;
    for (let n = 1; n <= 25; n++) {
      expect(Math.abs(lnGamma(n + 1) - Math.log((fact *= n)))).toBeLessThan(4e-15 * Math.max(1, Math.log(fact)));
    }
    expect(rel(lnGamma(0.5), Math.log(Math.sqrt(Math.PI)))).toBeLessThan(1e-15);
    expect(Math.abs(lnGamma(1))).toBeLessThan(1e-15);
    expect(rel(lnBeta(1e7, 1e7), -13862950.404734595683)).toBeLessThan(1e-15);
  });
});
