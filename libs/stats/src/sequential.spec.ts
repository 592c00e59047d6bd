import fc from 'fast-check';
import { clopperPearsonLower, clopperPearsonUpper } from './clopper-pearson';
import {
  canCertifyLater,
  decideAtLook,
  nextSelectionBlock,
  runSequential,
  selectionDone,
  selectionStopValid,
  sequentialSchedule,
  sumInOrder,
} from './sequential';

const ALPHA = 0.001;

describe('sequentialSchedule (ALGORITHM.md section 9, worked examples)', () => {
  it('h_eff 0.9088, alpha 0.001, n_max 1000: 84, 168, 336, 672, 1000 with ends spending', () => {
    const s = sequentialSchedule(0.9088, ALPHA, 1000);
    expect(s.map((l) => l.n)).toEqual([84, 168, 336, 672, 1000]);
    // K = 5: alpha/3 at both ends, alpha/9 at each of the three looks between
    const want = [ALPHA / 3, ALPHA / 9, ALPHA / 9, ALPHA / 9, ALPHA / 3];
    s.forEach((l, k) => expect(l.level).toBeCloseTo(want[k]!, 18));
  });

  it('h_eff 0.9557: 177, 354, 708, 1000 (alpha/3, alpha/6, alpha/6, alpha/3)', () => {
    const s = sequentialSchedule(0.9557, ALPHA, 1000);
    expect(s.map((l) => l.n)).toEqual([177, 354, 708, 1000]);
    const want = [ALPHA / 3, ALPHA / 6, ALPHA / 6, ALPHA / 3];
    s.forEach((l, k) => expect(l.level).toBeCloseTo(want[k]!, 18));
  });

  it('h_eff 0.9966: one look at n_max and level alpha (the fixed rule)', () => {
    expect(sequentialSchedule(0.9966, ALPHA, 1000)).toEqual([{ n: 1000, level: ALPHA }]);
    // h_eff = 1 (unreachable) too
    expect(sequentialSchedule(1, ALPHA, 1000)).toEqual([{ n: 1000, level: ALPHA }]);
  });

  it('K = 2 spends alpha/2 at each look', () => {
    // n_first(alpha/3) at h = 0.99 is 797: looks 797 and 1000
    const s = sequentialSchedule(0.99, ALPHA, 1000);
    expect(s).toEqual([
      { n: 797, level: ALPHA / 2 },
      { n: 1000, level: ALPHA / 2 },
    ]);
  });

  it('the first look is the smallest size at which its level can certify', () => {
    // (alpha/3)^(1/84) = 0.90901 > 0.9088 >= (alpha/3)^(1/83) = 0.90792
    expect(Math.pow(ALPHA / 3, 1 / 84)).toBeGreaterThan(0.9088);
    expect(Math.pow(ALPHA / 3, 1 / 83)).toBeLessThanOrEqual(0.9088);
  });

  it('refuses inputs outside its domain', () => {
    expect(() => sequentialSchedule(0.4, ALPHA, 1000)).toThrow(RangeError);
    expect(() => sequentialSchedule(Number.NaN, ALPHA, 1000)).toThrow(RangeError);
    expect(() => sequentialSchedule(0.9, 0, 1000)).toThrow(RangeError);
    expect(() => sequentialSchedule(0.9, ALPHA, 0)).toThrow(RangeError);
    expect(() => sequentialSchedule(0.9, ALPHA, 1.5)).toThrow(RangeError);
  });
});

const hEffArb = fc.double({ min: 0.5, max: 1, noNaN: true });
const alphaArb = fc.double({ min: 1e-12, max: 0.2, noNaN: true });
const nMaxArb = fc.integer({ min: 1, max: 2_000_000 });

