import { TRANSFORMS } from '@glcert/transforms';

import { closedFormThreshold, thresholdFloor } from './closed-form';
import { InvalidBoundRequestError } from './errors';
import { solveNumeric } from './numeric';

// Values from ALGORITHM.md section 5 (Phi(4/3), Phi(14 sqrt2 / 15), Phi(|ln 0.6| / 0.3), 1 - 2^-4).
describe('closedFormThreshold', () => {
  it('brightness, s 0.3, box [-0.4, 0.4]: Phi(4/3) = 0.9088', () => {
    expect(closedFormThreshold(TRANSFORMS.b, [0.3], [-0.4], [0.4])!.threshold).toBeCloseTo(0.9087887802741321, 12);
  });

  it('translation, s 15, box [-14, 14]^2: Phi(14 sqrt2 / 15) = 0.9066', () => {
    expect(closedFormThreshold(TRANSFORMS.t, [15, 15], [-14, -14], [14, 14])!.threshold).toBeCloseTo(0.9065712486684798, 12);
  });

  it('contrast, s 0.3, k in [0.6, 1.4]: Phi(|ln 0.6| / 0.3) = 0.9557', () => {
    expect(closedFormThreshold(TRANSFORMS.c, [0.3], [0.6], [1.4])!.threshold).toBeCloseTo(0.9556927628967586, 12);
  });

  it('gamma, Rayleigh 0.1, g in [0.5, 2]: 1 - 2^-4 = 0.9375', () => {
    expect(closedFormThreshold(TRANSFORMS.g, [0.1], [0.5], [2])!.threshold).toBe(0.9375);
    // the larger of g^2 and g^-2 over the box decides: [0.8, 1.5] -> K = 2.25
    expect(closedFormThreshold(TRANSFORMS.g, [0.1], [0.8], [1.5])!.threshold).toBeCloseTo(1 - 2 ** -2.25, 15);
    // a box not containing 1 still needs its far end
    expect(closedFormThreshold(TRANSFORMS.g, [0.1], [1.5], [2])!.threshold).toBe(0.9375);
  });

  it('compositions of additive laws use the norm over the far corner', () => {
    // bt: (0.2/0.4, 56/30, 56/30) -> sqrt(0.25 + 2 * (56/30)^2)
    const bt = closedFormThreshold(TRANSFORMS.bt, [0.4, 30, 30], [-0.2, -56, -56], [0.2, 56, 56])!.threshold;
    const norm = Math.sqrt(0.25 + 2 * (56 / 30) ** 2);
    expect(bt).toBeGreaterThan(0.99);
    expect(bt).toBeCloseTo(1 - 0.5 * erfcApprox(norm / Math.SQRT2), 6);
    // ct: (|ln 0.8| / 0.2, 3/3): the asymmetric box's far end in log space
    const ct = closedFormThreshold(TRANSFORMS.ct, [0.2, 3, 3], [0.8, 0, 0], [1.1, 3, 0])!.threshold;
    const ctNorm = Math.hypot(Math.log(0.8) / 0.2, 1);
    expect(ct).toBeCloseTo(1 - 0.5 * erfcApprox(ctNorm / Math.SQRT2), 6);
  });

  it('is a point at the identity: Phi(0) = 1/2', () => {
    expect(closedFormThreshold(TRANSFORMS.b, [0.3], [0], [0])!.threshold).toBeCloseTo(0.5, 12);
  });

  it('has none for cb, gc, cbt, r', () => {
    expect(closedFormThreshold(TRANSFORMS.cb, [0.3, 0.3], [0.6, -0.4], [1.4, 0.4])).toBeNull();
    expect(closedFormThreshold(TRANSFORMS.gc, [0.1, 0.3], [0.8, 0.8], [1.2, 1.2])).toBeNull();
    expect(closedFormThreshold(TRANSFORMS.cbt, [0.3, 0.3, 3, 3], [0.8, 0, 0, 0], [1.2, 0.1, 1, 1])).toBeNull();
    expect(closedFormThreshold(TRANSFORMS.r, [2], [0], [2])).toBeNull();
  });
});

