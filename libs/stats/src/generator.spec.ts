import fc from 'fast-check';
import { GENERATOR_NAME, fillNormals, sampleNormals, seedKey, uniform53 } from './generator';
import { normalCdf } from './normal';
import { philox4x32_10 } from './philox';

// Independent restatement of the documented layout (BigInt counter split, array Philox).
function referenceSample(seed: bigint, stream: number, index: number, dim: number): number[] {
  const key = [Number(seed & 0xffffffffn), Number(seed >> 32n)];
  const idx = BigInt(index);
  const out: number[] = [];
  for (let j = 0; out.length < dim; j++) {
    const w = philox4x32_10([Number(idx & 0xffffffffn), Number(idx >> 32n), stream, j], key);
    const u = (hi: number, lo: number) => {
      const k = Math.floor(hi / 32) * 2 ** 26 + Math.floor(lo / 64);
      return k === 0 ? 2 ** -54 : k / 2 ** 53;
    };
    const r = Math.sqrt(-2 * Math.log(u(w[0], w[1])));
    const theta = 2 * Math.PI * u(w[2], w[3]);
    out.push(r * Math.cos(theta), r * Math.sin(theta));
  }
  return out.slice(0, dim);
}

const seedArb = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

describe('counter-based normals', () => {
  it('names the generator for certificates', () => {
    expect(GENERATOR_NAME).toBe('philox4x32-10/box-muller-53');
  });

  it('follows the documented layout, including indexes above 2^32 and odd dimensions', () => {
    for (const [seed, stream, index, dim] of [
      [0n, 0, 0, 4],
      [123456789012345678n, 1, 4294967295, 3],
      [(1n << 64n) - 1n, 7, 4294967296 * 5 + 17, 5],
      [42n, 0xffffffff, Number.MAX_SAFE_INTEGER, 1],
    ] as const) {
      const out = new Float64Array(dim);
      sampleNormals(seed, stream, index, dim, out);
      expect(Array.from(out)).toEqual(referenceSample(seed, stream, index, dim));
    }
  });

  it('gives identical draws however a range is split', () => {
    fc.assert(
      fc.property(
        seedArb,
        fc.nat({ max: 3 }),
        fc.nat({ max: 2 ** 33 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.nat({ max: 40 }), { maxLength: 4 }),
        (seed, stream, start, count, dim, cuts) => {
          const whole = new Float64Array(count * dim);
          fillNormals(seed, stream, start, count, dim, whole);
          const bounds = [0, ...cuts.map((c) => c % (count + 1)).sort((a, b) => a - b), count];
          const pieces = new Float64Array(count * dim);
          for (let i = 1; i < bounds.length; i++) {
            const n = bounds[i] - bounds[i - 1];
            const part = new Float64Array(n * dim);
            fillNormals(seed, stream, start + bounds[i - 1], n, dim, part);
            pieces.set(part, bounds[i - 1] * dim);
          }
          const single = new Float64Array(count * dim);
          for (let i = 0; i < count; i++) sampleNormals(seed, stream, start + i, dim, single, i * dim);
          expect(pieces).toEqual(whole);
          expect(single).toEqual(whole);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('steps the index across the 32-bit boundary', () => {
    const start = 2 ** 32 - 2;
    const batch = new Float64Array(4 * 3);
    fillNormals(9n, 1, start, 4, 3, batch);
    for (let i = 0; i < 4; i++) expect(Array.from(batch.subarray(3 * i, 3 * i + 3))).toEqual(referenceSample(9n, 1, start + i, 3));
  });

  it('honours the output offset and leaves the rest of the buffer alone', () => {
    const out = new Float64Array(10).fill(7);
    fillNormals(5n, 0, 100, 2, 3, out, 2);
    expect(out[0]).toBe(7);
    expect(out[1]).toBe(7);
    expect(out[8]).toBe(7);
    expect(Array.from(out.subarray(2, 5))).toEqual(referenceSample(5n, 0, 100, 3));
  });

  it('looks standard normal: mean, variance and Kolmogorov-Smirnov over 1e5 draws', () => {
    const n = 100000;
    const z = new Float64Array(n);
    fillNormals(20240601n, 1, 0, n / 4, 4, z);
    let sum = 0;
    let sq = 0;
    for (const v of z) {
      sum += v;
      sq += v * v;
    }
    const mean = sum / n;
    const variance = sq / n - mean * mean;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    const sorted = Float64Array.from(z).sort();
    let d = 0;
    for (let i = 0; i < n; i++) {
      const f = normalCdf(sorted[i]);
      d = Math.max(d, (i + 1) / n - f, f - i / n);
    }
    // sqrt(n) D exceeds 1.95 with probability 0.001 under the null.
    expect(Math.sqrt(n) * d).toBeLessThan(1.95);
  });

  it('differs between streams, seeds and coordinates', () => {
    const draw = (seed: bigint, stream: number) => {
      const out = new Float64Array(1000);
      fillNormals(seed, stream, 0, 500, 2, out);
      return out;
    };
    const base = draw(1n, 0);
    for (const other of [draw(1n, 1), draw(2n, 0), draw(1n << 32n, 0)]) {
      let equal = 0;
      let dot = 0;
      for (let i = 0; i < base.length; i++) {
        if (base[i] === other[i]) equal++;
        dot += base[i] * other[i];
      }
      expect(equal).toBe(0);
      expect(Math.abs(dot / base.length)).toBeLessThan(0.15); // uncorrelated: sd ~ 0.03
    }
  });

  it('builds uniforms strictly inside (0, 1)', () => {
    expect(uniform53(0, 0)).toBe(2 ** -54);
    expect(uniform53(0, 64)).toBe(2 ** -53);
    expect(uniform53(0xffffffff, 0xffffffff)).toBe(1 - 2 ** -53);
    expect(uniform53(0x80000000, 0)).toBe(0.5);
  });

  it('validates its arguments', () => {
    const out = new Float64Array(4);
    expect(() => sampleNormals(-1n, 0, 0, 2, out)).toThrow(/seed/);
    expect(() => sampleNormals(1n << 64n, 0, 0, 2, out)).toThrow(/seed/);
    expect(() => sampleNormals(0n, 2 ** 32, 0, 2, out)).toThrow(/stream/);
    expect(() => sampleNormals(0n, 0, 1.5, 2, out)).toThrow(/index/);
    expect(() => sampleNormals(0n, 0, 2 ** 53, 2, out)).toThrow(/index/);
    expect(() => sampleNormals(0n, 0, 0, 0, out)).toThrow(/dim/);
    expect(() => sampleNormals(0n, 0, 0, 3, out, 2)).toThrow(/too short/);
    expect(() => fillNormals(0n, 0, 0, 3, 2, out)).toThrow(/too short/);
    expect(() => fillNormals(0n, 0, Number.MAX_SAFE_INTEGER, 2, 1, out)).toThrow(/start \+ count/);
    expect(seedKey((1n << 64n) - 1n)).toEqual([0xffffffff, 0xffffffff]);
  });
});
