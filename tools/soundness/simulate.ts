// Soundness simulation of the certification verdict (issue 7 part 3, first bullet): synthetic
// base classifiers with KNOWN smoothed probability pA, nA ~ Binomial(n, pA) from the counter-
// based Philox generator, pA_lower = Clopper-Pearson lower bound at alpha, CERTIFIED iff
// pA_lower > max(threshold, 1/2). A certificate is false when pA <= threshold. Prints every cell
// with the observed rate, its Clopper-Pearson interval and the exact binomial rate, plus the same
// grid for an unsound rule (the point estimate nA/n) to show the simulation can see violations.
//
//   node --import tsx tools/soundness/simulate.ts [--json] [--reps 20000] [--n 1000] [--seed 2024]
//   node --import tsx tools/soundness/simulate.ts --sequential [--json] [--reps 20000] [--seed 2026]
//     the sequential rule (ALGORITHM.md section 9) over null cells pA = h_eff and just below,
//     h_eff in {0.6, 0.9088, 0.92135, 0.9557, 0.99}, n_max in {1000, 2000, 10000}; CI share:
//     libs/certificate/src/sequential-soundness.spec.ts
//
// The CI test (libs/bounds/src/soundness.spec.ts) runs a 2000-replication version in ~0.1 s.

import { formatSoundnessTable, nullCellTest, simulateSoundness } from '@glcert/bounds';
import { formatSequentialTable, simulateSequentialSoundness } from '@glcert/certificate';
import type { SoundnessCell } from '@glcert/bounds';
import { clopperPearsonLower, clopperPearsonUpper } from '@glcert/stats';

const PAS = [0.9, 0.95, 0.99, 0.995, 0.999];
const ALPHAS = [1e-3, 1e-2, 5e-2];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

function summarise(cells: readonly SoundnessCell[]) {
  const test = nullCellTest(cells);
  const rows = test.nulls.map((c) => ({
    ...c,
    oneSidedLower: clopperPearsonLower(c.falseCertificates, c.replications, test.level),
    oneSidedUpper: clopperPearsonUpper(c.falseCertificates, c.replications, 0.05),
  }));
  return { ...totals(cells.length, test), rows };
}

/** The totals both reports print, from the one false-certification test. */
function totals(cells: number, test: ReturnType<typeof nullCellTest>) {
  return {
    cells,
    nullCells: test.nulls.length,
    certifications: test.certifications,
    falseCertificates: test.falseCertificates,
    maxExactOverAlpha: test.maxExactOverAlpha,
    maxObservedOverAlpha: test.maxObservedOverAlpha,
    violations: test.violations.length,
    testLevel: test.level,
  };
}

const SEQ_H = [0.6, 0.9088, 0.92135, 0.9557, 0.99];
const SEQ_N_MAX = [1000, 2000, 10000];

function sequentialMain(json: boolean): void {
  const replications = Number(arg('reps', '20000'));
  const seed = BigInt(arg('seed', '2026'));
  const grid = [];
  for (const hEff of SEQ_H) for (const nMax of SEQ_N_MAX) for (const pA of [hEff, hEff - (1 - hEff) / 4, hEff + (1 - hEff) / 2]) grid.push({ pA, hEff, nMax });
  const started = performance.now();
  const cells = simulateSequentialSoundness({ cells: grid, alphas: ALPHAS, replications, seed });
  const summary = {
    simulation: 'soundness of the sequential rule (ALGORITHM.md section 9): looks of sequentialSchedule, decideAtLook with futility beta 1e-3',
    replicationsPerCell: replications,
    seed: seed.toString(),
    ...totals(cells.length, nullCellTest(cells)),
    seconds: Number(((performance.now() - started) / 1000).toFixed(2)),
  };
  if (json) {
    process.stdout.write(`${JSON.stringify({ ...summary, rows: cells }, null, 2)}\n`);
    return;
  }
  console.log(formatSequentialTable(cells));
  console.log(
    `null cells ${summary.nullCells}, false certificates ${summary.falseCertificates}, max exact/alpha ${summary.maxExactOverAlpha.toFixed(3)}, ` +
      `max observed/alpha ${summary.maxObservedOverAlpha.toFixed(3)}, cells significantly above alpha: ${summary.violations} (${summary.seconds} s)`,
  );
}

function main(): void {
  const json = process.argv.includes('--json');
  if (process.argv.includes('--sequential')) return sequentialMain(json);
  const replications = Number(arg('reps', '20000'));
  const n = Number(arg('n', '1000'));
  const seed = BigInt(arg('seed', '2024'));
  const started = performance.now();
  const cells = simulateSoundness({ pAs: PAS, alphas: ALPHAS, n, replications, seed });
  const naiveCells = simulateSoundness({
    pAs: PAS,
    alphas: ALPHAS,
    n,
    replications,
    seed: seed + 1n,
    rule: (nA, total, _alpha, h) => nA / total > Math.max(h, 0.5),
  });
  const sound = summarise(cells);
  const naive = summarise(naiveCells);
  const seconds = (performance.now() - started) / 1000;
  if (json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          simulation: 'soundness of the verdict rule (Clopper-Pearson lower bound, certified iff > max(h, 1/2))',
          n,
          replicationsPerCell: replications,
          seed: seed.toString(),
          pAs: PAS,
          alphas: ALPHAS,
          thresholds: 'per pA: pA - 2(1 - pA), pA - (1 - pA)/2, pA, pA + (1 - pA)/4, pA + (1 - pA)/2 (those in (1/2, 1))',
          intervals: 'rows: ciLower/ciUpper two-sided Clopper-Pearson at 1e-3; oneSidedLower at 1e-3/nullCells (a violation needs it > alpha); oneSidedUpper at 5%',
          seconds: Number(seconds.toFixed(2)),
          clopperPearson: sound,
          pointEstimateRule: { ...naive, rows: undefined, worst: naive.rows.sort((a, b) => b.rate / b.alpha - a.rate / a.alpha).slice(0, 5) },
        },
        null,
        2,
      )}\n`,
    );
    return;
  }
  console.log(`Clopper-Pearson verdict, n = ${n}, ${replications} replications per cell, ${sound.certifications} certifications (${seconds.toFixed(1)} s)`);
  console.log(formatSoundnessTable(cells));
  console.log(
    `null cells ${sound.nullCells}, false certificates ${sound.falseCertificates}, max exact/alpha ${sound.maxExactOverAlpha.toFixed(3)}, ` +
      `max observed/alpha ${sound.maxObservedOverAlpha.toFixed(3)}, cells significantly above alpha: ${sound.violations}`,
  );
  console.log(`unsound control (point estimate nA/n > h): cells significantly above alpha: ${naive.violations} of ${naive.nullCells}`);
}

main();
