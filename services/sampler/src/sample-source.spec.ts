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

  describe('fillInSlices (issue 11, finding 3: transform work must not hold the event loop)', () => {
    const n = shape.channels * shape.height * shape.width;

    /** A source whose fill advances a fake clock by `costMs` per sample; records the sub-batch sizes. */
    function timed(key: (typeof TRANSFORM_KEYS)[number], maxBatch: number, costMs: number) {
      const src = source(key, maxBatch);
      const clock = { t: 0 };
      const sizes: number[] = [];
      const real = src.fill.bind(src);
      jest.spyOn(src, 'fill').mockImplementation((start, count, out) => {
        real(start, count, out);
        sizes.push(count);
        clock.t += count * costMs;
      });
      return { src, clock, sizes };
    }

    it('gives the images of one fill, yielding whenever the budget is spent and checking after each yield', async () => {
      const whole = new Float32Array(40 * n);
      source('r', 40).fill(3, 40, whole);
      const { src, clock, sizes } = timed('r', 40, 2);
      const out = new Float32Array(40 * n);
      const events: string[] = [];
      let lastYield = 0;
      let longest = 0;
      await src.fillInSlices(3, 40, out, {
        budgetMs: 3,
        now: () => clock.t,
        yieldToIo: async () => {
          longest = Math.max(longest, clock.t - lastYield);
          lastYield = clock.t;
          events.push('yield');
        },
        checkpoint: () => events.push('check'),
      });
      expect(out).toEqual(whole);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(40);
      // every yield is followed by a check, and no stretch of work is longer than budget + one sample
      expect(events.length).toBeGreaterThanOrEqual(2 * 10);
      for (let i = 0; i < events.length; i += 2) expect(events.slice(i, i + 2)).toEqual(['yield', 'check']);
      expect(longest).toBeLessThanOrEqual(3 + 2);
    });

    it('costly samples go one per sub-batch; cheap ones grow to maxBatch', async () => {
      const costly = timed('r', 64, 50);
      await costly.src.fillInSlices(0, 10, new Float32Array(10 * n), { budgetMs: 3, now: () => costly.clock.t, yieldToIo: async () => undefined, checkpoint: () => undefined });
      expect(costly.sizes).toEqual(new Array(10).fill(1));
      const cheap = timed('b', 64, 0.001);
      await cheap.src.fillInSlices(0, 300, new Float32Array(300 * n), { budgetMs: 3, now: () => cheap.clock.t, yieldToIo: async () => undefined, checkpoint: () => undefined });
      expect(Math.max(...cheap.sizes)).toBe(64);
      expect(cheap.sizes.length).toBeLessThan(12);
    });

    it('a checkpoint that throws (caller gone) stops the work at the next sub-batch', async () => {
      const { src, clock, sizes } = timed('r', 64, 5);
      let checks = 0;
      const gone = new Error('CANCELLED');
      await expect(
        src.fillInSlices(0, 1000, new Float32Array(1000 * n), {
          budgetMs: 3,
          now: () => clock.t,
          yieldToIo: async () => undefined,
          checkpoint: () => {
            if (++checks === 3) throw gone;
          },
        }),
      ).rejects.toBe(gone);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(3);
    });
  });
});
