// Counter-based standard normals. The d normals of sample `index` in `stream` under `seed` are a
// pure function of (seed, stream, index, d): any split of a run across batches, workers or
// replicas reproduces the same draws (ALGORITHM.md section 6).
//
// Layout (recorded in certificates as GENERATOR_NAME; changing any detail needs a new name):
//   key     = (seed & 0xffffffff, seed >> 32)
//   counter = (index & 0xffffffff, floor(index / 2^32), stream, j) for block j = 0..ceil(d/2)-1
//   block j -> words (w0, w1, w2, w3) = Philox4x32-10(counter, key)
//   u1 = uniform53(w0, w1), u2 = uniform53(w2, w3)
//   normal[2j] = sqrt(-2 ln u1) cos(2 pi u2), normal[2j+1] = sqrt(-2 ln u1) sin(2 pi u2)
//   (for odd d the last sine is dropped)
//   uniform53(hi, lo) = k * 2^-53 with k = (hi >>> 5) * 2^26 + (lo >>> 6), except k = 0 -> 2^-54.
// A 53-bit lattice in the open interval (0, 1) cannot have 2^53 points (k + 1/2 rounds to 1 at
// the top), so the single point k = 0 is moved half a step up: u is never 0 (ln u finite) and
// never 1, with maximum 1 - 2^-53.

// Local copies of the Philox constants: CommonJS turns imported bindings into property loads
// in the hot loop.
const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

export const GENERATOR_NAME = 'philox4x32-10/box-muller-53';

const TWO_POW_32 = 4294967296;
const TWO_POW_M32 = 2.3283064365386963e-10;
const TWO_POW_26 = 67108864;
const TWO_POW_M53 = 1.1102230246251565e-16;
const TWO_POW_M54 = 5.551115123125783e-17;
const TWO_PI = 2 * Math.PI;
const SEED_MAX = (1n << 64n) - 1n;
const STREAM_MAX = 0xffffffff;

/** The 53-bit uniform in (0, 1) built from two Philox words (see the layout above). */
export function uniform53(hi: number, lo: number): number {
  const k = (hi >>> 5) * TWO_POW_26 + (lo >>> 6);
  return k === 0 ? TWO_POW_M54 : k * TWO_POW_M53;
}

/** Split a seed into the Philox key words (lo, hi); throws RangeError outside [0, 2^64 - 1]. */
export function seedKey(seed: bigint): [number, number] {
  checkSeed(seed);
  return [Number(seed & 0xffffffffn), Number(seed >> 32n)];
}

function checkSeed(seed: bigint): void {
  if (typeof seed !== 'bigint' || seed < 0n || seed > SEED_MAX) {
    throw new RangeError(`seed must be a bigint in [0, 2^64 - 1], got ${String(seed)}`);
  }
}

// The last seed's key words: per-sample callers (sampleNormals in a loop) then pay no BigInt
// arithmetic or allocation for the key.
let cachedSeed = 0n;
let cachedK0 = 0;
let cachedK1 = 0;

function keyWords(seed: bigint): void {
  if (seed === cachedSeed) return;
  checkSeed(seed);
  cachedK0 = Number(seed & 0xffffffffn);
  cachedK1 = Number(seed >> 32n);
  cachedSeed = seed;
}

function checkStream(stream: number): void {
  if (!Number.isInteger(stream) || stream < 0 || stream > STREAM_MAX) {
    throw new RangeError(`stream must be an integer in [0, 2^32 - 1], got ${stream}`);
  }
}

function checkIndex(index: number, name: string): void {
  if (!Number.isSafeInteger(index) || index < 0) {
    throw new RangeError(`${name} must be an integer in [0, 2^53 - 1], got ${index}`);
  }
}

function checkDim(dim: number): void {
  if (!Number.isSafeInteger(dim) || dim < 1) {
    throw new RangeError(`dim must be a positive integer, got ${dim}`);
  }
}

