import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { BLUR_R_MAX, ImageShape, TransformScratch, applyTransform, applyTransformBatch, blurRadius } from './apply';
import { TRANSFORMS, TRANSFORM_KEYS, TransformKey } from './transform-spec';
import { randomImage, uniformSource } from './test-helpers';

// ---- independent references ---------------------------------------------------------------

const mod = (a: number, m: number) => ((a % m) + m) % m;

/** Naive cyclic shift of k x + b: out(c, i, j) = in(c, i - ty, j - tx), indices mod (H, W). */
function shiftReference(x: Float32Array, shape: ImageShape, k: number, b: number, tx: number, ty: number): Float32Array {
  const { channels: C, height: H, width: W } = shape;
  const out = new Float32Array(C * H * W);
  const dx = Math.round(tx);
  const dy = Math.round(ty);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        out[(c * H + i) * W + j] = k * x[(c * H + mod(i - dy, H)) * W + mod(j - dx, W)] + b;
      }
    }
  }
  return out;
}

/** Reflect-101 by walking: bounce off 0 and n-1 until inside. */
function bounce(i: number, n: number): number {
  if (n === 1) return 0;
  for (;;) {
    if (i < 0) i = -i;
    else if (i > n - 1) i = 2 * (n - 1) - i;
    else return i;
  }
}

/** Naive 2-D convolution with the full (non-separated) Gaussian kernel, reflect-101 border. */
function blurReference(x: Float32Array, shape: ImageShape, r: number): Float64Array {
  const { channels: C, height: H, width: W } = shape;
  const out = new Float64Array(C * H * W);
  if (r === 0) {
    out.set(x);
    return out;
  }
  const rad = Math.ceil(4 * Math.sqrt(r));
  const k2: number[][] = [];
  let total = 0;
  for (let u = -rad; u <= rad; u++) {
    const rowK: number[] = [];
    for (let v = -rad; v <= rad; v++) {
      const w = Math.exp(-(u * u + v * v) / (2 * r));
      rowK.push(w);
      total += w;
    }
    k2.push(rowK);
  }
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < H; i++) {
      for (let j = 0; j < W; j++) {
        let acc = 0;
        for (let u = -rad; u <= rad; u++) {
          for (let v = -rad; v <= rad; v++) {
            acc += k2[u + rad][v + rad] * x[(c * H + bounce(i + u, H)) * W + bounce(j + v, W)];
          }
        }
        out[(c * H + i) * W + j] = acc / total;
      }
    }
  }
  return out;
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, abs: number, what = ''): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const e = expected[i];
    const diff = Math.abs(actual[i] - e);
    if (!(diff <= abs + rel * Math.abs(e))) {
      throw new Error(`${what} index ${i}: got ${actual[i]}, expected ${e} (diff ${diff})`);
    }
  }
}

const shapeArb = fc.record({
  channels: fc.integer({ min: 1, max: 3 }),
  height: fc.integer({ min: 1, max: 12 }),
  width: fc.integer({ min: 1, max: 12 }),
});
const size = (s: ImageShape) => s.channels * s.height * s.width;

/** Parameters for composition tests; translations integer, others in a well-conditioned range. */
function paramArb(key: TransformKey): fc.Arbitrary<number[]> {
  return fc.tuple(
    ...TRANSFORMS[key].params.map((p) => {
      switch (p) {
        case 'k':
          return fc.double({ min: 0.5, max: 2, noNaN: true });
        case 'g':
          return fc.double({ min: 0.5, max: 1.8, noNaN: true });
        case 'b':
          return fc.double({ min: -0.5, max: 0.5, noNaN: true });
        case 'r':
          return fc.double({ min: 1, max: 4, noNaN: true });
        default:
          return fc.integer({ min: -40, max: 40 });
      }
    }),
  );
}

// ---- tests ---------------------------------------------------------------------------------

