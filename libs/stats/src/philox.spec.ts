import fc from 'fast-check';
import { mulhi32, philox4x32_10, philoxInto } from './philox';

const hex = (words: readonly number[]) => words.map((w) => w.toString(16).padStart(8, '0')).join(' ');
const word = (s: string) => s.split(' ').map((h) => parseInt(h, 16));

// Random123 kat_vectors, philox4x32 with 10 rounds: counter, key, expected output.
const KAT: [string, string, string][] = [
  ['00000000 00000000 00000000 00000000', '00000000 00000000', '6627e8d5 e169c58d bc57ac4c 9b00dbd8'],
  ['ffffffff ffffffff ffffffff ffffffff', 'ffffffff ffffffff', '408f276d 41c83b0e a20bc7c6 6d5451fd'],
  ['243f6a88 85a308d3 13198a2e 03707344', 'a4093822 299f31d0', 'd16cfe09 94fdcceb 5001e420 24126ea1'],
];

// Independent reference in BigInt arithmetic, straight from the Random123 definition.
function philoxBigInt(ctr: number[], key: number[]): number[] {
  const M0 = 0xd2511f53n;
  const M1 = 0xcd9e8d57n;
  const MASK = 0xffffffffn;
  let [c0, c1, c2, c3] = ctr.map(BigInt);
  let [k0, k1] = key.map(BigInt);
  for (let r = 0; r < 10; r++) {
    const p0 = M0 * c0;
    const p1 = M1 * c2;
    [c0, c1, c2, c3] = [(p1 >> 32n) ^ c1 ^ k0, p1 & MASK, (p0 >> 32n) ^ c3 ^ k1, p0 & MASK];
    k0 = (k0 + 0x9e3779b9n) & MASK;
    k1 = (k1 + 0xbb67ae85n) & MASK;
  }
  return [c0, c1, c2, c3].map(Number);
}

const u32 = fc.nat({ max: 0xffffffff });

describe('philox4x32_10', () => {
  it.each(KAT)('matches the Random123 known answer for ctr %s, key %s', (ctr, key, expected) => {
    expect(hex(philox4x32_10(word(ctr), word(key)))).toBe(expected);
  });

  it('agrees with a BigInt implementation on random counters and keys', () => {
    fc.assert(
      fc.property(fc.tuple(u32, u32, u32, u32), fc.tuple(u32, u32), (ctr, key) => {
        expect(philox4x32_10(ctr, key)).toEqual(philoxBigInt(ctr, key));
      }),
      { numRuns: 300 },
    );
  });

  it('philoxInto writes the same words in place', () => {
    const out = new Uint32Array(6);
    philoxInto(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out, 2);
    expect(hex(Array.from(out.subarray(2)))).toBe('d16cfe09 94fdcceb 5001e420 24126ea1');
  });

  it('rejects words that are not uint32', () => {
    expect(() => philox4x32_10([0, 0, 0, 2 ** 32], [0, 0])).toThrow(/ctr\[3\]/);
    expect(() => philox4x32_10([0, 0, 0, 0], [-1, 0])).toThrow(/key\[0\]/);
    expect(() => philox4x32_10([0, 0, 0], [0, 0])).toThrow(RangeError);
  });
});

describe('mulhi32', () => {
  it('is the exact high word of the 64-bit product', () => {
    const cases = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xd2511f53, 0xcd9e8d57];
    for (const a of cases) for (const b of cases) expect(mulhi32(a, b)).toBe(Number((BigInt(a) * BigInt(b)) >> 32n));
    fc.assert(
      fc.property(u32, u32, (a, b) => mulhi32(a, b) === Number((BigInt(a) * BigInt(b)) >> 32n)),
      { numRuns: 5000 },
    );
  });
});
