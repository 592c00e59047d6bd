// CI share of the sequential rule's soundness simulation (the full grid, n_max up to 10000:
// `node --import tsx tools/soundness/simulate.ts --sequential`).
import { simulateSoundness } from '@glcert/bounds';
import { clopperPearsonLower, decideAtLook, sequentialSchedule, type Look } from '@glcert/stats';
import { nullCellTest } from '@glcert/bounds';
import { formatSequentialTable, lookThresholds, simulateSequentialSoundness } from './sequential-soundness';

const H = [0.6, 0.9088, 0.9557, 0.99];
const N_MAX = [1000, 2000];
const ALPHAS = [1e-3, 5e-2];
const REPS = 2000;

function cellsOf(hs: readonly number[], nMaxes: readonly number[]) {
  const cells: { pA: number; hEff: number; nMax: number }[] = [];
  for (const hEff of hs) {
    for (const nMax of nMaxes) {
      // the boundary (hardest null), just below it, and a true one above
      for (const pA of [hEff, hEff - (1 - hEff) / 4, hEff + (1 - hEff) / 2]) cells.push({ pA, hEff, nMax });
    }
  }
  return cells;
}

describe('soundness of the sequential rule (synthetic classifiers, known pA)', () => {
  const cells = simulateSequentialSoundness({ cells: cellsOf(H, N_MAX), alphas: ALPHAS, replications: REPS, seed: 2026n });

  it('the two thresholds per look are decideAtLook at every count', () => {
    for (const [h, nMax, alpha] of [
      [0.9088, 1000, 1e-3],
      [0.6, 500, 5e-2],
    ] as const) {
      const s = sequentialSchedule(h, alpha, nMax);
      const th = lookThresholds(s, h, 1e-3);
      th.forEach((t, k) => {
        for (let nA = 0; nA <= t.n; nA++) {
          const d = decideAtLook(s, k, nA, h);
          const want = nA >= t.certifyAt ? 'certified' : nA < t.continueFrom ? 'stop' : 'go on';
          expect(d.stop ? (d.reason === 'certified' ? 'certified' : 'stop') : 'go on').toBe(want);
        }
      });
    }
  });

  it('false certificates: exact rate <= alpha, observed rate not significantly above alpha, in every null cell', () => {
    const nulls = cells.filter((c) => c.nullCell);
    expect(nulls.length).toBe(H.length * N_MAX.length * 2 * ALPHAS.length);
    const { violations } = nullCellTest(cells);
    if (violations.length > 0) process.stdout.write(`${formatSequentialTable(violations)}\n`);
    expect(violations).toEqual([]);
    // the boundary cells at alpha = 5e-2 have real power: the false rate there is not negligible
    for (const c of nulls.filter((x) => x.pA === x.hEff && x.alpha === 5e-2 && x.hEff >= 0.9)) expect(c.exactRate).toBeGreaterThan(0.005);
  });

  it('the simulation agrees with the exact rates (it samples what it claims)', () => {
    for (const c of cells) {
      expect(c.exactRate).toBeGreaterThanOrEqual(c.ciLower);
      expect(c.exactRate).toBeLessThanOrEqual(c.ciUpper);
    }
  });

  it('the exact propagation equals the fixed rule exact rate when the schedule has one look', () => {
    const one = (_h: number, alpha: number, nMax: number): Look[] => [{ n: nMax, level: alpha }];
    const seq = simulateSequentialSoundness({ cells: [{ pA: 0.95, hEff: 0.95, nMax: 1000 }], alphas: [5e-2], replications: 10, schedule: one });
    const fixed = simulateSoundness({ pAs: [0.95], alphas: [5e-2], thresholds: () => [0.95], n: 1000, replications: 10 });
    expect(seq[0]!.exactRate).toBeCloseTo(fixed[0]!.exactRate, 12);
    expect(seq[0]!.meanSamples).toBe(1000);
  });

  it('has the power to catch an unsound rule (every look at the full alpha, no spending)', () => {
    const greedy = (h: number, alpha: number, nMax: number): Look[] => sequentialSchedule(h, alpha, nMax).map((l) => ({ n: l.n, level: alpha }));
    const bad = simulateSequentialSoundness({
      cells: [0.9088, 0.9557].map((h) => ({ pA: h, hEff: h, nMax: 2000 })),
      alphas: [5e-2],
      replications: REPS,
      seed: 7n,
      schedule: greedy,
    });
    for (const c of bad) {
      expect(c.exactRate).toBeGreaterThan(c.alpha);
      expect(clopperPearsonLower(c.falseCertificates, c.replications, 1e-6)).toBeGreaterThan(c.alpha);
    }
  });

  it('pays fewer samples where the answer is clear: pA well above h_eff stops early', () => {
    const clear = simulateSequentialSoundness({ cells: [{ pA: 0.999, hEff: 0.9088, nMax: 1000 }], alphas: [1e-3], replications: REPS });
    expect(clear[0]!.rate).toBeGreaterThan(0.9);
    expect(clear[0]!.meanSamples).toBeLessThan(120); // most stop at the first look, 84
    // a clear null (pA far below h_eff) stops early too, by futility
    const futile = simulateSequentialSoundness({ cells: [{ pA: 0.7, hEff: 0.9088, nMax: 1000 }], alphas: [1e-3], replications: REPS });
    expect(futile[0]!.certified).toBe(0);
    expect(futile[0]!.meanSamples).toBeLessThan(200);
  });
});
