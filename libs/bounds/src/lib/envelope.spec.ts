import { ShapeEnvelope } from './envelope';

// A worked case with an exact answer: eta uniform on [-1, 1]. Its upper-quantile integral is
// B(q) = q - q^2, so M = 1/4, P(q) = 4 q (1 - q), Xi(q) = (1/4) ln(q / (1 - q)) and
// Xi(1/2) - Xi(1 - pA) >= G  <=>  pA >= 1 / (1 + exp(-4 G)).
function uniformEnvelope(ns: number): ShapeEnvelope {
  const eta = new Float64Array(ns);
  for (let i = 0; i < ns; i++) eta[i] = -1 + (2 * i + 1) / ns; // midpoint quantiles: B exact on the grid
  const env = new ShapeEnvelope(ns);
  const h = env.h;
  let positive = 0;
  for (const v of eta) if (v > 0) positive += v;
  env.add(eta.subarray(ns - h), positive);
  return env;
}
const logistic = (x: number) => 1 / (1 + Math.exp(-x));

describe('ShapeEnvelope', () => {
  it('reproduces the exact threshold of a uniform score, never below it', () => {
    const env = uniformEnvelope(20000);
    expect(env.cell[env.h - 1]).toBeCloseTo(1, 12);
    expect(env.cell[4999]).toBeCloseTo(4 * 0.25 * 0.75, 12); // sup over [0.24995, 0.25]
    for (const G of [0.1, 0.5, Math.log(19) / 4, 1, 1.5]) {
      const exact = logistic(4 * G);
      const { threshold, certifiable } = env.threshold(G);
      expect(certifiable).toBe(true);
      expect(threshold).toBeGreaterThanOrEqual(exact);
      expect(threshold - exact).toBeLessThan(1e-3);
    }
  });

  it('is monotone in G, gives 1 - h/ns at G = 0, and 1 (not certifiable) beyond Xi(1/2)', () => {
    const env = uniformEnvelope(2000);
    expect(env.threshold(0)).toEqual({ threshold: 0.5, certifiable: true });
    let last = 0.5;
    for (let G = 0.05; G < env.xiHalf(); G += 0.05) {
      const t = env.threshold(G).threshold;
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
    expect(env.threshold(env.xiHalf() * 1.0001)).toEqual({ threshold: 1, certifiable: false });
    expect(env.threshold(Infinity)).toEqual({ threshold: 1, certifiable: false });
  });

  it('keeps the cellwise maximum of the shapes added (the larger end of each cell)', () => {
    const env = new ShapeEnvelope(4); // h = 2
    env.add(Float64Array.of(1, 3), 4); // B = 3, 4 -> P = 0.75, 1 -> cells 0.75, 1
    expect(Array.from(env.cell)).toEqual([0.75, 1]);
    env.add(Float64Array.of(0, 2), 2); // B = 2, 2 -> P = 1, 1
    expect(Array.from(env.cell)).toEqual([1, 1]);
    expect(env.shapes).toBe(2);
  });

  it('a band shape: every cell holds the supremum of min_k (a_k + w_k q)/M over the cell', () => {
    // tangent lines of B(q) = q - q^2 (uniform eta) at q = 0.1, 0.25, 0.5, and w = 0
    const tangents = [0.1, 0.25, 0.5].map((q) => ({ w: 1 - 2 * q, a: q * q }));
    const w = Float64Array.from([...tangents.map((t) => t.w), 0]);
    const a = Float64Array.from([...tangents.map((t) => t.a), 0.25]);
    const env = new ShapeEnvelope(200);
    env.addBand({ w, a, M: 0.25 });
    for (let j = 0; j < env.h; j++) {
      for (const f of [0, 0.3, 0.7, 1]) {
        const q = (j + f) / 200;
        let band = Infinity;
        for (let k = 0; k < w.length; k++) band = Math.min(band, a[k] + w[k] * q);
        expect(env.cell[j] * 0.25).toBeGreaterThanOrEqual(band - 1e-15);
        expect(env.cell[j] * 0.25).toBeGreaterThanOrEqual(q - q * q - 1e-15); // the band bounds B
      }
    }
    // an upper band can only raise the threshold over the exact shape
    const exact = uniformEnvelope(200);
    expect(env.threshold(0.3).threshold).toBeGreaterThanOrEqual(exact.threshold(0.3).threshold);
  });

  it('a larger envelope p gives a larger threshold (less certified)', () => {
    const a = uniformEnvelope(1000);
    const b = uniformEnvelope(1000);
    b.add(Float64Array.from({ length: 500 }, (_, i) => (i === 499 ? 1 : 0)), 1); // one spike: P = 1 everywhere
    expect(b.cell[0]).toBe(1);
    expect(b.threshold(0.2).threshold).toBeCloseTo(0.7, 12); // Xi(q) = q: 1/2 - q* = 0.2
    expect(b.threshold(0.2).threshold).toBeGreaterThan(a.threshold(0.2).threshold);
  });
});
