// npm run bench:bounds: time the GL bound solver (ALGORITHM.md section 4) on the two reference
// threat models and print one JSON object. Single-threaded; run on an idle machine and compare
// ratios, not absolute numbers, across machines.
//
//   cb: k in [0.6, 1.4] (35 points), b in [-0.4, 0.4] (31 points), sigma 0.3 / 0.3, ns 20000
//   bt: b in [-0.2, 0.2], tx, ty in [-56, 56] (11 points each), sigma 0.4 / 30 / 30, ns 20000
//
// "scoreEvaluations" counts ns x (beta, u) pairs the bound integrates over; "sortedEvaluations"
// the pairs that needed their own eta and sort (the solver reuses a (M, shape) pair when the
// score coefficients only rescale, e.g. the 8 nodes of one path for additive transforms).

import { cpus } from 'node:os';

import { solveBound } from '@glcert/bounds';
import type { BoundRequest } from '@glcert/bounds';

const CASES: Record<string, BoundRequest> = {
  cb: {
    transform: 'cb',
    box: { k: [0.6, 1.4], b: [-0.4, 0.4] },
    sigma: { k: 0.3, b: 0.3 },
    grid: [35, 31],
    ns: 20000,
    method: 'numeric',
  },
  bt: {
    transform: 'bt',
    box: { b: [-0.2, 0.2], tx: [-56, 56], ty: [-56, 56] },
    sigma: { b: 0.4, tx: 30, ty: 30 },
    grid: [11, 11, 11],
    ns: 20000,
    method: 'auto',
  },
};

function main(): void {
  const only = process.argv.slice(2);
  const results: Record<string, unknown> = {};
  for (const [name, request] of Object.entries(CASES)) {
    if (only.length > 0 && !only.includes(name)) continue;
    const r = solveBound(request);
    const sorted = r.distinctEvaluations * r.ns;
    results[name] = {
      threshold: r.threshold,
      method: r.method,
      numericThreshold: r.numericThreshold ?? null,
      closedFormThreshold: r.closedFormThreshold ?? null,
      certifiable: r.certifiable,
      seconds: Number(r.seconds.toFixed(3)),
      attackPoints: r.attackPoints,
      scoreEvaluations: r.scoreEvaluations,
      scoreEvaluationsPerSecond: Math.round(r.scoreEvaluations / r.seconds),
      sortedEvaluations: sorted,
      sortedEvaluationsPerSecond: Math.round(sorted / r.seconds),
      ns: r.ns,
      grid: r.grid,
      seed: r.seed,
    };
  }
  const out = {
    bench: 'bounds',
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    threads: 1,
    results,
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main();
