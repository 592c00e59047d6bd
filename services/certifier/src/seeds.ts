import { createHash, randomBytes } from 'node:crypto';

/** Seeds are int64 on the wire and non-negative: [0, 2^63 - 1]. */
export const SEED_MAX = (1n << 63n) - 1n;

/** A fresh seed from the OS CSPRNG: 63 random bits. */
export function drawSeed(): bigint {
  return randomBytes(8).readBigUInt64BE(0) & SEED_MAX;
}

/**
 * The seed of a stream item that brings none: the first 63 bits of
 * SHA-256("glcert.stream-item-seed.v1" NUL base_seed NUL item_id). Deterministic, so a rerun
 * of a dataset with the same base seed reproduces every certificate; distinct ids give
 * independent-looking seeds.
 */
export function deriveItemSeed(baseSeed: bigint, itemId: string): bigint {
  const h = createHash('sha256').update(`glcert.stream-item-seed.v1\0${baseSeed.toString()}\0`).update(itemId, 'utf8').digest();
  return h.readBigUInt64BE(0) & SEED_MAX;
}
