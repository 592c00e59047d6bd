import fc from 'fast-check';
import { addCounts, mergeCounts, planCalls, splitRange, splitSpan, sum, type Chunk } from './chunks';

describe('splitRange', () => {
  it('covers [0, count) with consecutive chunks of at most size', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 1, max: 5_000 }), (count, size) => {
        const chunks = splitRange(1, count, size);
        let next = 0;
        for (const c of chunks) {
          // plain checks: expect() per chunk is slow over thousands of chunks
          if (c.stream !== 1 || c.start !== next || c.end <= c.start || c.end - c.start > size) return false;
          next = c.end;
        }
        return next === count && chunks.length === Math.ceil(count / size);
      }),
    );
  });

  it('rejects a bad size or count', () => {
    expect(() => splitRange(0, 10, 0)).toThrow(RangeError);
    expect(() => splitRange(0, -1, 5)).toThrow(RangeError);
    expect(() => splitRange(0, 1.5, 5)).toThrow(RangeError);
  });
});

describe('splitSpan', () => {
  it('covers [start, end) with consecutive chunks of at most size', () => {
    expect(splitSpan(1, 84, 168, 50)).toEqual([
      { stream: 1, start: 84, end: 134 },
      { stream: 1, start: 134, end: 168 },
    ]);
    expect(splitSpan(0, 32, 32, 50)).toEqual([]);
    expect(() => splitSpan(0, 40, 32, 50)).toThrow(RangeError);
  });
});

describe('planCalls', () => {
  it('puts selection and estimation in one call when they fit, and cuts across the boundary otherwise', () => {
    const fixed = (n0: number, n: number): Chunk[] => [
      { stream: 0, start: 0, end: n0 },
      { stream: 1, start: 0, end: n },
    ];
    expect(planCalls(fixed(200, 1000), 2000)).toEqual([[{ stream: 0, start: 0, end: 200 }, { stream: 1, start: 0, end: 1000 }]]);
    expect(planCalls(fixed(200, 5000), 2000)).toEqual([
      [{ stream: 0, start: 0, end: 200 }, { stream: 1, start: 0, end: 1800 }],
      [{ stream: 1, start: 1800, end: 3800 }],
      [{ stream: 1, start: 3800, end: 5000 }],
    ]);
    expect(planCalls(fixed(0, 0), 10)).toEqual([]);
  });

  it('covers every range exactly once, in order, with calls of at most size samples and maxPieces pieces', () => {
    const range = fc.record({ stream: fc.integer({ min: 0, max: 3 }), start: fc.integer({ min: 0, max: 1_000 }), len: fc.integer({ min: 0, max: 3_000 }) });
    fc.assert(
      fc.property(fc.array(range, { maxLength: 12 }), fc.integer({ min: 1, max: 2_500 }), fc.integer({ min: 1, max: 8 }), (rs, size, maxPieces) => {
        const ranges = rs.map((r) => ({ stream: r.stream, start: r.start, end: r.start + r.len }));
        const calls = planCalls(ranges, size, maxPieces);
        const pieces = calls.flat();
        for (const call of calls) {
          const total = sum(call.map((c) => c.end - c.start));
          if (call.length === 0 || call.length > maxPieces || total > size || total < 1) return false;
        }
        // the pieces, consumed in order, are exactly the non-empty input ranges
        let k = 0;
        for (const r of ranges) {
          for (let at = r.start; at < r.end; ) {
            const p = pieces[k++];
            if (!p || p.stream !== r.stream || p.start !== at || p.end <= p.start || p.end > r.end) return false;
            at = p.end;
          }
        }
        return k === pieces.length;
      }),
    );
  });

  it('rejects a bad size or range', () => {
    expect(() => planCalls([{ stream: 0, start: 0, end: 5 }], 0)).toThrow(RangeError);
    expect(() => planCalls([{ stream: 0, start: 5, end: 4 }], 10)).toThrow(RangeError);
  });
});

describe('counts', () => {
  it('merge by addition, whatever the lengths', () => {
    expect(mergeCounts([[1n, 2n], [3, 4, 5], []])).toEqual([4, 6, 5]);
    expect(addCounts([1], [0n, 0n, 2n])).toEqual([1, 0, 2]);
    expect(() => addCounts([], [-1])).toThrow(RangeError);
  });

  it('merging chunk counts is independent of how the range was split', () => {
    const counts = (a: number, b: number): number[] => {
      const c = new Array<number>(3).fill(0);
      for (let i = a; i < b; i++) c[(i * 7919) % 3]!++;
      return c;
    };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3_000 }), fc.integer({ min: 1, max: 700 }), (n, size) => {
        const merged = mergeCounts(splitRange(0, n, size).map((c) => counts(c.start, c.end)));
        expect(merged).toEqual(counts(0, n));
        expect(sum(merged)).toBe(n);
      }),
    );
  });
});
