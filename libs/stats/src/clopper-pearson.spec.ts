import * as fs from 'node:fs';
import * as path from 'node:path';
import { clopperPearsonLower, clopperPearsonUpper, minSamplesToCertify } from './clopper-pearson';

interface Vector {
  successes: number;
  trials: number;
  alpha: number;
  lower: number;
  upper: number;
}

// The copy under __fixtures__ runs on a clean clone; the shared original, when present, must match it.
const FIXTURE = path.resolve(__dirname, '__fixtures__/clopper-pearson.json');
const SHARED = path.resolve(__dirname, '../../../../shared/reference/clopper-pearson.json');
const reference: { definition: string; vectors: Vector[] } = JSON.parse(fs.readFileSync(FIXTURE, 'utf8'));

describe('Clopper-Pearson reference vectors (scipy beta.ppf)', () => {
  it('the fixture is a faithful copy of shared/reference', () => {
    if (!fs.existsSync(SHARED)) return; // clean clone without ../shared
    expect(JSON.parse(fs.readFileSync(SHARED, 'utf8'))).toEqual(reference);
  });

  it('covers n from 1 to 1e6 and alpha from 1e-12 to 0.05', () => {
    expect(reference.vectors.length).toBeGreaterThan(100);
  });

  it.each(reference.vectors.map((v) => [v.successes, v.trials, v.alpha, v] as const))(
    'k = %d, n = %d, alpha = %d: lower and upper within 1e-9',
    (k, n, alpha, v) => {
      const lower = clopperPearsonLower(k, n, alpha);
      const upper = clopperPearsonUpper(k, n, alpha);
      expect(Math.abs(lower - v.lower)).toBeLessThanOrEqual(1e-9);
      expect(Math.abs(upper - v.upper)).toBeLessThanOrEqual(1e-9);
      if (v.lower > 0.99) expect(Math.abs(lower - v.lower) / v.lower).toBeLessThanOrEqual(1e-9);
      if (v.upper > 0.99) expect(Math.abs(upper - v.upper) / v.upper).toBeLessThanOrEqual(1e-9);
    },
  );
});

describe('clopperPearsonLower / clopperPearsonUpper', () => {
  it('use the exact closed forms at k = 0 and k = n', () => {
    for (const [n, alpha] of [
      [1, 0.05],
      [1000, 0.001],
      [123457, 1e-12],
    ]) {
      expect(clopperPearsonLower(0, n, alpha)).toBe(0);
      expect(clopperPearsonLower(n, n, alpha)).toBe(Math.pow(alpha, 1 / n));
      expect(clopperPearsonUpper(n, n, alpha)).toBe(1);
      expect(Math.abs(clopperPearsonUpper(0, n, alpha) - (1 - Math.pow(alpha, 1 / n)))).toBeLessThan(2e-16);
    }
  });

  it('n = 1000, alpha = 0.001 can never certify above 0.99312 (ALGORITHM.md section 6)', () => {
    expect(clopperPearsonLower(1000, 1000, 0.001)).toBeCloseTo(0.99312, 5);
    expect(clopperPearsonLower(999, 1000, 0.001)).toBeLessThan(clopperPearsonLower(1000, 1000, 0.001));
  });

  it('are monotone in successes, ordered, never NaN and within [0, 1]', () => {
    for (const n of [1, 2, 7, 50, 1000, 20000]) {
      for (const alpha of [1e-12, 1e-6, 0.001, 0.05, 0.5]) {
        const step = Math.max(1, Math.floor(n / 400));
        let prevLower = -1;
        let prevUpper = -1;
        for (let k = 0; k <= n; k += k + step > n && k < n ? n - k : step) {
          const lower = clopperPearsonLower(k, n, alpha);
          const upper = clopperPearsonUpper(k, n, alpha);
          for (const v of [lower, upper]) {
            expect(Number.isNaN(v)).toBe(false);
            expect(v).toBeGreaterThanOrEqual(0);
            expect(v).toBeLessThanOrEqual(1);
          }
          expect(lower).toBeGreaterThan(prevLower);
          expect(upper).toBeGreaterThan(prevUpper);
          if (alpha < 0.5) {
            expect(lower).toBeLessThanOrEqual(k / n);
            expect(upper).toBeGreaterThanOrEqual(k / n);
          }
          prevLower = lower;
          prevUpper = upper;
        }
      }
    }
  });

  it('mirror each other: upper(k) = 1 - lower(n - k)', () => {
    for (const [k, n, alpha] of [
      [3, 10, 0.05],
      [990, 1000, 0.001],
      [17, 1000000, 1e-6],
    ]) {
      expect(Math.abs(clopperPearsonUpper(k, n, alpha) - (1 - clopperPearsonLower(n - k, n, alpha)))).toBeLessThan(3e-16);
    }
  });

  it('validate their inputs and name the argument', () => {
    expect(() => clopperPearsonLower(1.5, 10, 0.05)).toThrow(/^k must be/);
    expect(() => clopperPearsonLower(-1, 10, 0.05)).toThrow(/^k must be/);
    expect(() => clopperPearsonLower(11, 10, 0.05)).toThrow(/^k must be/);
    expect(() => clopperPearsonUpper(0, 0, 0.05)).toThrow(/^n must be/);
    expect(() => clopperPearsonUpper(0, 2.5, 0.05)).toThrow(/^n must be/);
    expect(() => clopperPearsonLower(1, 10, 0)).toThrow(/^alpha must be/);
    expect(() => clopperPearsonLower(1, 10, 1)).toThrow(/^alpha must be/);
    expect(() => clopperPearsonUpper(1, 10, NaN)).toThrow(RangeError);
  });
});

describe('minSamplesToCertify', () => {
  it('is the smallest n whose all-success lower bound exceeds the threshold', () => {
    for (const alpha of [1e-12, 0.001, 0.05]) {
      for (const threshold of [0.5, 0.9, 0.9557, 0.99, 0.99312, 0.999, 0.99999]) {
        const n = minSamplesToCertify(threshold, alpha);
        expect(clopperPearsonLower(n, n, alpha)).toBeGreaterThan(threshold);
        if (n > 1) expect(clopperPearsonLower(n - 1, n - 1, alpha)).toBeLessThanOrEqual(threshold);
      }
    }
  });

  it('says n = 1000 is not enough above 0.99312 at alpha = 0.001', () => {
    const best = clopperPearsonLower(1000, 1000, 0.001);
    expect(minSamplesToCertify(best - 1e-12, 0.001)).toBe(1000);
    expect(minSamplesToCertify(best, 0.001)).toBe(1001);
    expect(minSamplesToCertify(0.99312, 0.001)).toBe(1001);
  });

  it('handles the edges', () => {
    expect(minSamplesToCertify(1, 0.001)).toBe(Infinity);
    expect(minSamplesToCertify(1.5, 0.001)).toBe(Infinity);
    expect(minSamplesToCertify(0, 0.001)).toBe(1);
    expect(minSamplesToCertify(-1, 0.001)).toBe(1);
    expect(() => minSamplesToCertify(NaN, 0.001)).toThrow(/threshold/);
    expect(() => minSamplesToCertify(0.9, 1)).toThrow(/alpha/);
  });
});
