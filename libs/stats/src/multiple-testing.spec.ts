import fc from 'fast-check';
import { bonferroni, familyWiseAlpha, holm } from './multiple-testing';

describe('bonferroni and familyWiseAlpha', () => {
  it('split and sum the error budget', () => {
    expect(bonferroni(0.05, 10)).toBeCloseTo(0.005, 15);
    expect(bonferroni(0.001, 1)).toBe(0.001);
    expect(familyWiseAlpha(0.001, 500)).toBeCloseTo(0.5, 15);
    expect(familyWiseAlpha(0.001, 5000)).toBe(1);
  });

  it('validate their inputs', () => {
    expect(() => bonferroni(0, 3)).toThrow(/alpha/);
    expect(() => bonferroni(0.05, 0)).toThrow(/m must be/);
    expect(() => familyWiseAlpha(1.2, 3)).toThrow(/alpha/);
    expect(() => familyWiseAlpha(0.01, 2.5)).toThrow(/m must be/);
  });
});

describe('holm', () => {
  it('steps down and stops at the first acceptance', () => {
    // thresholds 0.05/4, 0.05/3, 0.05/2, 0.05/1 for the sorted p-values
    expect(holm([0.01, 0.04, 0.03, 0.005], 0.05)).toEqual([true, false, false, true]);
    expect(holm([0.012, 0.016, 0.024, 0.049], 0.05)).toEqual([true, true, true, true]);
    // 0.03 > 0.05/2 rejects nothing, even though 0.04 < 0.05 on its own
    expect(holm([0.03, 0.04], 0.05)).toEqual([false, false]);
    expect(holm([], 0.05)).toEqual([]);
  });

  it('rejects everything Bonferroni rejects, and only hypotheses with p <= alpha', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 30 }), fc.double({ min: 1e-6, max: 0.5, noNaN: true }), (ps, alpha) => {
        const rejected = holm(ps, alpha);
        ps.forEach((p, i) => {
          if (p <= alpha / ps.length) expect(rejected[i]).toBe(true);
          if (rejected[i]) expect(p).toBeLessThanOrEqual(alpha);
        });
        // step-down: the rejected set is a prefix of the sorted p-values
        const worstRejected = Math.max(-1, ...ps.filter((_, i) => rejected[i]));
        ps.forEach((p, i) => {
          if (p < worstRejected) expect(rejected[i]).toBe(true);
        });
      }),
    );
  });

  it('validates p-values', () => {
    expect(() => holm([0.1, 1.2], 0.05)).toThrow(/pValues\[1\]/);
    expect(() => holm([NaN], 0.05)).toThrow(/pValues\[0\]/);
  });
});
