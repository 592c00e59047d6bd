// The reference closed forms the reliability checks hold certificates to: ALGORITHM.md
// section 5's worked values, and the edges extreme numbers reach.
import { Distribution, Outcome, type Certificate, type ThreatModel } from '@glcert/contracts';
import { falseCertificate, thresholdFloor } from './closed-form';

const N = Distribution.DISTRIBUTION_NORMAL;
const LN = Distribution.DISTRIBUTION_LOG_NORMAL;
const RAY = Distribution.DISTRIBUTION_RAYLEIGH;
const tm = (transform: string, box: [string, number, number][], smoothing: [string, Distribution, number][]): ThreatModel => ({
  transform,
  box: box.map(([name, min, max]) => ({ name, min, max })),
  smoothing: smoothing.map(([name, distribution, sigma]) => ({ name, distribution, sigma })),
  note: '',
});

describe('reference thresholds (ALGORITHM.md section 5)', () => {
  it('matches the worked values', () => {
    expect(thresholdFloor(tm('b', [['b', -0.4, 0.4]], [['b', N, 0.3]]))).toBeCloseTo(0.9088, 4);
    expect(thresholdFloor(tm('t', [['tx', -14, 14], ['ty', -14, 14]], [['tx', N, 15], ['ty', N, 15]]))).toBeCloseTo(0.9066, 4);
    expect(thresholdFloor(tm('c', [['k', 0.6, 1.4]], [['k', LN, 0.3]]))).toBeCloseTo(0.9557, 4);
    expect(thresholdFloor(tm('g', [['g', 0.5, 2]], [['g', RAY, 0.1]]))).toBe(1 - 2 ** -4);
  });

  it('gamma below 1 is the exact 2^(-g^2), under ALGORITHM.md\'s looser 1 - 2^(-1/g^2)', () => {
    const g = (lo: number, hi: number): number | undefined => thresholdFloor(tm('g', [['g', lo, hi]], [['g', RAY, 0.1]]));
    expect(g(0.9, 1)).toBeCloseTo(2 ** -0.81, 12);
    expect(g(0.9, 1)).toBeLessThan(1 - 2 ** (-1 / 0.81));
    expect(g(1, 1.1)).toBeCloseTo(1 - 2 ** -1.21, 12);
    expect(g(1, 1)).toBe(0.5);
    // both sides: the larger end wins
    expect(g(0.9, 1.1)).toBe(Math.max(2 ** -0.81, 1 - 2 ** -1.21));
  });

  it('contrast+brightness: the contrast threshold of the sub-box b = 0 when the box holds it, none otherwise; none for blur', () => {
    const cb = (bLo: number, bHi: number): number | undefined => thresholdFloor(tm('cb', [['k', 0.8, 1.2], ['b', bLo, bHi]], [['k', LN, 0.3], ['b', N, 0.3]]));
    expect(cb(-0.1, 0.1)).toBe(thresholdFloor(tm('c', [['k', 0.8, 1.2]], [['k', LN, 0.3]])));
    expect(cb(-0.1, 0.1)).toBeCloseTo(0.7715, 4);
    expect(cb(0.05, 0.1)).toBeUndefined();
    expect(thresholdFloor(tm('r', [['r', 0, 1]], [['r', RAY, 2]]))).toBeUndefined();
  });

  it('is 1 where the box over sigma overflows, 0.5 for a point box, without overflow in between', () => {
    expect(thresholdFloor(tm('b', [['b', -0.2, 0.2]], [['b', N, 1e-300]]))).toBe(1);
    expect(thresholdFloor(tm('b', [['b', -1.7e308, 1.7e308]], [['b', N, 1e-3]]))).toBe(1);
    expect(thresholdFloor(tm('b', [['b', 0, 0]], [['b', N, 0.3]]))).toBe(0.5);
    // 1e200 / 1e200 in both coordinates: ||(1, 1)|| = sqrt 2, not Infinity / Infinity
    expect(thresholdFloor(tm('bt', [['b', -1e200, 1e200], ['tx', 0, 0], ['ty', 0, 0]], [['b', N, 1e200], ['tx', N, 1], ['ty', N, 1]]))).toBeCloseTo(0.8413, 4);
  });

  it('flags a certificate CERTIFIED below its closed form, and only that', () => {
    const cert = { outcome: Outcome.OUTCOME_CERTIFIED, threatModel: tm('b', [['b', -0.2, 0.2]], [['b', N, 1e-300]]), threshold: 0.50005, paLower: 0.98 } as Certificate;
    expect(falseCertificate(cert)).toMatch(/below the floor 1/);
    expect(falseCertificate({ ...cert, outcome: Outcome.OUTCOME_ABSTAINED })).toBeUndefined();
    const sound = { ...cert, threatModel: tm('b', [['b', -0.4, 0.4]], [['b', N, 0.3]]), threshold: 0.91, paLower: 0.95 };
    expect(falseCertificate(sound)).toBeUndefined();
  });
});
