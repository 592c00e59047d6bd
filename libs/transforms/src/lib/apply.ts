// Applying transforms to float32 CHW images, in batches, without per-sample allocation.
//
// Semantics (ALGORITHM.md section 1); no clipping anywhere, values may leave [0, 1]:
//   b    x + b
//   c    k x
//   cb   k x + b
//   g    sign(x) |x|^g              (odd extension to x < 0, sign(0) = 0: keeps g1 g2 composition exact)
//   gc   k sign(x) |x|^g
//   t    out(c, i, j) = in(c, (i - ty) mod H, (j - tx) mod W), cyclic; tx moves along the width
//        axis, ty along the height axis, both rounded with Math.round (nearest integer, ties toward
//        +infinity). Math.round(y + t0) = Math.round(y) + t0 for integer t0 holds exactly in the
//        reals; in float64 it can fail only when y + t0 itself rounds onto a half-integer
//        (y within one ulp of a tie), which has probability ~1e-16 per sample.
//   bt, ct, cbt   shift(x + b), shift(k x), shift(k x + b)
//   r    separable Gaussian blur with variance r: std sqrt(r), radius ceil(4 sqrt(r)), weights
//        exp(-i^2 / (2 r)) normalised to sum 1, reflect-101 border (... 2 1 | 0 1 2 ... n-1 | n-2 ...,
//        reflected repeatedly when the radius exceeds the image); r = 0 is the identity. An axis
//        the kernel wraps (radius >= n - 1) uses the kernel folded modulo the reflect-101 period
//        2(n - 1): the same sum, O(n) taps per output however large r (blurFolded).
//        The discretised, truncated kernel composes only approximately: blur(blur(x, r1), r2) ~
//        blur(x, r1 + r2), close for r >= ~0.5 and poor for tiny r (a sampled Gaussian with
//        variance r << 1 has a much smaller discrete variance); certificates must say so.
//
// Gamma avoids Math.pow per pixel: ln|x| and sign(x) of the image are computed once per batch in
// the scratch, then each sample costs one Math.exp per pixel (x^g = exp(g ln|x|), exactly).

import { TRANSFORMS, TransformKey, getTransform } from './transform-spec';

export interface ImageShape {
  channels: number;
  height: number;
  width: number;
}

/** Reusable buffers for `applyTransformBatch`; grow on demand, never shrink. Not thread-safe. */
export class TransformScratch {
  /** ln|x| of the current image (0 where x = 0). */
  logAbs = new Float64Array(0);
  /** sign(x) of the current image, in {-1, 0, 1}. */
  sign = new Float32Array(0);
  /** Horizontal blur pass result (one image). */
  blurTmp = new Float64Array(0);
  /** One padded row for the horizontal blur pass. */
  blurRow = new Float64Array(0);
  /** Half kernel: w[0] centre, w[i] at offsets +-i. */
  kernel = new Float64Array(0);
  /** Reflect-101 index tables for padded rows / columns. */
  reflectW = new Int32Array(0);
  reflectH = new Int32Array(0);

  ensure(pixels: number, height: number, width: number, radius: number): void {
    if (this.logAbs.length < pixels) {
      this.logAbs = new Float64Array(pixels);
      this.sign = new Float32Array(pixels);
    }
    if (this.blurTmp.length < pixels) this.blurTmp = new Float64Array(pixels);
    this.ensureRadius(height, width, radius);
  }

  /** Folded (or full) kernels of the two axes and one float64 output row, for the folded blur. */
  foldX = new Float64Array(0);
  foldY = new Float64Array(0);
  blurAcc = new Float64Array(0);

