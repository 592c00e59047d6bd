import fc from 'fast-check';
import { logNormalCdf, normalCdf, normalPdf, normalQuantile, normalSf } from './normal';

const rel = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

// Reference values from mpmath 1.3.0 at 50 digits (ncdf, log(ncdf), erfinv).
const PHI: [number, number][] = [
  [-1, 0.15865525393145705141],
  [-4 / 3, 0.091211219725867881973],
  [-5, 2.8665157187919391167e-7],
  [-10, 7.619853024160526066e-24],
  [-20, 2.7536241186062336951e-89],
  [-37.5, 4.6053530095819548438e-308],
  [3, 0.99865010196836990547],
  [8, 0.9999999999999993779],
];

describe('normalCdf', () => {
  it('matches known values, including Phi(4/3) from ALGORITHM.md section 5', () => {
    expect(rel(normalCdf(4 / 3), 0.9087887802741321)).toBeLessThan(2e-16);
    expect(normalCdf(0)).toBe(0.5);
  });

  it.each(PHI)('Phi(%d) to 1e-15 relative', (x, want) => {
    expect(rel(normalCdf(x), want)).toBeLessThan(1e-15);
  });

  it('is symmetric: Phi(-x) = 1 - Phi(x), and the upper tail keeps its digits', () => {
    fc.assert(
      fc.property(fc.double({ min: -8, max: 8, noNaN: true }), (x) => {
        expect(Math.abs(normalCdf(-x) - (1 - normalCdf(x)))).toBeLessThan(2e-16);
      }),
    );
    expect(rel(normalSf(10), 7.619853024160526066e-24)).toBeLessThan(1e-15);
  });

  it('is monotone and stays in [0, 1]', () => {
    let prev = 0;
    for (let x = -40; x <= 10; x += 0.01) {
      const v = normalCdf(x);
      expect(v).toBeGreaterThanOrEqual(prev);
      expect(v).toBeLessThanOrEqual(1);
      prev = v;
    }
    expect(normalCdf(-Infinity)).toBe(0);
    expect(normalCdf(Infinity)).toBe(1);
    expect(normalCdf(NaN)).toBeNaN();
  });

  it('logNormalCdf stays finite where Phi underflows', () => {
    expect(rel(logNormalCdf(-50), -1254.8313611394199013)).toBeLessThan(1e-15);
    expect(rel(logNormalCdf(-1e5), -5000000012.4318639983)).toBeLessThan(1e-15);
    expect(rel(logNormalCdf(-1), Math.log(0.15865525393145705141))).toBeLessThan(1e-15);
    expect(rel(logNormalCdf(-10), Math.log(7.619853024160526066e-24))).toBeLessThan(1e-15);
    expect(Math.abs(logNormalCdf(10) + 7.619853024160526066e-24)).toBeLessThan(1e-38);
  });

  it('normalPdf integrates the CDF (finite differences)', () => {
    for (const x of [-3, -1, 0, 0.5, 2]) {
      const h = 1e-5;
      expect(rel((normalCdf(x + h) - normalCdf(x - h)) / (2 * h), normalPdf(x))).toBeLessThan(1e-8);
    }
  });
});

describe('normalQuantile', () => {
  it('matches known values', () => {
    expect(rel(normalQuantile(0.975), 1.959963984540054)).toBeLessThan(4.5e-16); // 2 ulp
    expect(rel(normalQuantile(1e-12), -7.0344838253011319298)).toBeLessThan(1e-15);
    expect(rel(normalQuantile(0.001), -3.0902323061678135415)).toBeLessThan(1e-15);
    expect(rel(normalQuantile(1e-300), -37.047096299361199237)).toBeLessThan(1e-15);
    expect(normalQuantile(0.5)).toBe(0);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
  });

  it('inverts normalCdf (round trip in both directions)', () => {
    fc.assert(
      fc.property(fc.double({ min: -37, max: 8, noNaN: true }), (x) => {
        // Above 0, Phi(x) carries an absolute rounding of ~1e-16, worth 1e-16 / phi(x) in x.
        const back = normalQuantile(normalCdf(x));
        const slack = x > 0 ? 2.3e-16 / normalPdf(x) : 0;
        expect(Math.abs(back - x)).toBeLessThan(1e-14 * Math.max(1, Math.abs(x)) + slack);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.double({ min: 1e-300, max: 0.5, noNaN: true }), (p) => {
        // A relative error e in x moves p by about e x^2 (d ln Phi / d ln|x| ~ x^2 in the tail).
        const x = normalQuantile(p);
        expect(rel(normalCdf(x), p)).toBeLessThan(1e-15 * (1 + x * x));
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects probabilities outside [0, 1]', () => {
    expect(() => normalQuantile(-0.1)).toThrow(/p must be in/);
    expect(() => normalQuantile(1.5)).toThrow(RangeError);
    expect(normalQuantile(NaN)).toBeNaN();
  });
});
