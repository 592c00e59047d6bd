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
  return splitSpan(stream, 0, count, size);
}

/**
 * Cuts [start, end) of `stream` into consecutive chunks of at most `size` samples: the extra
 * samples of a sequential look (section 9), after those already counted.
 */
export function splitSpan(stream: number, start: number, end: number, size: number): Chunk[] {
  if (!Number.isSafeInteger(start) || start < 0 || !Number.isSafeInteger(end) || end < start) throw new RangeError(`bad span [${start}, ${end})`);
  // one range cut every `size` samples: each call of the plan is one chunk
  return planCalls([{ stream, start, end }], size).map(([chunk]) => chunk!);
}

/**
 * Groups ranges into CountSamples calls of at most `size` samples each: the ranges are laid end
 * to end and cut every `size` samples, so a call may carry the end of one range and the start of
 * the next (a FIXED certification's selection [0, n0) of stream 0 and estimation [0, n) of
 * stream 1: one call when n0 + n <= size). Each call lists its pieces in order; the first piece
 * is the request's own range, the others its more_ranges (at most `maxPieces` per call).
 */
export function planCalls(ranges: readonly Chunk[], size: number, maxPieces = 8): Chunk[][] {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`chunk size must be a positive integer, got ${size}`);
  if (!Number.isSafeInteger(maxPieces) || maxPieces < 1) throw new RangeError(`maxPieces must be a positive integer, got ${maxPieces}`);
  const calls: Chunk[][] = [];
  let call: Chunk[] = [];
  let room = size;
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.start) || r.start < 0 || !Number.isSafeInteger(r.end) || r.end < r.start) throw new RangeError(`bad range [${r.start}, ${r.end})`);
    for (let at = r.start; at < r.end; ) {
      const take = Math.min(room, r.end - at);
      call.push({ stream: r.stream, start: at, end: at + take });
      at += take;
      room -= take;
      if (room === 0 || call.length === maxPieces) {
        calls.push(call);
        call = [];
        room = size;
      }
    }
  }
  if (call.length > 0) calls.push(call);
  return calls;
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
