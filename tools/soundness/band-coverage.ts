// Checks of the bound solver's upper band on g(w) = E[(eta - w)^+] (libs/bounds band.ts,
// conditional.ts) against independently computed exact values.
//
// 1. Monte Carlo band (used for the blur score r and for transforms without a kernel): draw many
//    independent samples in the solver's layout (estimation counters [0, ns), pilot [ns, ...)),
//    build the band at a per-level nominal failure rate alpha (the solver uses alpha ~ 1e-8 to
//    1e-11 per level; here alpha is large enough for failures to be seen), and count levels whose
//    bound falls below the exact g(w_k). The rate must not exceed alpha (one-sided 95% test).
// 2. Deterministic bounds (closed forms and strata, used for b, c, t, bt, ct, g, cb, cbt, gc):
//    over many directions and levels, the bound must be >= the exact g(w), and close to it.
//
//   node --import tsx tools/soundness/band-coverage.ts [--reps 1000] [--ns 20000] [--json]

import { bandLevels, conditionalSampler, lawExcess, pilotSize, upperBand } from '@glcert/bounds';
import { clopperPearsonLower, clopperPearsonUpper, fillNormals, normalCdf, normalPdf, normalQuantile } from '@glcert/stats';
import { TRANSFORMS } from '@glcert/transforms';

const psi = (x: number) => x * normalCdf(x) + normalPdf(x);

/** Composite Simpson on [a, b] with n (even) panels. */
function simpson(f: (x: number) => number, a: number, b: number, n: number): number {
  const h = (b - a) / n;
  let s = f(a) + f(b);
  for (let i = 1; i < n; i++) s += (i % 2 === 1 ? 4 : 2) * f(a + i * h);
  return (s * h) / 3;
}

// Exact g(w) of the laws below, by closed form or fine 1-D quadrature (independent of the solver).
const exactNormal = (sd: number) => (w: number) => sd * psi(-w / sd);
function exactExp(c: number) {
  // integrate only where c (2t^2 - 2) > w (no kink inside the panels); E = t^2
  return (w: number) => {
    const e0 = 1 + w / (2 * c); // the integrand is positive for E > e0 (c > 0) or E < e0 (c < 0)
    const f = (t: number) => (c * (2 * t * t - 2) - w) * Math.exp(-t * t) * 2 * t;
    if (c > 0) return simpson(f, Math.sqrt(Math.max(0, e0)), 9, 36000);
    return e0 <= 0 ? 0 : simpson(f, 0, Math.sqrt(e0), 36000);
  };
}
/** cb/cbt: eta | z0 ~ N(c0 z0/s0, (c1 e^(s0 z0)/s1)^2 + rest). */
function exactCb(c: number[], s: number[]) {
  let rest = 0;
  for (let f = 2; f < c.length; f++) rest += (c[f] / s[f]) ** 2;
  return (w: number) =>
    simpson(
      (z0) => {
        const m = (c[0] * z0) / s[0];
        const sd = Math.sqrt(((c[1] * Math.exp(s[0] * z0)) / s[1]) ** 2 + rest);
        return normalPdf(z0) * sd * psi((m - w) / sd);
      },
      -12,
      12,
      48000,
    );
}
/** gc: E = t^2 ~ Exp(1) (density 2t e^(-t^2) in t); eta | E ~ N(c0 (2E - 2), (c1 s0 sqrt(2E)/s1)^2). */
function exactGc(c: number[], s: number[]) {
  return (w: number) =>
    simpson(
      (t) => {
        const E = t * t;
        const m = c[0] * (2 * E - 2);
        const sd = (Math.abs(c[1]) * s[0] * Math.sqrt(2 * E)) / s[1];
        const y = sd > 0 ? sd * psi((m - w) / sd) : Math.max(0, m - w);
        return y * Math.exp(-E) * 2 * t;
      },
      0,
      9,
      36000,
    );
}
/** r: eta = c (R/s^2 - 1/R), R = s sqrt(2E), E = t^2. */
function exactBlur(c: number, s: number) {
  return (w: number) =>
    simpson(
      (t) => {
        if (t === 0) return 0;
        const R = s * Math.SQRT2 * t;
        return Math.max(0, c * (R / (s * s) - 1 / R) - w) * Math.exp(-t * t) * 2 * t;
      },
      0,
      9,
      72000,
    );
}

interface McCase {
  readonly name: string;
  readonly dim: number;
  readonly eta: (z: Float64Array, at: number) => number;
  readonly exact: (w: number) => number;
}

const unit = (v: number[]) => {
  const l = Math.hypot(...v);
  return v.map((x) => x / l);
};
const CB_DIR = unit([0.6, 0.8]);

