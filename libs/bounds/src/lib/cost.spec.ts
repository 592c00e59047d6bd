import { estimateSolveCost } from './cost';
import { InvalidBoundRequestError } from './errors';
import { normaliseBoundRequest, solveBound } from './solve';
import type { BoundRequest } from './solve';

const cost = (r: BoundRequest) => estimateSolveCost(normaliseBoundRequest(r));

describe('estimateSolveCost', () => {
  it('counts the attack grid without beta0 and prices a one-feature score at two directions', () => {
    // b: 9 points on [-0.4, 0.4], one of them b = 0 (the identity); pilot = 4096 at ns = 20000
    const c = cost({ transform: 'b', box: { b: [-0.4, 0.4] }, sigma: { b: 0.3 }, grid: 9, ns: 20000 });
    expect(c.attackPoints).toBe(8);
    expect(c.evaluations).toBe(64);
    expect(c.directions).toBe(2);
    expect(c.cost).toBe(2 * (20000 + 4096 * 12) + 20000 * 16);
  });

  it('cb on the 35 x 31 preset grid: every (point, node) pair priced as its own direction', () => {
    const c = cost({ transform: 'cb', box: { k: [0.6, 1.4], b: [-0.4, 0.4] }, sigma: { k: 0.3, b: 0.3 }, grid: [35, 31], ns: 20000 });
    expect(c.attackPoints).toBe(35 * 31 - 1); // k = 1 and b = 0 are both grid points
    expect(c.directions).toBe(8 * (35 * 31 - 1));
    expect(c.scoreEvaluations).toBe(c.directions * 20000 * 2);
    expect(c.cost).toBe(c.directions * (40000 + 4096 * 12) + 20000 * 16);
  });

  it('integer axes count integers; a box without beta0 keeps every point', () => {
    expect(cost({ transform: 't', box: { tx: [-3, 3], ty: [-3, 3] }, sigma: { tx: 3, ty: 3 }, grid: 11 }).attackPoints).toBe(48);
    expect(cost({ transform: 'b', box: { b: [0.1, 0.4] }, sigma: { b: 0.3 }, grid: 4 }).attackPoints).toBe(4);
  });

  it('a closed form alone costs nothing; AUTO still pays for the numeric solve', () => {
    const tm: BoundRequest = { transform: 'b', box: { b: [-0.4, 0.4] }, sigma: { b: 0.3 } };
    expect(cost({ ...tm, method: 'closed-form' }).cost).toBe(0);
    expect(cost({ ...tm, method: 'auto' }).cost).toBe(cost({ ...tm, method: 'numeric' }).cost);
  });

  it('grows linearly in ns (up to the log of the pilot sort) and in grid points', () => {
    const tm: BoundRequest = { transform: 'cb', box: { k: [0.61, 1.39], b: [-0.39, 0.39] }, sigma: { k: 0.3, b: 0.3 }, grid: 15 };
    const small = cost({ ...tm, ns: 100_000 }).cost;
    const big = cost({ ...tm, ns: 10_000_000 }).cost;
    expect(big / small).toBeGreaterThan(100);
    expect(big / small).toBeLessThan(130);
    expect(cost({ ...tm, grid: 29, ns: 100_000 }).cost / small).toBeGreaterThan(3.5);
  });

  it.each<[string, BoundRequest]>([
    ['b', { transform: 'b', box: { b: [-0.3, 0.2] }, sigma: { b: 0.3 }, grid: 7 }],
    ['c', { transform: 'c', box: { k: [0.7, 1.3] }, sigma: { k: 0.3 }, grid: 6 }],
    ['g', { transform: 'g', box: { g: [0.8, 1.5] }, sigma: { g: 0.1 }, grid: 5 }],
    ['r', { transform: 'r', box: { r: [0, 2] }, sigma: { r: 2 }, grid: 5 }],
    ['t', { transform: 't', box: { tx: [-2, 3], ty: [-1, 1] }, sigma: { tx: 3, ty: 3 }, grid: 4 }],
    ['cb', { transform: 'cb', box: { k: [0.8, 1.2], b: [-0.2, 0.1] }, sigma: { k: 0.3, b: 0.3 }, grid: [4, 3] }],
    ['gc', { transform: 'gc', box: { g: [0.9, 1.1], k: [0.9, 1.1] }, sigma: { g: 0.1, k: 0.3 }, grid: 3 }],
  ])('%s: the attack points are the solver\'s and the directions bound the ones it solves', (_name, request) => {
    const r = { ...request, ns: 500, method: 'numeric' as const };
    const c = cost(r);
    const solved = solveBound(r);
    expect(c.attackPoints).toBe(solved.attackPoints);
    expect(c.evaluations * 500).toBe(solved.scoreEvaluations);
    expect(c.directions).toBeGreaterThanOrEqual(solved.distinctEvaluations);
  });

  it('a grid past the attack-point domain is an invalid request naming grid_points, not a cost', () => {
    const tm: BoundRequest = { transform: 'cb', box: { k: [0.6, 1.4], b: [-0.4, 0.4] }, sigma: { k: 0.3, b: 0.3 }, grid: [3000, 3000] };
    expect(() => cost(tm)).toThrow(InvalidBoundRequestError);
    expect(() => cost(tm)).toThrow(/^bound_settings\.grid_points: 9000000 attack points/);
    expect(() => solveBound({ ...tm, ns: 100 })).toThrow(/^bound_settings\.grid_points: 9000000 attack points/);
  });
});
