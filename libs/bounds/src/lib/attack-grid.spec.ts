import { attackPoints, axisPoints, normaliseGrid } from './attack-grid';
import { InvalidBoundRequestError } from './errors';

describe('axisPoints', () => {
  it('spaces continuous points evenly with both borders exactly included', () => {
    const pts = axisPoints('b', -0.4, 0.4, 5, false);
    expect(pts[0]).toBe(-0.4);
    expect(pts[4]).toBe(0.4);
    pts.forEach((v, i) => expect(v).toBeCloseTo(-0.4 + 0.2 * i, 15));
    expect(axisPoints('k', 0.6, 1.4, 35, false)).toHaveLength(35);
    expect(axisPoints('b', 0.3, 0.3, 11, false)).toEqual([0.3]);
  });

  it('snaps a point that is beta0 up to rounding onto beta0', () => {
    expect(axisPoints('b', -0.4, 0.4, 31, false, 0)).toContain(0);
    expect(axisPoints('k', 0.6, 1.4, 35, false, 1)).toContain(1);
  });

  it('uses every integer when there are few, else n rounded points with the borders', () => {
    expect(axisPoints('tx', -3, 3, 11, true)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    const pts = axisPoints('tx', -56, 56, 11, true);
    expect(pts).toHaveLength(11);
    expect(pts[0]).toBe(-56);
    expect(pts[10]).toBe(56);
    pts.forEach((v) => expect(Number.isInteger(v)).toBe(true));
    expect(pts).toEqual([-56, -45, -34, -22, -11, 0, 11, 22, 34, 45, 56]);
  });

  it('rejects a grid that cannot hold both borders', () => {
    expect(() => axisPoints('b', 0, 1, 1, false)).toThrow(InvalidBoundRequestError);
    expect(() => axisPoints('b', 0, 1, 2.5, false)).toThrow(/grid/);
  });
});

describe('normaliseGrid', () => {
  it('accepts one number, one per axis, or a record by name', () => {
    expect(normaliseGrid(undefined, ['k', 'b'])).toEqual([11, 11]);
    expect(normaliseGrid(7, ['k', 'b'])).toEqual([7, 7]);
    expect(normaliseGrid([7], ['k', 'b'])).toEqual([7, 7]);
    expect(normaliseGrid([35, 31], ['k', 'b'])).toEqual([35, 31]);
    expect(normaliseGrid({ b: 31 }, ['k', 'b'])).toEqual([11, 31]);
    expect(() => normaliseGrid([1, 2, 3], ['k', 'b'])).toThrow(/expected 1 or 2/);
    expect(() => normaliseGrid({ x: 3 }, ['k', 'b'])).toThrow(/unknown parameter 'x'/);
  });
});

describe('attackPoints', () => {
  it('is the full product grid without beta0', () => {
    const { points, count, axes } = attackPoints(['k', 'b'], [0.6, -0.4], [1.4, 0.4], [3, 3], [false, false], [1, 0]);
    expect(axes).toEqual([[0.6, 1, 1.4], [-0.4, 0, 0.4]]);
    expect(count).toBe(8);
    const pairs = Array.from({ length: count }, (_, i) => [points[2 * i], points[2 * i + 1]]);
    expect(pairs).not.toContainEqual([1, 0]);
    expect(pairs).toContainEqual([0.6, -0.4]);
    expect(pairs).toContainEqual([1.4, 0.4]);
  });

  it('keeps every point when beta0 is outside the box', () => {
    expect(attackPoints(['b'], [0.1], [0.3], [3], [false], [0]).count).toBe(3);
  });
});
