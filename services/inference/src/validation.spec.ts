import { firstNonFinite } from './validation';

describe('firstNonFinite', () => {
  it('finds NaN and both infinities at any position, blocks of four and tail alike', () => {
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      for (const length of [1, 3, 4, 5, 9, 17]) {
        for (let at = 0; at < length; at++) {
          const values = new Float32Array(length).fill(0.5);
          values[at] = bad;
          if (at + 1 < length) values[length - 1] = bad; // a later one does not win
          expect(firstNonFinite(values)).toBe(at);
        }
      }
    }
  });

  it('accepts every finite value, the extremes included, and views at an offset', () => {
    const finite = new Float32Array([0, -0, 1e-45, -1e-45, 3.4028234663852886e38, -3.4028234663852886e38, 1.17549435e-38, 1, -1]);
    expect(firstNonFinite(finite)).toBe(-1);
    const buffer = new Float32Array([Number.NaN, 1, 2, 3, 4, 5, Infinity]);
    expect(firstNonFinite(buffer.subarray(1, 6))).toBe(-1);
    expect(firstNonFinite(buffer.subarray(1))).toBe(5);
    expect(firstNonFinite(new Float32Array(0))).toBe(-1);
  });
});