  /** Buffers of the folded blur: padded lengths and tap counts per axis (all O(image size)). */
  ensureFolded(paddedW: number, paddedH: number, tapsX: number, tapsY: number): void {
    if (this.blurRow.length < paddedW) this.blurRow = new Float64Array(paddedW);
    if (this.reflectW.length < paddedW) this.reflectW = new Int32Array(paddedW);
    if (this.reflectH.length < paddedH) this.reflectH = new Int32Array(paddedH);
    if (this.foldX.length < tapsX) this.foldX = new Float64Array(tapsX);
    if (this.foldY.length < tapsY) this.foldY = new Float64Array(tapsY);
    if (this.blurAcc.length < paddedW) this.blurAcc = new Float64Array(paddedW);
  }

  ensureRadius(height: number, width: number, radius: number): void {
    if (this.kernel.length < radius + 1) this.kernel = new Float64Array(radius + 1);
    if (this.blurRow.length < width + 2 * radius) this.blurRow = new Float64Array(width + 2 * radius);
    if (this.reflectW.length < width + 2 * radius) this.reflectW = new Int32Array(width + 2 * radius);
    if (this.reflectH.length < height + 2 * radius) this.reflectH = new Int32Array(height + 2 * radius);
  }
}

/** Reflect-101 index of i in [0, n): period 2(n - 1), mirror about 0 and n - 1. */
export function reflect101(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

/**
 * Largest blur variance applyTransformBatch takes (kernel radius ~1.3e7: building the folded kernel
 * is O(radius), about 0.1 s). The threat-model domain keeps sampled variances below ~8.7e6.
 */
export const BLUR_R_MAX = 1e13;

/** Kernel radius used for blur variance r. */
export function blurRadius(r: number): number {
  return r > 0 ? Math.ceil(4 * Math.sqrt(r)) : 0;
}

function checkShape(shape: ImageShape): number {
  const { channels, height, width } = shape;
  for (const [name, v] of [
    ['channels', channels],
    ['height', height],
    ['width', width],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`shape.${name} must be a positive integer, got ${v}`);
  }
  return channels * height * width;
}

function overlaps(a: Float32Array, b: Float32Array): boolean {
  if (a.buffer !== b.buffer) return false;
  const a0 = a.byteOffset;
  const a1 = a0 + a.byteLength;
  const b0 = b.byteOffset;
  const b1 = b0 + b.byteLength;
  return a0 < b1 && b0 < a1;
}

/** Domain check of one row of the params matrix without allocating (mirrors TransformSpec.domain). */
function checkRow(key: TransformKey, params: Float64Array, off: number, d: number, sample: number): void {
  const names = TRANSFORMS[key].params;
  for (let i = 0; i < d; i++) {
    const v = params[off + i];
    const name = names[i];
    let bad = !Number.isFinite(v);
    if (!bad && (name === 'k' || name === 'g')) bad = !(v > 0);
    // r beyond BLUR_R_MAX: the kernel alone (rad exps) would take seconds; the sampler's domain is far below
    if (!bad && name === 'r') bad = !(v >= 0 && v <= BLUR_R_MAX);
    if (bad) throw new RangeError(`transform '${key}', sample ${sample}: invalid ${name} = ${v}`);
  }
}

/**
 * Apply `count` transforms of family `key` to one float32 CHW image. `params` is row-major
 * count x d (d = spec.params.length), the resolved parameters y; `out` receives count*C*H*W floats
 * (NCHW). `out` must not overlap `image`. No allocation per sample (pass a `scratch` to avoid
 * allocation per call as well).
 */
export function applyTransformBatch(
  key: TransformKey,
  image: Float32Array,
  shape: ImageShape,
  params: Float64Array,
  count: number,
  out: Float32Array,
  scratch?: TransformScratch,
): void {
  const spec = getTransform(key);
  const n = checkShape(shape);
  const d = spec.params.length;
  if (image.length !== n) throw new RangeError(`image has ${image.length} values, shape needs ${n}`);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (params.length < count * d) throw new RangeError(`params has ${params.length} values, need ${count} x ${d}`);
  if (out.length < count * n) throw new RangeError(`out has ${out.length} values, need ${count} x ${n}`);
  if (overlaps(image, out)) throw new RangeError('out must not overlap image');
  for (let s = 0; s < count; s++) checkRow(key, params, s * d, d, s);
  if (count === 0) return;

  switch (key) {
    case 'b':
      for (let s = 0; s < count; s++) affine(image, n, 1, params[s], out, s * n);
      return;
    case 'c':
      for (let s = 0; s < count; s++) affine(image, n, params[s], 0, out, s * n);
      return;
    case 'cb':
      for (let s = 0; s < count; s++) affine(image, n, params[2 * s], params[2 * s + 1], out, s * n);
      return;
    case 'g':
    case 'gc': {
      const sc = scratch ?? new TransformScratch();
      if (sc.logAbs.length < n) sc.ensure(n, shape.height, shape.width, 0);
      prepareLog(image, n, sc.logAbs, sc.sign);
      if (key === 'g') {
        for (let s = 0; s < count; s++) power(sc.logAbs, sc.sign, n, params[s], 0, out, s * n);
      } else {
        for (let s = 0; s < count; s++) power(sc.logAbs, sc.sign, n, params[2 * s], Math.log(params[2 * s + 1]), out, s * n);
      }
      return;
    }
    case 't':
      for (let s = 0; s < count; s++) shift(image, shape, 1, 0, params[2 * s], params[2 * s + 1], out, s * n);
      return;
    case 'bt':
      for (let s = 0; s < count; s++) shift(image, shape, 1, params[3 * s], params[3 * s + 1], params[3 * s + 2], out, s * n);
      return;
    case 'ct':
      for (let s = 0; s < count; s++) shift(image, shape, params[3 * s], 0, params[3 * s + 1], params[3 * s + 2], out, s * n);
      return;
    case 'cbt':
      for (let s = 0; s < count; s++) shift(image, shape, params[4 * s], params[4 * s + 1], params[4 * s + 2], params[4 * s + 3], out, s * n);
      return;
    case 'r': {
      const sc = scratch ?? new TransformScratch();
      if (sc.blurTmp.length < n) sc.ensure(n, shape.height, shape.width, 0);
      for (let s = 0; s < count; s++) blur(image, shape, params[s], sc, out, s * n);
      return;
    }
  }
}

/** Convenience: one transform with parameters beta, into a new array. */
export function applyTransform(key: TransformKey, image: Float32Array, shape: ImageShape, beta: ArrayLike<number>): Float32Array {
  const spec = getTransform(key);
  if (beta.length !== spec.params.length) {
    throw new RangeError(`transform '${key}' takes ${spec.params.length} parameters (${spec.params.join(', ')}), got ${beta.length}`);
  }
  const out = new Float32Array(checkShape(shape));
  applyTransformBatch(key, image, shape, Float64Array.from(beta), 1, out);
  return out;
}

function affine(image: Float32Array, n: number, k: number, b: number, out: Float32Array, o: number): void {
  if (k === 1) {
    for (let j = 0; j < n; j++) out[o + j] = image[j] + b;
  } else if (b === 0) {
    for (let j = 0; j < n; j++) out[o + j] = k * image[j];
  } else {
    for (let j = 0; j < n; j++) out[o + j] = k * image[j] + b;
  }
}

function prepareLog(image: Float32Array, n: number, logAbs: Float64Array, sign: Float32Array): void {
  for (let j = 0; j < n; j++) {
    const x = image[j];
    if (x > 0) {
      logAbs[j] = Math.log(x);
      sign[j] = 1;
    } else if (x < 0) {
      logAbs[j] = Math.log(-x);
      sign[j] = -1;
    } else {
      logAbs[j] = 0;
      sign[j] = 0;
    }
  }
}

/** out = sign * exp(g ln|x| + lnk) = k sign(x) |x|^g */
function power(logAbs: Float64Array, sign: Float32Array, n: number, g: number, lnk: number, out: Float32Array, o: number): void {
  for (let j = 0; j < n; j++) out[o + j] = sign[j] * Math.exp(g * logAbs[j] + lnk);
}

/** out = shift(k x + b) by (round(tx), round(ty)), cyclic. */
function shift(image: Float32Array, shape: ImageShape, k: number, b: number, tx: number, ty: number, out: Float32Array, o: number): void {
  const { channels: C, height: H, width: W } = shape;
  let sx = Math.round(tx) % W;
  if (sx < 0) sx += W;
  sx |= 0; // also turns -0 into 0
  let sy = Math.round(ty) % H;
  if (sy < 0) sy += H;
  sy |= 0;
  const plain = k === 1 && b === 0;
  const head = W - sx; // out columns [sx, W) come from source columns [0, W - sx)
  for (let c = 0; c < C; c++) {
    const plane = c * H * W;
    for (let i = 0; i < H; i++) {
      let si = i - sy;
      if (si < 0) si += H;
      const src = plane + si * W;
      const dst = o + plane + i * W;
      if (plain) {
        if (W >= 64) {
          out.set(image.subarray(src, src + head), dst + sx);
          if (sx > 0) out.set(image.subarray(src + head, src + W), dst);
        } else {
          for (let j = 0; j < head; j++) out[dst + sx + j] = image[src + j];
          for (let j = 0; j < sx; j++) out[dst + j] = image[src + head + j];
        }
      } else {
        for (let j = 0; j < head; j++) out[dst + sx + j] = k * image[src + j] + b;
        for (let j = 0; j < sx; j++) out[dst + j] = k * image[src + head + j] + b;
      }
    }
  }
}

/** Reflect-101 period of an axis of n pixels (1 for n = 1: every tap reads pixel 0). */
function reflectPeriod(n: number): number {
  return n === 1 ? 1 : 2 * (n - 1);
}

/**
 * Folds the Gaussian kernel of variance r and radius `rad` modulo the reflect-101 period P of an
 * axis: tap i reads pixel reflect101(j + i) = reflect101(j + (i mod P)), so the taps with the same
 * i mod P can be summed into one weight first. out[j] = sum_{m < P} fold[m] x[reflect101(j + m)] is
 * the same sum as the unfolded kernel (no truncation, only another summation order) at a cost of P
 * taps per output instead of 2 rad + 1. Weights are normalised like the half kernel (sum 1).
 */
function foldKernel(r: number, rad: number, P: number, fold: Float64Array): void {
  fold.fill(0, 0, P);
  const inv2r = -0.5 / r;
  let total = 1;
  fold[0] = 1;
  // m = i mod P and its mirror (-i) mod P, kept by wrapping counters instead of `%`
  for (let i = 1, m = 1 % P, mirror = (P - 1) % P; i <= rad; i++) {
    const v = Math.exp(i * i * inv2r);
    total += 2 * v;
    fold[m] += v;
    fold[mirror] += v;
    if (++m === P) m = 0;
    if (--mirror < 0) mirror = P - 1;
  }
  for (let m = 0; m < P; m++) fold[m] /= total;
}

function blur(image: Float32Array, shape: ImageShape, r: number, sc: TransformScratch, out: Float32Array, o: number): void {
  const { channels: C, height: H, width: W } = shape;
  if (r === 0) {
    out.set(image, o);
    return;
  }
  const rad = blurRadius(r);
  // An axis whose kernel reaches past a whole reflection (rad >= n - 1) is blurred with the kernel
  // folded modulo its period (cost O(n) per output, however large r); shorter kernels keep the
  // direct loops below, bit-identical to before folding existed.
  const foldX = rad >= W - 1;
  const foldY = rad >= H - 1;
  if (foldX || foldY) {
    blurFolded(image, shape, r, rad, foldX, foldY, sc, out, o);
    return;
  }
  sc.ensureRadius(H, W, rad);
  const w = sc.kernel;
  // half kernel, normalised so that w[0] + 2 sum_{i>=1} w[i] = 1
  let total = 1;
  w[0] = 1;
  const inv2r = -0.5 / r;
  for (let i = 1; i <= rad; i++) {
    const v = Math.exp(i * i * inv2r);
    w[i] = v;
    total += 2 * v;
  }
  for (let i = 0; i <= rad; i++) w[i] /= total;
  const rw = sc.reflectW;
  for (let j = 0; j < W + 2 * rad; j++) rw[j] = reflect101(j - rad, W);
  const rh = sc.reflectH;
  for (let i = 0; i < H + 2 * rad; i++) rh[i] = reflect101(i - rad, H) * W;

  // horizontal pass: image -> tmp, through one padded row
  const tmp = sc.blurTmp;
  const row = sc.blurRow;
  const w0 = w[0];
  const rows = C * H;
  // Four outputs at a time: independent accumulators break the add-latency chain (about 2x);
  // each output still sums in the same order, so results are bit-identical to one at a time.
  const W4 = W - (W % 4);
  for (let q = 0; q < rows; q++) {
    const base = q * W;
    for (let j = 0; j < W + 2 * rad; j++) row[j] = image[base + rw[j]];
    let j = 0;
    for (; j < W4; j += 4) {
      const c = j + rad;
      let a0 = w0 * row[c];
      let a1 = w0 * row[c + 1];
      let a2 = w0 * row[c + 2];
      let a3 = w0 * row[c + 3];
      for (let i = 1; i <= rad; i++) {
        const wi = w[i];
        a0 += wi * (row[c - i] + row[c + i]);
        a1 += wi * (row[c + 1 - i] + row[c + 1 + i]);
        a2 += wi * (row[c + 2 - i] + row[c + 2 + i]);
        a3 += wi * (row[c + 3 - i] + row[c + 3 + i]);
      }
      tmp[base + j] = a0;
      tmp[base + j + 1] = a1;
      tmp[base + j + 2] = a2;
      tmp[base + j + 3] = a3;
    }
    for (; j < W; j++) {
      const c = j + rad;
      let acc = w0 * row[c];
      for (let i = 1; i <= rad; i++) acc += w[i] * (row[c - i] + row[c + i]);
      tmp[base + j] = acc;
    }
  }
  // vertical pass: tmp -> out, one output row at a time accumulated in a float64 row
  const HW = H * W;
  // Four columns at a time in registers (same per-output order as the horizontal pass).
  for (let c = 0; c < C; c++) {
    const plane = c * HW;
    for (let y = 0; y < H; y++) {
      const centre = plane + rh[y + rad];
      const dst = o + plane + y * W;
      let x = 0;
      for (; x < W4; x += 4) {
        let a0 = w0 * tmp[centre + x];
        let a1 = w0 * tmp[centre + x + 1];
        let a2 = w0 * tmp[centre + x + 2];
        let a3 = w0 * tmp[centre + x + 3];
        for (let i = 1; i <= rad; i++) {
          const wi = w[i];
          const up = plane + rh[y + rad - i] + x;
          const dn = plane + rh[y + rad + i] + x;
          a0 += wi * (tmp[up] + tmp[dn]);
          a1 += wi * (tmp[up + 1] + tmp[dn + 1]);
          a2 += wi * (tmp[up + 2] + tmp[dn + 2]);
          a3 += wi * (tmp[up + 3] + tmp[dn + 3]);
        }
        out[dst + x] = a0;
        out[dst + x + 1] = a1;
        out[dst + x + 2] = a2;
        out[dst + x + 3] = a3;
      }
      for (; x < W; x++) {
        let a = w0 * tmp[centre + x];
        for (let i = 1; i <= rad; i++) a += w[i] * (tmp[plane + rh[y + rad - i] + x] + tmp[plane + rh[y + rad + i] + x]);
        out[dst + x] = a;
      }
    }
  }
}

/**
 * The blur with the kernel folded on the axes flagged (see foldKernel), the direct half kernel on
 * the others. Same separable passes as `blur`: horizontal image -> tmp (float64), vertical
 * tmp -> out.
 */
function blurFolded(
  image: Float32Array,
  shape: ImageShape,
  r: number,
  rad: number,
  foldX: boolean,
  foldY: boolean,
  sc: TransformScratch,
  out: Float32Array,
  o: number,
): void {
  const { channels: C, height: H, width: W } = shape;
  const PX = reflectPeriod(W);
  const PY = reflectPeriod(H);
  // taps per output and the offset of tap 0 along each axis: folded taps m = 0..P-1 read
  // reflect101(j + m); direct taps i = -rad..rad read reflect101(j + i)
  const tapsX = foldX ? PX : 2 * rad + 1;
  const tapsY = foldY ? PY : 2 * rad + 1;
  const startX = foldX ? 0 : -rad;
  const startY = foldY ? 0 : -rad;
  sc.ensureFolded(W + tapsX, H + tapsY, tapsX, tapsY);
  const kx = sc.foldX;
  const ky = sc.foldY;
  if (foldX) foldKernel(r, rad, PX, kx);
  if (foldY) {
    if (foldX && PY === PX) ky.set(kx.subarray(0, PX));
    else foldKernel(r, rad, PY, ky);
  }
  if (!foldX || !foldY) {
    // the direct axis: the whole kernel, normalised as in `blur` (rad < n - 1 here, so it is short)
    const full = foldX ? ky : kx;
    const inv2r = -0.5 / r;
    let total = 1;
    full[rad] = 1;
    for (let i = 1; i <= rad; i++) {
      const v = Math.exp(i * i * inv2r);
      full[rad - i] = v;
      full[rad + i] = v;
      total += 2 * v;
    }
    for (let t = 0; t <= 2 * rad; t++) full[t] /= total;
  }
  const rw = sc.reflectW;
  for (let t = 0; t < W + tapsX; t++) rw[t] = reflect101(t + startX, W);
  const rh = sc.reflectH;
  for (let t = 0; t < H + tapsY; t++) rh[t] = reflect101(t + startY, H) * W;

  const tmp = sc.blurTmp;
  const row = sc.blurRow;
  const rows = C * H;
  const W4 = W - (W % 4);
  for (let q = 0; q < rows; q++) {
    const base = q * W;
    for (let t = 0; t < W + tapsX; t++) row[t] = image[base + rw[t]];
    // four outputs at a time (independent accumulators), as in `blur`
    let j = 0;
    for (; j < W4; j += 4) {
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      for (let m = 0; m < tapsX; m++) {
        const km = kx[m];
        a0 += km * row[j + m];
        a1 += km * row[j + m + 1];
        a2 += km * row[j + m + 2];
        a3 += km * row[j + m + 3];
      }
      tmp[base + j] = a0;
      tmp[base + j + 1] = a1;
      tmp[base + j + 2] = a2;
      tmp[base + j + 3] = a3;
    }
    for (; j < W; j++) {
      let acc = 0;
      for (let m = 0; m < tapsX; m++) acc += kx[m] * row[j + m];
      tmp[base + j] = acc;
    }
  }
  const HW = H * W;
  const acc = sc.blurAcc;
  for (let c = 0; c < C; c++) {
    const plane = c * HW;
    for (let y = 0; y < H; y++) {
      acc.fill(0, 0, W);
      for (let m = 0; m < tapsY; m++) {
        const wm = ky[m];
        const src = plane + rh[y + m];
        for (let x = 0; x < W; x++) acc[x] += wm * tmp[src + x];
      }
      const dst = o + plane + y * W;
      for (let x = 0; x < W; x++) out[dst + x] = acc[x];
    }
  }
}
