// Soundness simulation (issue 7 part 3): synthetic base classifiers with known smoothed
// probability pA, binomial counts from the counter-based generator, the section-6 verdict
// (Clopper-Pearson lower bound + `certifies`). A certificate is false when pA <= threshold and the
// verdict certifies; its rate must not exceed alpha. The full table with wider grids:
// `node --import tsx tools/soundness/simulate.ts --json`.

import { clopperPearsonLower } from '@glcert/stats';

import { cpVerdict, formatSoundnessTable, nullCellTest, simulateSoundness } from './lib/soundness';

const PAS = [0.9, 0.95, 0.99, 0.995, 0.999];
const ALPHAS = [1e-3, 1e-2, 5e-2];
const N = 1000;
const REPS = 2000;

describe('soundness of the verdict rule (synthetic classifiers, known pA)', () => {
  const cells = simulateSoundness({ pAs: PAS, alphas: ALPHAS, n: N, replications: REPS, seed: 2024n });

  it('covers at least 1e5 certifications over the grid, with nulls at the boundary pA = threshold', () => {
    const total = cells.reduce((s, c) => s + c.replications, 0);
    expect(total).toBeGreaterThanOrEqual(1e5);
    for (const pA of PAS) for (const alpha of ALPHAS) expect(cells.some((c) => c.pA === pA && c.threshold === pA && c.alpha === alpha)).toBe(true);
    process.stdout.write(`${formatSoundnessTable(cells.filter((c) => c.nullCell && c.threshold === c.pA))}\n`);
  });

  it('false certificates: exact rate <= alpha, and the observed rate is not significantly above alpha in any cell', () => {
    const nulls = cells.filter((c) => c.nullCell);
    expect(nulls.length).toBeGreaterThan(30);
    // one-sided Clopper-Pearson at 1e-3 / cells (Bonferroni): the lower bound of the false rate
    const level = 1e-3 / nulls.length;
    for (const c of nulls) {
      expect(c.exactRate).toBeLessThanOrEqual(c.alpha);
      expect(clopperPearsonLower(c.falseCertificates, c.replications, level)).toBeLessThanOrEqual(c.alpha);
    }
    // the boundary cells at alpha = 5e-2 have real power: the false rate there is close to alpha
    const boundary = nulls.filter((c) => c.threshold === c.pA && c.alpha === 5e-2 && c.pA <= 0.95);
    for (const c of boundary) expect(c.exactRate).toBeGreaterThan(0.02);
  });

  it('nullCellTest (the verdict the simulations report) agrees, and flags an exact or a significant excess', () => {
    const test = nullCellTest(cells);
    expect(test.violations).toEqual([]);
    expect(test.level).toBe(1e-3 / cells.filter((c) => c.nullCell).length);
    const cell = { nullCell: true, alpha: 1e-3, replications: 20000, falseCertificates: 0, rate: 0, exactRate: 0 };
    expect(nullCellTest([cell]).violations).toEqual([]);
    const exactOver = { ...cell, exactRate: 1.01e-3 };
    const observedOver = { ...cell, falseCertificates: 60, rate: 3e-3 }; // 60 / 20000 is far above 1e-3
    expect(nullCellTest([cell, exactOver, observedOver]).violations).toEqual([exactOver, observedOver]);
    expect(nullCellTest([{ ...observedOver, nullCell: false }]).violations).toEqual([]);
  });

  it('the simulation agrees with the exact binomial rates (it samples what it claims)', () => {
    for (const c of cells) {
      expect(c.exactRate).toBeGreaterThanOrEqual(c.ciLower);
      expect(c.exactRate).toBeLessThanOrEqual(c.ciUpper);
    }
    // and certifies where it should: pA well above the threshold
    const easy = cells.find((c) => c.pA === 0.9 && c.threshold < 0.75 && c.alpha === 1e-3)!;
    expect(easy.rate).toBe(1);
  });

  it('has the power to catch an unsound rule (the point estimate nA/n instead of a lower bound)', () => {
    const naive = simulateSoundness({
      pAs: [0.9, 0.95],
      alphas: [5e-2],
      thresholds: (pA) => [pA],
      n: N,
      replications: REPS,
      seed: 7n,
      rule: (nA, n, _alpha, h) => nA / n > Math.max(h, 0.5),
    });
    for (const c of naive) expect(clopperPearsonLower(c.falseCertificates, c.replications, 1e-6)).toBeGreaterThan(c.alpha);
  });

  it('the verdict is the section-6 rule', () => {
    expect(cpVerdict(1000, 1000, 1e-3, 0.99)).toBe(true); // 0.001^(1/1000) = 0.99312
    expect(cpVerdict(1000, 1000, 1e-3, 0.995)).toBe(false);
    expect(cpVerdict(600, 1000, 1e-3, 0.3)).toBe(true); // max(h, 1/2)
    expect(cpVerdict(520, 1000, 1e-3, 0.3)).toBe(false);
  });
});
