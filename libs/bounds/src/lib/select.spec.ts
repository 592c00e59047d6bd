import fc from 'fast-check';

import { largestAscending, partitionLargest } from './select';

describe('largestAscending', () => {
  it('returns the h largest values in ascending order (any input, duplicates included)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), fc.integer({ min: -3, max: 3 })), { minLength: 1, maxLength: 300 }),
        fc.nat(),
        (values, hRaw) => {
          const h = hRaw % (values.length + 1);
          const a = Float64Array.from(values);
          const top = largestAscending(a, h);
          const expected = Float64Array.from(values).sort().subarray(values.length - h);
          expect(Array.from(top)).toEqual(Array.from(expected));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('partitions: everything before the tail is <= everything in it', () => {
    const a = new Float64Array(10001);
    for (let i = 0; i < a.length; i++) a[i] = Math.sin(i * 12.9898) * 43758.5453 - Math.floor(Math.sin(i * 12.9898) * 43758.5453);
    const copy = Float64Array.from(a).sort();
    partitionLargest(a, 5000);
    let maxHead = -Infinity;
    let minTail = Infinity;
    for (let i = 0; i < 5001; i++) maxHead = Math.max(maxHead, a[i]);
    for (let i = 5001; i < a.length; i++) minTail = Math.min(minTail, a[i]);
    expect(maxHead).toBeLessThanOrEqual(minTail);
    expect(Float64Array.from(a).sort()).toEqual(copy);
  });
});