describe('sequentialSchedule properties', () => {
  it('strictly increasing sizes ending at n_max, positive levels summing to at most alpha', () => {
    fc.assert(
      fc.property(hEffArb, alphaArb, nMaxArb, (h, alpha, nMax) => {
        const s = sequentialSchedule(h, alpha, nMax);
        expect(s.length).toBeGreaterThanOrEqual(1);
        expect(s[s.length - 1]!.n).toBe(nMax);
        for (let k = 1; k < s.length; k++) {
          expect(s[k]!.n).toBeGreaterThan(s[k - 1]!.n);
          expect(s[k]!.n).toBeLessThanOrEqual(2 * s[k - 1]!.n); // ratio 2
        }
        for (const l of s) expect(l.level).toBeGreaterThan(0);
        expect(sumInOrder(s.map((l) => l.level))).toBeLessThanOrEqual(alpha);
        // the levels are the ends spending, not some smaller split
        expect(sumInOrder(s.map((l) => l.level))).toBeGreaterThan(alpha * (1 - 1e-9));
        if (s.length > 1) {
          // the first look can certify at its own level, the size before it could not
          expect(Math.pow(alpha / 3, 1 / s[0]!.n)).toBeGreaterThan(h);
          if (s[0]!.n > 1) expect(Math.pow(alpha / 3, 1 / (s[0]!.n - 1))).toBeLessThanOrEqual(h);
        } else {
          expect(s[0]!.level).toBe(alpha);
        }
      }),
    );
  });

  it('K = 1 is the fixed rule exactly: certified iff CP lower(nA, n_max, alpha) > max(h, 1/2), else abstained', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.9, max: 1, noNaN: true }), fc.integer({ min: 1, max: 150 }), fc.double({ min: 1e-6, max: 0.05, noNaN: true }), (h, nMax, alpha) => {
        const s = sequentialSchedule(h, alpha, nMax);
        fc.pre(s.length === 1);
        for (let nA = 0; nA <= nMax; nA++) {
          const d = decideAtLook(s, 0, nA, h);
          const fixed = clopperPearsonLower(nA, nMax, alpha);
          expect(d.stop).toBe(true);
          expect(d.paLower).toBe(fixed);
          expect(d.stop && d.reason).toBe(fixed > Math.max(h, 0.5) ? 'certified' : 'last-look');
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('decideAtLook', () => {
  const h = 0.9088;
  const s = sequentialSchedule(h, ALPHA, 1000);

  it('certifies at the first look when all 84 samples agree, with the look level', () => {
    const d = decideAtLook(s, 0, 84, h);
    expect(d).toEqual({ stop: true, reason: 'certified', paLower: Math.pow(ALPHA / 3, 1 / 84) });
    // 83 of 84 cannot certify at alpha/3, and is neither futile
    expect(decideAtLook(s, 0, 83, h).stop).toBe(false);
  });

  it('futility by the upper bound: CP upper at beta below h_eff', () => {
    // 60 of 84 = 0.714: the upper bound at 0.001 is ~0.84 < 0.9088
    expect(clopperPearsonUpper(60, 84, 0.001)).toBeLessThan(h);
    expect(decideAtLook(s, 0, 60, h)).toMatchObject({ stop: true, reason: 'futility-upper' });
    // a larger beta stops more, a tiny one less
    const c = 72;
    expect(clopperPearsonUpper(c, 84, 1e-9)).toBeGreaterThan(h);
    expect(decideAtLook(s, 0, c, h, 1e-9).stop).toBe(false);
  });

  it('futility by unreachability: no later look could certify even if every later sample were cA', () => {
    // look 4 (672) -> only the last look (1000, alpha/3) remains
    let futile = -1;
    for (let nA = 672; nA >= 0; nA--) {
      if (!canCertifyLater(s, 3, nA, h)) {
        futile = nA;
        break;
      }
    }
    expect(futile).toBeGreaterThan(0);
    // brute force: at the last look, no count reachable from `futile` certifies
    for (let x = futile; x <= futile + 328; x++) expect(clopperPearsonLower(x, 1000, ALPHA / 3)).toBeLessThanOrEqual(h);
    expect(clopperPearsonLower(futile + 1 + 328, 1000, ALPHA / 3)).toBeGreaterThan(h);
    // where the upper bound is still above h: only the second rule stops it
    if (clopperPearsonUpper(futile, 672, 0.001) >= h) expect(decideAtLook(s, 3, futile, h)).toMatchObject({ stop: true, reason: 'futility-unreachable' });
    expect(decideAtLook(s, 3, futile + 1, h).stop).toBe(false);
  });

  it('the last look abstains when it does not certify', () => {
    expect(decideAtLook(s, 4, 900, h)).toMatchObject({ stop: true, reason: 'last-look' });
    expect(decideAtLook(s, 4, 990, h)).toMatchObject({ stop: true, reason: 'certified' });
  });

  it('every certification is a Clopper-Pearson lower bound at the look level above h_eff (futility only removes certifications)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.5, max: 0.999, noNaN: true }), fc.integer({ min: 50, max: 3000 }), fc.double({ min: 0.5, max: 1, noNaN: true }), fc.integer(), (hh, nMax, p, seed) => {
        const sched = sequentialSchedule(hh, ALPHA, nMax);
        // one Bernoulli path, nested counts
        let state = seed >>> 0;
        const bits: number[] = [];
        for (let i = 0; i < nMax; i++) {
          state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
          bits.push(state / 2 ** 32 < p ? 1 : 0);
        }
        const countAt = (n: number): number => bits.slice(0, n).reduce((a, b) => a + b, 0);
        const out = runSequential(sched, hh, countAt);
        expect(out.n).toBe(sched[out.look]!.n);
        expect(out.nA).toBe(countAt(out.n));
        if (out.reason === 'certified') {
          expect(clopperPearsonLower(out.nA, out.n, sched[out.look]!.level)).toBeGreaterThan(hh);
        }
        // without futility (beta -> 0 and every look run), a certification happens at the same look
        let plain = -1;
        for (let k = 0; k < sched.length; k++) {
          if (clopperPearsonLower(countAt(sched[k]!.n), sched[k]!.n, sched[k]!.level) > hh) {
            plain = k;
            break;
          }
        }
        if (out.reason === 'certified') expect(plain).toBe(out.look);
        else expect(out.look).toBeLessThanOrEqual(plain < 0 ? sched.length - 1 : plain);
      }),
      { numRuns: 60 },
    );
  });

  it('refuses a look outside the schedule', () => {
    expect(() => decideAtLook(s, 5, 1, h)).toThrow(RangeError);
    expect(() => decideAtLook(s, -1, 1, h)).toThrow(RangeError);
  });
});

