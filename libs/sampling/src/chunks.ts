// Pure helpers of the sampling plan: how [0, n) is cut into chunks and how chunk counts merge.
// No gRPC here.

/** A half-open range of sample indices [start, end) of one generator stream. */
export interface Chunk {
  stream: number;
  start: number;
  end: number;
}

/**
 * Cuts [0, count) of `stream` into consecutive chunks of at most `size` samples. The counts of
 * a counter-based generator depend only on (seed, stream, index), so any cut gives the same sum.
 */
export function splitRange(stream: number, count: number, size: number): Chunk[] {
  if (!Number.isSafeInteger(count) || count < 0) throw new RangeError(`count must be a non-negative integer, got ${count}`);
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  const chunks: Chunk[] = [];
  for (let start = 0; start < count; start += size) chunks.push({ stream, start, end: Math.min(count, start + size) });
  return chunks;
}

/**
 * Cuts [start, end) of `stream` into consecutive chunks of at most `size` samples: the extra
 * samples of a sequential look (section 9), after those already counted.
 */
export function splitSpan(stream: number, start: number, end: number, size: number): Chunk[] {
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(end) || end < start) throw new RangeError(`bad span [${start}, ${end})`);
  return splitRange(stream, end - start, size).map((c) => ({ stream, start: c.start + start, end: c.end + start }));
}

/** Adds `counts` into `into` element-wise (growing it when `counts` is longer). */
export function addCounts(into: number[], counts: ReadonlyArray<number | bigint>): number[] {
  for (let i = 0; i < counts.length; i++) {
    const v = Number(counts[i]);
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`class count ${i} is not a non-negative integer: ${String(counts[i])}`);
    into[i] = (into[i] ?? 0) + v;
  }
  return into;
}

/** Element-wise sum of several count vectors. */
export function mergeCounts(parts: ReadonlyArray<ReadonlyArray<number | bigint>>): number[] {
  const out: number[] = [];
  for (const p of parts) addCounts(out, p);
  for (let i = 0; i < out.length; i++) out[i] ??= 0;
  return out;
}

/** Sum of a count vector. */
export function sum(counts: ReadonlyArray<number>): number {
  let s = 0;
  for (const c of counts) s += c;
  return s;
}
