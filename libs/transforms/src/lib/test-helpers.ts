// Test-only helpers (not exported from the package): a small seeded generator so Monte Carlo
// tests are reproducible without depending on @glcert/stats.

/** mulberry32: a 32-bit seeded uniform generator on (0, 1). */
export function uniformSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 0.5) / 4294967296;
  };
}

/** Standard normals by Box-Muller on a seeded uniform source. */
export function normalSource(seed: number): () => number {
  const u = uniformSource(seed);
  let spare = NaN;
  return () => {
    if (!Number.isNaN(spare)) {
      const v = spare;
      spare = NaN;
      return v;
    }
    const r = Math.sqrt(-2 * Math.log(u()));
    const th = 2 * Math.PI * u();
    spare = r * Math.sin(th);
    return r * Math.cos(th);
  };
}

/** A random float32 CHW image with values in [lo, hi). */
export function randomImage(seed: number, n: number, lo = 0, hi = 1): Float32Array {
  const u = uniformSource(seed);
  const img = new Float32Array(n);
  for (let i = 0; i < n; i++) img[i] = lo + (hi - lo) * u();
  return img;
}
