import { GAUSS_NODES, GAUSS_WEIGHTS } from './gauss-legendre';

function integrate(f: (t: number) => number): number {
  let s = 0;
  for (let i = 0; i < GAUSS_NODES.length; i++) s += GAUSS_WEIGHTS[i] * f(GAUSS_NODES[i]);
  return s;
}

describe('8-node Gauss-Legendre on [0, 1]', () => {
  it('has nodes inside (0, 1), ascending and symmetric, and weights summing to 1', () => {
    expect(GAUSS_NODES).toHaveLength(8);
    for (let i = 0; i < 8; i++) {
      expect(GAUSS_NODES[i]).toBeGreaterThan(0);
      expect(GAUSS_NODES[i]).toBeLessThan(1);
      if (i > 0) expect(GAUSS_NODES[i]).toBeGreaterThan(GAUSS_NODES[i - 1]);
      expect(GAUSS_NODES[i] + GAUSS_NODES[7 - i]).toBeCloseTo(1, 15);
      expect(GAUSS_WEIGHTS[i]).toBeCloseTo(GAUSS_WEIGHTS[7 - i], 15);
    }
    expect(integrate(() => 1)).toBeCloseTo(1, 14);
  });

  it('is exact for polynomials up to degree 15', () => {
    for (let deg = 0; deg <= 15; deg++) expect(integrate((t) => t ** deg)).toBeCloseTo(1 / (deg + 1), 14);
    // degree 16 is the first one it misses
    expect(Math.abs(integrate((t) => t ** 16) - 1 / 17)).toBeGreaterThan(1e-12);
  });

  it('integrates the contrast path integrand 1/k to near machine precision', () => {
    // G for contrast: integral of 1/(1 + t (k - 1)) dt = ln k / (k - 1)
    for (const k of [0.5, 0.6, 1.4, 2]) expect(integrate((t) => 1 / (1 + t * (k - 1)))).toBeCloseTo(Math.log(k) / (k - 1), 9);
  });
});