describe('adaptive selection', () => {
  it('stops after 32 samples when >= 95 % agree, goes on below', () => {
    expect(selectionDone([0, 32], 32, 200)).toBe(true);
    expect(selectionDone([1, 31], 32, 200)).toBe(true); // 96.9 %
    expect(selectionDone([2, 30], 32, 200)).toBe(false); // 93.75 %
    expect(selectionDone([3, 61], 64, 200)).toBe(true); // 95.3 %
    expect(selectionDone([4, 60], 64, 200)).toBe(false); // 93.75 %
    expect(selectionDone([16, 0], 16, 200)).toBe(false); // fewer than 32 drawn
    expect(selectionDone([100, 100], 200, 200)).toBe(true); // n0_max
    expect(selectionDone([19, 1], 20, 20)).toBe(true);
  });

  it('blocks of 32, the last one cut at n0_max', () => {
    expect(nextSelectionBlock(0, 200)).toBe(32);
    expect(nextSelectionBlock(192, 200)).toBe(8);
    expect(nextSelectionBlock(200, 200)).toBe(0);
    expect(nextSelectionBlock(0, 10)).toBe(10);
  });

  it('selectionStopValid: whole blocks or n0_max, counts summing to n0, the stop condition met', () => {
    expect(selectionStopValid([0, 32], 32, 200)).toBe(true);
    expect(selectionStopValid([0, 33], 33, 200)).toBe(false); // not a block boundary
    expect(selectionStopValid([10, 22], 32, 200)).toBe(false); // would have gone on
    expect(selectionStopValid([100, 100], 200, 200)).toBe(true);
    expect(selectionStopValid([0, 31], 32, 200)).toBe(false); // counts do not sum to n0
    expect(selectionStopValid([0, 256], 256, 200)).toBe(false); // over n0_max
  });
});