const MC_CASES: McCase[] = [
  { name: 'normal (b)', dim: 1, eta: (z, at) => z[at] / 0.3, exact: exactNormal(1 / 0.3) },
  { name: 'exponential, c > 0 (g)', dim: 2, eta: (z, at) => z[at] ** 2 + z[at + 1] ** 2 - 2, exact: exactExp(1) },
  { name: 'exponential, c < 0 (g)', dim: 2, eta: (z, at) => -(z[at] ** 2 + z[at + 1] ** 2 - 2), exact: exactExp(-1) },
  {
    name: 'normal mixture (cb, c = (0.6, 0.8))',
    dim: 2,
    eta: (z, at) => (CB_DIR[0] * z[at]) / 0.3 + (CB_DIR[1] * z[at + 1] * Math.exp(0.3 * z[at])) / 0.3,
    exact: exactCb(CB_DIR, [0.3, 0.3]),
  },
  {
    name: 'blur score, c > 0 (r, s = 2)',
    dim: 2,
    eta: (z, at) => {
      const R = 2 * Math.hypot(z[at], z[at + 1]);
      return R / 4 - 1 / R;
    },
    exact: exactBlur(1, 2),
  },
  {
    name: 'blur score, c < 0 (r, s = 2)',
    dim: 2,
    eta: (z, at) => {
      const R = 2 * Math.hypot(z[at], z[at + 1]);
      return -(R / 4 - 1 / R);
    },
    exact: exactBlur(-1, 2),
  },
];