/**
 * Writes the `dim` normals of sample (ilo, ihi) to out[offset..]. Philox is inlined with local
 * variables so the loop allocates nothing and V8 keeps everything in registers.
 */
function writeSample(
  k0: number,
  k1: number,
  ilo: number,
  ihi: number,
  stream: number,
  dim: number,
  out: Float64Array,
  offset: number,
): void {
  const blocks = (dim + 1) >>> 1;
  for (let j = 0; j < blocks; j++) {
    // State kept as int32 (V8's fastest representation); only the float multiply needs uint32.
    let c0 = ilo | 0;
    let c1 = ihi | 0;
    let c2 = stream | 0;
    let c3 = j;
    let key0 = k0 | 0;
    let key1 = k1 | 0;
    for (let r = 0; r < 10; r++) {
      if (r > 0) {
        key0 = (key0 + PHILOX_W0) | 0;
        key1 = (key1 + PHILOX_W1) | 0;
      }
      const lo0 = Math.imul(PHILOX_M0, c0);
      const hi0 = ((PHILOX_M0 * (c0 >>> 0) - (lo0 >>> 0)) * TWO_POW_M32 + 0.5) | 0;
      const lo1 = Math.imul(PHILOX_M1, c2);
      const hi1 = ((PHILOX_M1 * (c2 >>> 0) - (lo1 >>> 0)) * TWO_POW_M32 + 0.5) | 0;
      c0 = hi1 ^ c1 ^ key0;
      c1 = lo1;
      c2 = hi0 ^ c3 ^ key1;
      c3 = lo0;
    }
    const u1 = uniform53(c0, c1);
    const u2 = uniform53(c2, c3);
    const radius = Math.sqrt(-2 * Math.log(u1));
    const theta = TWO_PI * u2;
    const at = offset + 2 * j;
    out[at] = radius * Math.cos(theta);
    if (2 * j + 1 < dim) out[at + 1] = radius * Math.sin(theta);
  }
}

/** The `dim` standard normals of sample `index` of `stream` under `seed`, into out[offset..]. */
export function sampleNormals(
  seed: bigint,
  stream: number,
  index: number,
  dim: number,
  out: Float64Array,
  offset = 0,
): void {
  keyWords(seed);
  checkStream(stream);
  checkIndex(index, 'index');
  checkDim(dim);
  checkIndex(offset, 'offset');
  if (offset + dim > out.length) {
    throw new RangeError(`out is too short: need ${offset + dim} values, have ${out.length}`);
  }
  writeSample(cachedK0, cachedK1, index >>> 0, Math.floor(index / TWO_POW_32), stream, dim, out, offset);
}

/**
 * Samples start..start+count-1 of `stream`, row-major (count x dim) into out[offset..].
 * Identical to calling sampleNormals per index; this is the fast path for large counts
 * (validation once, counters stepped in place, no allocation per sample).
 */
export function fillNormals(
  seed: bigint,
  stream: number,
  start: number,
  count: number,
  dim: number,
  out: Float64Array,
  offset = 0,
): void {
  keyWords(seed);
  const k0 = cachedK0;
  const k1 = cachedK1;
  checkStream(stream);
  checkIndex(start, 'start');
  checkIndex(count, 'count');
  checkDim(dim);
  checkIndex(offset, 'offset');
  if (count === 0) return;
  if (start > Number.MAX_SAFE_INTEGER - (count - 1)) {
    throw new RangeError(`start + count - 1 must not exceed 2^53 - 1, got ${start} + ${count} - 1`);
  }
  if (offset + count * dim > out.length) {
    throw new RangeError(`out is too short: need ${offset + count * dim} values, have ${out.length}`);
  }
  let ilo = start >>> 0;
  let ihi = Math.floor(start / TWO_POW_32);
  let at = offset;
  for (let i = 0; i < count; i++) {
    writeSample(k0, k1, ilo, ihi, stream, dim, out, at);
    at += dim;
    ilo = (ilo + 1) >>> 0;
    if (ilo === 0) ihi++;
  }
}
