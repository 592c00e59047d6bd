// Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
// SC 2011; the Random123 library). A counter-based generator: the output is a pure function of
// (counter, key), so any sample can be produced independently of every other one.

/** Random123 PHILOX_M4x32_0 and PHILOX_M4x32_1: the round multipliers. */
export const PHILOX_M0 = 0xd2511f53;
export const PHILOX_M1 = 0xcd9e8d57;
/** Random123 PHILOX_W32_0 and PHILOX_W32_1: the Weyl key increments (golden ratio, sqrt(3)-1). */
export const PHILOX_W0 = 0x9e3779b9;
export const PHILOX_W1 = 0xbb67ae85;

const TWO_POW_M32 = 2.3283064365386963e-10; // 2^-32

/**
 * High 32 bits of the 64-bit product a*b (a, b uint32). The low half comes exactly from
 * Math.imul; the float product a*b is off by at most 2^12 from the exact 64-bit product, so
 * (a*b - lo) / 2^32 lies within 1e-6 of the integer high half and rounding recovers it exactly.
 * This beats a 16-bit split by several multiplies per call (hot path: millions of normals).
 */
export function mulhi32(a: number, b: number): number {
  const lo = Math.imul(a, b) >>> 0;
  return ((a * b - lo) * TWO_POW_M32 + 0.5) >>> 0;
}

/**
 * Philox4x32-10 of counter (c0..c3) under key (k0, k1), all uint32, written to out[off..off+3].
 * Allocation-free; the sampler calls this once per pair of normals.
 */
export function philoxInto(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array | number[],
  off = 0,
): void {
  // State kept as int32 (V8's fastest representation); only the float multiply needs uint32.
  c0 |= 0;
  c1 |= 0;
  c2 |= 0;
  c3 |= 0;
  k0 |= 0;
  k1 |= 0;
  for (let r = 0; r < 10; r++) {
    // Random123 bumps the key between rounds: round r uses key + r * W.
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) | 0;
      k1 = (k1 + PHILOX_W1) | 0;
    }
    const lo0 = Math.imul(PHILOX_M0, c0);
    const hi0 = ((PHILOX_M0 * (c0 >>> 0) - (lo0 >>> 0)) * TWO_POW_M32 + 0.5) | 0;
    const lo1 = Math.imul(PHILOX_M1, c2);
    const hi1 = ((PHILOX_M1 * (c2 >>> 0) - (lo1 >>> 0)) * TWO_POW_M32 + 0.5) | 0;
    const n0 = hi1 ^ c1 ^ k0;
    const n2 = hi0 ^ c3 ^ k1;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
  }
  out[off] = c0 >>> 0;
  out[off + 1] = c1 >>> 0;
  out[off + 2] = c2 >>> 0;
  out[off + 3] = c3 >>> 0;
}

/** Philox4x32-10 as in Random123: `philox4x32_10(ctr, key)` returns the 4 output words (uint32). */
export function philox4x32_10(
  ctr: readonly [number, number, number, number] | ArrayLike<number>,
  key: readonly [number, number] | ArrayLike<number>,
): [number, number, number, number] {
  if (ctr.length !== 4) throw new RangeError(`ctr must have 4 words, got ${ctr.length}`);
  if (key.length !== 2) throw new RangeError(`key must have 2 words, got ${key.length}`);
  for (let i = 0; i < 4; i++) checkWord(ctr[i], `ctr[${i}]`);
  for (let i = 0; i < 2; i++) checkWord(key[i], `key[${i}]`);
  const out: [number, number, number, number] = [0, 0, 0, 0];
  philoxInto(ctr[0], ctr[1], ctr[2], ctr[3], key[0], key[1], out);
  return out;
}

function checkWord(w: number, name: string): void {
  if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) {
    throw new RangeError(`${name} must be a uint32, got ${w}`);
  }
}