/** A lazily filled table of the convex decreasing g on a fine grid, read by linear interpolation. */
function convexTable(g: (w: number) => number): (w: number) => number {
  const step = 1 / 256;
  const cache = new Map<number, number>();
  const at = (i: number) => {
    let v = cache.get(i);
    if (v === undefined) {
      v = g(i * step);
      cache.set(i, v);
    }
    return v;
  };
  return (w) => {
    const u = w / step;
    const i = Math.floor(u);
    const f = u - i;
    return at(i) + f * (at(i + 1) - at(i));
  };
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

export interface CoverageRow {
  case: string;
  nominal: number;
  z: number;
  tests: number;
  violations: number;
  rate: number;
  cpLower95: number;
  cpUpper95: number;
  /** false when the rate is significantly (one-sided 95%) above nominal */
  ok: boolean;
}

export function monteCarloCoverage(reps: number, ns: number, alphas = [1e-2, 1e-3]): CoverageRow[] {
  const np = pilotSize(ns);
  const levels = bandLevels(ns);
  const rows: CoverageRow[] = [];
  for (const cs of MC_CASES) {
    const counts = alphas.map(() => ({ tests: 0, violations: 0 }));
    const zz = alphas.map((a) => -normalQuantile(a));
    const main = new Float64Array(ns * cs.dim);
    const pz = new Float64Array(np * cs.dim);
    const eta = new Float64Array(ns);
    const pilot = new Float64Array(np);
    // g is convex in w: a table with linear interpolation overestimates it, which can only
    // count more violations (a conservative check). Built lazily over the levels' range.
    const exact = convexTable(cs.exact);
    for (let rep = 0; rep < reps; rep++) {
      const seed = BigInt(100_000 + rep);
      fillNormals(seed, 2, 0, ns, cs.dim, main);
      fillNormals(seed, 2, ns, np, cs.dim, pz);
      for (let i = 0; i < ns; i++) eta[i] = cs.eta(main, i * cs.dim);
      for (let i = 0; i < np; i++) pilot[i] = cs.eta(pz, i * cs.dim);
      pilot.sort();
      pilot.reverse();
      alphas.forEach((_, ai) => {
        const band = upperBand({ law: null, eta, pilotDescending: pilot, levels, z: zz[ai] })!;
        for (let k = 0; k < band.w.length; k++) {
          counts[ai].tests++;
          if (band.a[k] < exact(band.w[k])) counts[ai].violations++;
        }
      });
    }
    alphas.forEach((alpha, ai) => {
      const { tests, violations } = counts[ai];
      const lower = clopperPearsonLower(violations, tests, 0.05);
      rows.push({
        case: cs.name,
        nominal: alpha,
        z: Number(zz[ai].toFixed(3)),
        tests,
        violations,
        rate: violations / tests,
        cpLower95: lower,
        cpUpper95: clopperPearsonUpper(violations, tests, 0.05),
        ok: lower <= alpha,
      });
    });
  }
  return rows;
}

export interface DeterministicRow {
  case: string;
  checks: number;
  /** min over levels of (bound - exact) / exact (must be >= 0) */
  minRelativeSlack: number;
  maxRelativeSlack: number;
  ok: boolean;
}

/** The deterministic bounds of conditional.ts vs independent quadrature, over directions and levels. */
export function deterministicChecks(ns: number): DeterministicRow[] {
  const rows: DeterministicRow[] = [];
  const dirs = [unit([1, 0.3]), unit([-1, 0.5]), unit([0.2, 1]), unit([0.5, -1]), unit([-0.3, -1])];
  const cases: { name: string; key: 'cb' | 'cbt' | 'gc' | 'r' | 'b' | 'g'; sigma: number[]; dirs: number[][]; exact: (c: number[], s: number[]) => (w: number) => number }[] = [
    { name: 'strata: cb (s 0.3/0.3)', key: 'cb', sigma: [0.3, 0.3], dirs, exact: exactCb },
    { name: 'strata: cb (s 0.6/0.6)', key: 'cb', sigma: [0.6, 0.6], dirs, exact: exactCb },
    { name: 'strata: cbt (s 0.3/0.3/15/15)', key: 'cbt', sigma: [0.3, 0.3, 15, 15], dirs: dirs.map((d) => unit([...d, 0.01, -0.02])), exact: exactCb },
    { name: 'strata: gc (s 0.1/0.3)', key: 'gc', sigma: [0.1, 0.3], dirs, exact: exactGc },
    { name: 'strata: r (s 2)', key: 'r', sigma: [2], dirs: [[1], [-1]], exact: (c, s) => exactBlur(c[0], s[0]) },
    { name: 'strata: r (s 0.5)', key: 'r', sigma: [0.5], dirs: [[1], [-1]], exact: (c, s) => exactBlur(c[0], s[0]) },
    { name: 'closed form: b', key: 'b', sigma: [0.3], dirs: [[1], [-1]], exact: (c, s) => exactNormal(Math.abs(c[0]) / s[0]) },
    { name: 'closed form: g', key: 'g', sigma: [0.1], dirs: [[1], [-1]], exact: (c) => exactExp(c[0]) },
  ];
  for (const cs of cases) {
    const sampler = conditionalSampler(TRANSFORMS[cs.key], ns, cs.sigma)!;
    let min = Infinity;
    let max = -Infinity;
    let checks = 0;
    for (const d of cs.dirs) {
      const law = sampler.law(Float64Array.from(d));
      const exact = cs.exact(d, cs.sigma);
      // levels around the law: w from -2 to +4 "sd" (g(0) = sd phi(0) for a normal law)
      const g0 = exact(0);
      const scale = 2.5 * g0;
      for (let k = -8; k <= 16; k++) {
        const w = (k / 4) * scale;
        const g = exact(w);
        // levels that matter: q >= ~50/ns, i.e. g(w) >= ~1e-3 g(0)
        if (!(g > 1e-3 * g0)) continue;
        const slack = (lawExcess(law, w) - g) / g;
        min = Math.min(min, slack);
        max = Math.max(max, slack);
        checks++;
      }
    }
    rows.push({ case: cs.name, checks, minRelativeSlack: min, maxRelativeSlack: max, ok: min >= -1e-9 });
  }
  return rows;
}

function main(): void {
  const reps = arg('reps', 1000);
  const ns = arg('ns', 20000);
  const json = process.argv.includes('--json');
  const det = deterministicChecks(ns);
  const mc = monteCarloCoverage(reps, ns);
  if (json) {
    process.stdout.write(`${JSON.stringify({ ns, pilot: pilotSize(ns), reps, deterministic: det, monteCarlo: mc }, null, 2)}\n`);
    return;
  }
  console.log(`deterministic bounds vs independent quadrature (ns = ${ns} strata): relative slack (bound - exact)/exact`);
  for (const r of det) console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.case.padEnd(32)} checks ${String(r.checks).padStart(4)}  min ${r.minRelativeSlack.toExponential(2)}  max ${r.maxRelativeSlack.toExponential(2)}`);
  console.log(`Monte Carlo band, per-level coverage over ${reps} replications (ns = ${ns})`);
  for (const r of mc) {
    console.log(
      `  ${r.ok ? 'ok  ' : 'FAIL'} ${r.case.padEnd(38)} nominal ${r.nominal.toExponential(0)}  observed ${r.rate.toExponential(2)} ` +
        `(${r.violations}/${r.tests}, 95% CI [${r.cpLower95.toExponential(2)}, ${r.cpUpper95.toExponential(2)}])`,
    );
  }
}

if (require.main === module) main();