/** erfc by a continued fraction / series independent of @glcert/stats (|err| < 1e-12 here). */
function erfcApprox(x: number): number {
  // erfc(x) = 1 - erf(x); erf by its Taylor series (x < 3 here)
  let sum = 0;
  let term = x;
  for (let n = 0; n < 200; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return 1 - (2 / Math.sqrt(Math.PI)) * sum;
}

describe('thresholdFloor: no sound bound may be below it', () => {
  it('is the (tight) closed form for b, t, bt, c, ct', () => {
    expect(thresholdFloor(TRANSFORMS.b, [0.3], [-0.4], [0.4])!.threshold).toBeCloseTo(0.9087887802741321, 12);
    expect(thresholdFloor(TRANSFORMS.t, [15, 15], [-14, -14], [14, 14])!.threshold).toBeCloseTo(0.9065712486684798, 12);
    expect(thresholdFloor(TRANSFORMS.c, [0.3], [0.6], [1.4])!.threshold).toBeCloseTo(0.9556927628967586, 12);
    const bt = [[0.4, 30, 30], [-0.2, -56, -56], [0.2, 56, 56]] as const;
    expect(thresholdFloor(TRANSFORMS.bt, ...bt)!.threshold).toBe(closedFormThreshold(TRANSFORMS.bt, ...bt)!.threshold);
  });

  it('gamma: exact Neyman-Pearson threshold, 2^-(g^2) below 1 (the closed form is looser there)', () => {
    expect(thresholdFloor(TRANSFORMS.g, [0.1], [0.5], [2])!.threshold).toBe(0.9375);
    expect(thresholdFloor(TRANSFORMS.g, [0.1], [0.5], [1])!.threshold).toBeCloseTo(0.8408964152537145, 15); // 2^-0.25
    expect(closedFormThreshold(TRANSFORMS.g, [0.1], [0.5], [1])!.threshold).toBe(0.9375);
    // the numeric bound sits just above the exact value, never below
    const numeric = solveNumeric({ spec: TRANSFORMS.g, sigma: [0.1], lo: [0.5], hi: [1], grid: [5], ns: 4000, seed: 0n }).threshold;
    expect(numeric).toBeGreaterThanOrEqual(0.8408964152537145);
    expect(numeric).toBeLessThan(0.8408964152537145 + 0.002);
  });

  it('cb, cbt: the sub-box b = 0 (additive Gaussian in ln k, tx, ty) when the box contains it', () => {
    expect(thresholdFloor(TRANSFORMS.cb, [0.3, 0.3], [0.6, -0.4], [1.4, 0.4])!.threshold).toBeCloseTo(0.9556927628967586, 12);
    expect(thresholdFloor(TRANSFORMS.cb, [0.3, 0.3], [0.6, 0.1], [1.4, 0.4])).toBeNull();
    const cbt = thresholdFloor(TRANSFORMS.cbt, [0.3, 0.3, 15, 15], [0.6, -0.4, -14, -14], [1.4, 0.4, 14, 14])!.threshold;
    expect(cbt).toBeCloseTo(thresholdFloor(TRANSFORMS.ct, [0.3, 15, 15], [0.6, -14, -14], [1.4, 14, 14])!.threshold, 15);
    const numeric = solveNumeric({ spec: TRANSFORMS.cb, sigma: [0.3, 0.3], lo: [0.6, -0.4], hi: [1.4, 0.4], grid: [5, 5], ns: 2000, seed: 0n }).threshold;
    expect(numeric).toBeGreaterThanOrEqual(0.9556927628967586);
  });

  it('none for gc and r; a sigma or box no threat model may have is refused naming the field', () => {
    expect(thresholdFloor(TRANSFORMS.gc, [0.1, 0.3], [0.8, 0.8], [1.2, 1.2])).toBeNull();
    expect(thresholdFloor(TRANSFORMS.r, [2], [0], [1])).toBeNull();
    expect(() => thresholdFloor(TRANSFORMS.b, [0], [-0.4], [0.4])).toThrow(expect.objectContaining({ field: 'threat_model.sigma.b' }));
    expect(() => thresholdFloor(TRANSFORMS.c, [0.3], [-1], [1.4])).toThrow(expect.objectContaining({ field: 'threat_model.box.k' }));
    expect(() => thresholdFloor(TRANSFORMS.b, [0.3], [NaN], [0.4])).toThrow(InvalidBoundRequestError);
  });

  it('extreme doubles: finite, in [1/2, 1], no overflow of the squares', () => {
    expect(thresholdFloor(TRANSFORMS.b, [1e-300], [-0.2], [0.2])!.threshold).toBe(1);
    expect(thresholdFloor(TRANSFORMS.bt, [1e-200, 1, 1], [-1e-200, 0, 0], [1e-200, 0, 0])!.threshold).toBeCloseTo(0.8413447460685429, 12);
    expect(thresholdFloor(TRANSFORMS.t, [1e-200, 1e-200], [-0.5, 0], [0.5, 0])!.threshold).toBe(0.5); // integer shifts only
    expect(thresholdFloor(TRANSFORMS.b, [1.7e308], [-1.7e308], [1.7e308])!.threshold).toBeCloseTo(0.8413447460685429, 12);
    expect(thresholdFloor(TRANSFORMS.b, [1], [-0], [0])!.threshold).toBe(0.5);
  });
});
