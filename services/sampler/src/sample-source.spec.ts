import { sampleNormals } from '@glcert/stats';
import { applyTransform, TRANSFORMS, TRANSFORM_KEYS } from '@glcert/transforms';
import { SampleSource } from './sample-source';

const shape = { channels: 3, height: 8, width: 6 };
const image = Float32Array.from({ length: 3 * 8 * 6 }, (_, i) => ((i * 37) % 101) / 100);
const SIGMA: Record<string, number> = { b: 0.3, k: 0.3, g: 0.1, tx: 2, ty: 2, r: 1 };

function source(key: (typeof TRANSFORM_KEYS)[number], maxBatch: number, seed = 42n, stream = 1) {
  const spec = TRANSFORMS[key];
  return new SampleSource({ spec, sigma: spec.params.map((p) => SIGMA[p]!), image, shape, seed, stream, maxBatch });
}

describe('SampleSource', () => {
  it.each(TRANSFORM_KEYS)('%s: sample i is gamma(identity, normals of (seed, stream, i)) applied to the image', (key) => {
    const spec = TRANSFORMS[key];
    const src = source(key, 5);
    const n = shape.channels * shape.height * shape.width;
    const out = new Float32Array(5 * n);
    src.fill(100, 5, out);
    const d = spec.params.length;
    const z = new Float64Array(spec.normalsPerSample);
    const y = new Float64Array(d);
    const sigma = spec.params.map((p) => SIGMA[p]!);
    for (let i = 0; i < 5; i++) {
      sampleNormals(42n, 1, 100 + i, spec.normalsPerSample, z);
      spec.resolve(spec.identity, sigma, z, y);
      expect(Array.from(src.params.subarray(i * d, (i + 1) * d))).toEqual(Array.from(y));
      expect(out.subarray(i * n, (i + 1) * n)).toEqual(applyTransform(key, image, shape, y));
    }
  });

  it('images do not depend on how a range is batched', () => {
    const n = shape.channels * shape.height * shape.width;
    const whole = new Float32Array(20 * n);
    source('cb', 20).fill(0, 20, whole);
    const pieces = new Float32Array(20 * n);
    const src = source('cb', 7);
    const tmp = new Float32Array(7 * n);
    for (const [a, b] of [[0, 7], [7, 14], [14, 20]]) {
      src.fill(a, b - a, tmp);
      pieces.set(tmp.subarray(0, (b - a) * n), a * n);
    }
    expect(pieces).toEqual(whole);
  });

  it('different streams and seeds give different samples', () => {
    const a = Array.from(source('b', 4, 1n, 0).resolve(0, 4));
    expect(Array.from(source('b', 4, 1n, 1).resolve(0, 4))).not.toEqual(a);
    expect(Array.from(source('b', 4, 2n, 0).resolve(0, 4))).not.toEqual(a);
  });

  it('refuses batches larger than maxBatch', () => {
    expect(() => source('b', 2).resolve(0, 3)).toThrow(RangeError);
  });
});