describe('applyTransform', () => {
  it.each(TRANSFORM_KEYS.map((k) => [k]))('%s: identity parameters give the identity exactly', (key) => {
    const shape = { channels: 3, height: 7, width: 9 };
    const img = randomImage(7, size(shape), -1, 2);
    img[0] = 0;
    expect(Array.from(applyTransform(key, img, shape, TRANSFORMS[key].identity))).toEqual(Array.from(img));
  });

  it.each(TRANSFORM_KEYS.filter((k) => k !== 'r').map((k) => [k]))('%s: phi(phi(x, a), b) equals phi(x, compose(a, b))', (key) => {
    const spec = TRANSFORMS[key];
    const hasShift = spec.params.includes('tx');
    const pureShift = key === 't';
    fc.assert(
      fc.property(shapeArb, paramArb(key), paramArb(key), fc.integer(), (shape, a, b, seed) => {
        const img = randomImage(seed, size(shape), -1, 1);
        const twice = applyTransform(key, applyTransform(key, img, shape, a), shape, b);
        const ab = new Float64Array(a.length);
        spec.compose(a, b, ab);
        const once = applyTransform(key, img, shape, ab);
        if (pureShift) expect(Array.from(twice)).toEqual(Array.from(once));
        else expectClose(twice, once, 2e-5, 2e-6, key);
        if (hasShift) {
          // positions move exactly: compare the shifted index pattern on a ramp image
          const ramp = Float32Array.from({ length: size(shape) }, (_, i) => i + 1);
          const ta = a.map((v, i) => (spec.integerParams[i] ? v : spec.identity[i]));
          const tb = b.map((v, i) => (spec.integerParams[i] ? v : spec.identity[i]));
          const tab = new Float64Array(a.length);
          spec.compose(ta, tb, tab);
          expect(Array.from(applyTransform(key, applyTransform(key, ramp, shape, ta), shape, tb))).toEqual(Array.from(applyTransform(key, ramp, shape, tab)));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('translation by round(y): a real smoothing draw after an integer attack equals one shift by round(y + t0)', () => {
    fc.assert(
      fc.property(shapeArb, fc.integer({ min: -50, max: 50 }), fc.integer({ min: -50, max: 50 }), fc.double({ min: -60, max: 60, noNaN: true }), fc.double({ min: -60, max: 60, noNaN: true }), (shape, t0x, t0y, yx, yy) => {
        const img = randomImage(t0x * 101 + t0y, size(shape));
        const twice = applyTransform('t', applyTransform('t', img, shape, [t0x, t0y]), shape, [yx, yy]);
        const once = applyTransform('t', img, shape, [t0x + yx, t0y + yy]);
        expect(Array.from(twice)).toEqual(Array.from(once));
      }),
      { numRuns: 300 },
    );
  });

  it('blur composes approximately: blur(blur(x, r1), r2) ~ blur(x, r1 + r2) (discretised kernel)', () => {
    // Measured on [0, 1] images: max error ~1e-5 once r1, r2 >= 1 (4-sigma truncation), ~6e-3 at
    // r = 0.5, and up to ~0.2 at r = 0.1 where a sampled Gaussian is far from variance r.
    fc.assert(
      fc.property(shapeArb, fc.double({ min: 1, max: 6, noNaN: true }), fc.double({ min: 1, max: 6, noNaN: true }), fc.integer(), (shape, r1, r2, seed) => {
        const img = randomImage(seed, size(shape));
        const twice = applyTransform('r', applyTransform('r', img, shape, [r1]), shape, [r2]);
        expectClose(twice, applyTransform('r', img, shape, [r1 + r2]), 0, 1e-4, 'blur r>=1');
      }),
      { numRuns: 60 },
    );
    fc.assert(
      fc.property(fc.double({ min: 0.5, max: 1, noNaN: true }), fc.double({ min: 0.5, max: 3, noNaN: true }), fc.integer(), (r1, r2, seed) => {
        const shape = { channels: 2, height: 9, width: 10 };
        const img = randomImage(seed, size(shape));
        const twice = applyTransform('r', applyTransform('r', img, shape, [r1]), shape, [r2]);
        expectClose(twice, applyTransform('r', img, shape, [r1 + r2]), 0, 1e-2, 'blur r>=0.5');
      }),
      { numRuns: 60 },
    );
  });

  it('applies b, c, cb, gc by their formulas', () => {
    const shape = { channels: 1, height: 2, width: 3 };
    const img = Float32Array.from([0, 0.25, -0.5, 1, 2, -4]);
    expect(Array.from(applyTransform('b', img, shape, [0.5]))).toEqual(Array.from(img, (x) => Math.fround(x + 0.5)));
    expect(Array.from(applyTransform('c', img, shape, [3]))).toEqual(Array.from(img, (x) => Math.fround(3 * x)));
    expect(Array.from(applyTransform('cb', img, shape, [2, -1]))).toEqual(Array.from(img, (x) => Math.fround(2 * x - 1)));
    expectClose(applyTransform('gc', img, shape, [2, 3]), [0, 3 / 16, -0.75, 3, 12, -48], 1e-6, 0);
    expectClose(applyTransform('g', img, shape, [0.5]), [0, 0.5, -Math.SQRT1_2, 1, Math.SQRT2, -2], 1e-6, 0);
  });

  it('gamma fast path equals the Math.pow reference within 1e-6 relative', () => {
    fc.assert(
      fc.property(shapeArb, fc.array(fc.double({ min: 0.05, max: 5, noNaN: true }), { minLength: 1, maxLength: 6 }), fc.double({ min: 0.2, max: 5, noNaN: true }), fc.integer(), (shape, gs, k, seed) => {
        const n = size(shape);
        const img = randomImage(seed, n, -3, 3);
        img[0] = 0;
        const scratch = new TransformScratch();
        const out = new Float32Array(gs.length * n);
        applyTransformBatch('g', img, shape, Float64Array.from(gs), gs.length, out, scratch);
        const outGc = new Float32Array(gs.length * n);
        applyTransformBatch('gc', img, shape, Float64Array.from(gs.flatMap((g) => [g, k])), gs.length, outGc, scratch);
        gs.forEach((g, s) => {
          const ref = Array.from(img, (x) => Math.sign(x) * Math.pow(Math.abs(x), g));
          expectClose(out.subarray(s * n, (s + 1) * n), ref, 1e-6, 1e-30, `g=${g}`);
          expectClose(outGc.subarray(s * n, (s + 1) * n), ref.map((v) => k * v), 1e-6, 1e-30, `gc g=${g} k=${k}`);
        });
      }),
      { numRuns: 100 },
    );
  });

  it.each([['t'], ['bt'], ['ct'], ['cbt']] as const)('%s batch matches a naive cyclic-shift reference', (key) => {
    const spec = TRANSFORMS[key];
    fc.assert(
      fc.property(
        shapeArb,
        fc.array(
          fc.tuple(
            fc.double({ min: 0.5, max: 2, noNaN: true }),
            fc.double({ min: -1, max: 1, noNaN: true }),
            fc.oneof(fc.double({ min: -100, max: 100, noNaN: true }), fc.integer({ min: -30, max: 30 }).map((v) => v + 0.5), fc.constant(-0.5)),
            fc.oneof(fc.double({ min: -100, max: 100, noNaN: true }), fc.integer({ min: -30, max: 30 }).map((v) => v - 0.5), fc.constant(0.5)),
          ),
          { minLength: 1, maxLength: 5 },
        ),
        fc.integer(),
        (shape, rows, seed) => {
          const n = size(shape);
          const img = randomImage(seed, n, -1, 1);
          const d = spec.params.length;
          const params = new Float64Array(rows.length * d);
          rows.forEach(([k, b, tx, ty], s) => {
            const full: Record<string, number> = { k, b, tx, ty };
            spec.params.forEach((p, i) => (params[s * d + i] = full[p]));
          });
          const out = new Float32Array(rows.length * n);
          applyTransformBatch(key, img, shape, params, rows.length, out);
          rows.forEach(([k, b, tx, ty], s) => {
            const kk = spec.params.includes('k') ? k : 1;
            const bb = spec.params.includes('b') ? b : 0;
            expect(Array.from(out.subarray(s * n, (s + 1) * n))).toEqual(Array.from(shiftReference(img, shape, kk, bb, tx, ty)));
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('translation moves content by +t (tx along width, ty along height)', () => {
    const shape = { channels: 1, height: 3, width: 4 };
    const img = Float32Array.from({ length: 12 }, (_, i) => i);
    // shift right by 1 and down by 1: out(i, j) = in(i - 1, j - 1)
    expect(Array.from(applyTransform('t', img, shape, [1, 1]))).toEqual([11, 8, 9, 10, 3, 0, 1, 2, 7, 4, 5, 6]);
    // Math.round ties go toward +infinity: 0.5 -> 1, -0.5 -> 0, -1.5 -> -1
    expect(Array.from(applyTransform('t', img, shape, [0.5, 0]))).toEqual(Array.from(applyTransform('t', img, shape, [1, 0])));
    expect(Array.from(applyTransform('t', img, shape, [-0.5, 0]))).toEqual(Array.from(img));
    expect(Array.from(applyTransform('t', img, shape, [-1.5, 0]))).toEqual(Array.from(applyTransform('t', img, shape, [-1, 0])));
  });

  it('translation uses the row-copy path on wide images too', () => {
    const shape = { channels: 2, height: 5, width: 70 };
    const img = randomImage(3, size(shape));
    for (const [tx, ty] of [[0, 0], [1, -2], [-69, 7], [140, 3], [35.4, -11.6]]) {
      expect(Array.from(applyTransform('t', img, shape, [tx, ty]))).toEqual(Array.from(shiftReference(img, shape, 1, 0, tx, ty)));
    }
  });

  it('blur batch matches a naive 2-D convolution with reflect-101 borders', () => {
    fc.assert(
      fc.property(shapeArb, fc.array(fc.oneof(fc.double({ min: 0, max: 12, noNaN: true }), fc.constant(0), fc.double({ min: 1e-3, max: 0.3, noNaN: true })), { minLength: 1, maxLength: 4 }), fc.integer(), (shape, rs, seed) => {
        const n = size(shape);
        const img = randomImage(seed, n, -1, 2);
        const out = new Float32Array(rs.length * n);
        applyTransformBatch('r', img, shape, Float64Array.from(rs), rs.length, out, new TransformScratch());
        rs.forEach((r, s) => expectClose(out.subarray(s * n, (s + 1) * n), blurReference(img, shape, r), 1e-6, 1e-6, `r=${r}`));
      }),
      { numRuns: 100 },
    );
  });

  it('blur handles radii larger than the image (repeated reflection) and preserves constants', () => {
    const shape = { channels: 1, height: 3, width: 2 };
    const img = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expectClose(applyTransform('r', img, shape, [30]), blurReference(img, shape, 30), 1e-6, 1e-6);
    const flat = new Float32Array(3 * 8 * 8).fill(0.37);
    expectClose(applyTransform('r', flat, { channels: 3, height: 8, width: 8 }, [2.5]), flat, 1e-6, 0);
  });

  describe('blur kernels wider than the image are folded modulo the reflect-101 period (issue 11, finding 3)', () => {
    it('the folded blur matches the naive 2-D convolution (every tap reflected one by one), one or both axes folded', () => {
      fc.assert(
        fc.property(
          fc.record({ channels: fc.integer({ min: 1, max: 2 }), height: fc.integer({ min: 1, max: 7 }), width: fc.integer({ min: 1, max: 7 }) }),
          fc.double({ min: 1, max: 400, noNaN: true }),
          fc.integer(),
          (shape, r, seed) => {
            const img = randomImage(seed, size(shape), -1, 2);
            expect(blurRadius(r) >= Math.min(shape.height, shape.width) - 1).toBe(true);
            expectClose(applyTransform('r', img, shape, [r]), blurReference(img, shape, r), 1e-6, 1e-6, `r=${r}`);
          },
        ),
        { numRuns: 40 },
      );
      // one axis folded (width 3), the other direct (height 40, radius 20)
      const shape = { channels: 1, height: 40, width: 3 };
      const img = randomImage(5, size(shape), 0, 1);
      expectClose(applyTransform('r', img, shape, [24]), blurReference(img, shape, 24), 1e-6, 1e-6);
    });

    it('kernels shorter than the image are bit-identical to the unfolded implementation (frozen digests)', () => {
      // inputs from a fixed LCG; digests recorded with the implementation before folding existed
      const lcgImage = (n: number, seed: number): Float32Array => {
        let a = seed >>> 0;
        const x = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
          x[i] = (a / 2 ** 32) * 3 - 1;
        }
        return x;
      };
      const cases: [number, number, number, number[], string][] = [
        [1, 28, 28, [0.3, 2, 2.5, 17, 40], '86d961cff5e696da5b899bae1e1103c073b1e04f1fa94ba93461a7f8292a62c6'],
        [3, 32, 32, [0.01, 1, 5, 50], 'bfc5018bee7fbdb615bc5b3132beba31e8a86e2f3e429f9f79113d1db4cedc4c'],
        [2, 9, 13, [0.5, 3], 'a5b2edee5cdee2f08e071a5c15e233cf620576a4b603fd06a47fd0bbeb18b1ab'],
      ];
      for (const [c, h, w, rs, digest] of cases) {
        const n = c * h * w;
        const out = new Float32Array(rs.length * n);
        applyTransformBatch('r', lcgImage(n, 7), { channels: c, height: h, width: w }, Float64Array.from(rs), rs.length, out, new TransformScratch());
        expect(createHash('sha256').update(Buffer.from(out.buffer)).digest('hex')).toBe(digest);
      }
    });

    it('variances 1e10 and 4e10 (radius 4e5, 8e5) on 28 x 28: the reflect-101 average they tend to', () => {
      const shape = { channels: 1, height: 28, width: 28 };
      const img = randomImage(11, size(shape), 0, 1);
      const out = new Float32Array(2 * size(shape));
      applyTransformBatch('r', img, shape, Float64Array.from([1e10, 4e10]), 2, out, new TransformScratch());
      // a kernel far wider than the period weighs every residue mod 2(n - 1) equally: pixel 0 and
      // n - 1 once, the others twice, over 2(n - 1), on each axis (the Gaussian's relative
      // variation over one period at this width is ~1e-7)
      const weight = (k: number, n: number): number => (k === 0 || k === n - 1 ? 1 : 2) / (2 * (n - 1));
      let mean = 0;
      for (let i = 0; i < 28; i++) for (let j = 0; j < 28; j++) mean += weight(i, 28) * weight(j, 28) * img[i * 28 + j];
      expectClose(out, new Float64Array(out.length).fill(mean), 1e-6, 1e-7);
    });

    it('refuses variances whose kernel alone would be too costly to build, naming the sample', () => {
      const shape = { channels: 1, height: 4, width: 4 };
      const out = new Float32Array(16);
      expect(() => applyTransformBatch('r', new Float32Array(16), shape, Float64Array.from([BLUR_R_MAX * 2]), 1, out)).toThrow(/sample 0.*invalid r/);
      expect(() => applyTransformBatch('r', new Float32Array(16), shape, Float64Array.from([1e300]), 1, out)).toThrow(RangeError);
    });
  });

  it('batch output equals per-sample application and a scratch is reusable across shapes', () => {
    const scratch = new TransformScratch();
    const u = uniformSource(99);
    for (const key of TRANSFORM_KEYS) {
      for (const shape of [
        { channels: 3, height: 8, width: 6 },
        { channels: 1, height: 28, width: 28 },
        { channels: 2, height: 5, width: 3 },
      ]) {
        const spec = TRANSFORMS[key];
        const d = spec.params.length;
        const n = size(shape);
        const img = randomImage(Math.floor(u() * 1e9), n, -0.5, 1.5);
        const count = 5;
        const params = new Float64Array(count * d);
        for (let s = 0; s < count; s++) {
          spec.params.forEach((p, i) => (params[s * d + i] = p === 'k' || p === 'g' ? 0.5 + u() : p === 'r' ? 3 * u() : p === 'b' ? u() - 0.5 : 20 * u() - 10));
        }
        const out = new Float32Array(count * n).fill(NaN);
        applyTransformBatch(key, img, shape, params, count, out, scratch);
        for (let s = 0; s < count; s++) {
          const single = applyTransform(key, img, shape, params.subarray(s * d, (s + 1) * d));
          expect(Array.from(out.subarray(s * n, (s + 1) * n))).toEqual(Array.from(single));
        }
      }
    }
  });

  it('rejects bad inputs', () => {
    const shape = { channels: 1, height: 2, width: 2 };
    const img = new Float32Array(4);
    const out = new Float32Array(8);
    expect(() => applyTransformBatch('x' as TransformKey, img, shape, new Float64Array(1), 1, out)).toThrow(/'x'/);
    expect(() => applyTransformBatch('b', img, { channels: 1, height: 0, width: 2 }, new Float64Array(1), 1, out)).toThrow(/height/);
    expect(() => applyTransformBatch('b', new Float32Array(5), shape, new Float64Array(1), 1, out)).toThrow(RangeError);
    expect(() => applyTransformBatch('cb', img, shape, new Float64Array(3), 2, out)).toThrow(/params/);
    expect(() => applyTransformBatch('b', img, shape, new Float64Array(3), 3, out)).toThrow(/out/);
    expect(() => applyTransformBatch('b', img, shape, new Float64Array(1), 1, new Float32Array(img.buffer))).toThrow(/overlap/);
    expect(() => applyTransformBatch('r', img, shape, Float64Array.from([1, -0.5]), 2, out)).toThrow(/sample 1.*r = -0.5/);
    expect(() => applyTransformBatch('c', img, shape, Float64Array.from([0]), 1, out)).toThrow(/k/);
    expect(() => applyTransformBatch('t', img, shape, Float64Array.from([NaN, 0]), 1, out)).toThrow(/tx/);
    expect(() => applyTransform('t', img, shape, [1])).toThrow(/2 parameters/);
    expect(() => applyTransformBatch('b', img, shape, new Float64Array(0), 0, new Float32Array(0))).not.toThrow();
  });
});
