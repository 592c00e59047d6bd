import { TRANSFORMS, TRANSFORM_KEYS } from '@glcert/transforms';
import type { TransformSpec } from '@glcert/transforms';

import { genericEta, kernelFor, linearEta } from './score-kernels';

// The fast kernels restate ALGORITHM.md section 3 as features x coefficients; the transform
// specs' `score` is the reference they must agree with, sample by sample.

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomBeta(spec: TransformSpec, u: () => number): number[] {
  return spec.params.map((p) => {
    switch (p) {
      case 'k':
      case 'g':
        return 0.3 + 2 * u();
      case 'r':
        return 3 * u();
      case 'tx':
      case 'ty':
        return Math.round(40 * u() - 20);
      default:
        return u() - 0.5;
    }
  });
}

describe('score kernels agree with TransformSpec.score', () => {
  it.each(TRANSFORM_KEYS.map((k) => [k]))('%s', (key) => {
    const spec = TRANSFORMS[key];
    const kernel = kernelFor(spec);
    expect(kernel.kind).toBe('linear');
    if (kernel.kind !== 'linear') return;
    const rnd = mulberry(key.length * 7919 + key.charCodeAt(0));
    const ns = 500;
    const dim = spec.normalsPerSample;
    const z = new Float64Array(ns * dim);
    for (let i = 0; i < z.length; i++) z[i] = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    const sigma = spec.params.map(() => 0.1 + rnd());
    const F = new Float64Array(kernel.features * ns);
    kernel.fill(z, ns, dim, sigma, F);
    const rows = Array.from({ length: ns }, (_, i) => z.subarray(i * dim, (i + 1) * dim));
    const c = new Float64Array(kernel.features);
    const fast = new Float64Array(ns);
    const reference = new Float64Array(ns);
    for (let trial = 0; trial < 20; trial++) {
      const beta = randomBeta(spec, rnd);
      const u = spec.params.map(() => rnd() * 2 - 1);
      kernel.coefficients(beta, u, c);
      linearEta(F, ns, c, fast);
      genericEta(spec, rows, sigma, beta, u, new Float64Array(spec.params.length), reference);
      let worst = 0;
      for (let i = 0; i < ns; i++) worst = Math.max(worst, Math.abs(fast[i] - reference[i]) / (1 + Math.abs(reference[i])));
      expect(worst).toBeLessThanOrEqual(1e-9);
    }
  });

  // numeric.ts bounds the path integral by a chord only where c moves along a segment of c-space
  // (c(t) = A s(t) + B, s = 1/beta_j, or c constant) on every path from the identity.
  it.each(TRANSFORM_KEYS.map((k) => [k]))('%s: the declared path segment holds', (key) => {
    const spec = TRANSFORMS[key];
    const kernel = kernelFor(spec);
    if (kernel.kind !== 'linear' || kernel.segment === null) return;
    const segment = kernel.segment;
    const rnd = mulberry(key.length * 104729 + key.charCodeAt(0));
    const nf = kernel.features;
    const at = (beta: number[], u: number[]) => {
      const c = new Float64Array(nf);
      kernel.coefficients(beta, u, c);
      return c;
    };
    for (let trial = 0; trial < 20; trial++) {
      const end = randomBeta(spec, rnd);
      const delta = end.map((v, i) => v - spec.identity[i]);
      const len = Math.hypot(...delta);
      if (len === 0) continue;
      const u = delta.map((v) => v / len);
      const c0 = at(spec.identity.slice(), u);
      const c1 = at(end, u);
      for (const t of [0.1, 0.37, 0.5, 0.81]) {
        const beta = spec.identity.map((b, i) => b + t * delta[i]);
        const ct = at(beta, u);
        for (let f = 0; f < nf; f++) {
          if (segment === 'constant') {
            expect(ct[f]).toBeCloseTo(c0[f], 12);
          } else {
            const j = segment.reciprocal;
            const s = (b: number) => 1 / b;
            if (delta[j] === 0) expect(ct[f]).toBeCloseTo(c0[f], 12);
            else {
              const lambda = (s(beta[j]) - s(spec.identity[j])) / (s(end[j]) - s(spec.identity[j]));
              expect(ct[f]).toBeCloseTo(c0[f] + lambda * (c1[f] - c0[f]), 10);
            }
          }
        }
      }
    }
  });

  it('gc is not a segment (its path integral keeps Gauss-Legendre)', () => {
    const k = kernelFor(TRANSFORMS.gc);
    expect(k.kind === 'linear' && k.segment).toBeNull();
  });

  it('falls back to the generic kernel for a transform it does not know', () => {
    expect(kernelFor({ ...TRANSFORMS.b, key: 'unknown' } as unknown as TransformSpec).kind).toBe('generic');
  });
});
