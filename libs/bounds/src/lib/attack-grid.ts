// The attack set: a grid over the box, borders included (ALGORITHM.md section 4, step 4).
// Continuous axes get `n` evenly spaced points; integer axes (tx, ty) get integer points: all
// of them when there are at most `n`, else `n` rounded evenly spaced ones (ends included).

import { InvalidBoundRequestError } from './errors';
import { lerp } from './fp';

export const DEFAULT_GRID_POINTS = 11;
/** Most grid points a solve may certify against (the domain of bound_settings.grid_points). */
export const MAX_ATTACK_POINTS = 5_000_000;

/** Points of one axis, ascending. */
export function axisPoints(name: string, lo: number, hi: number, n: number, integer: boolean, identity?: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new InvalidBoundRequestError('bound_settings.grid_points', `${name}: points per axis must be an integer >= 1, got ${n}`);
  if (integer) {
    const a = Math.ceil(lo);
    const b = Math.floor(hi);
    if (a > b) throw new InvalidBoundRequestError(`threat_model.box.${name}`, `[${lo}, ${hi}] contains no integer ${name}`);
    const count = b - a + 1;
    if (count <= n) return Array.from({ length: count }, (_, i) => a + i || 0);
    if (n === 1) throw new InvalidBoundRequestError('bound_settings.grid_points', `${name}: need at least 2 points to include both borders`);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const v = i === n - 1 ? b : Math.round(lerp(a, b, i / (n - 1)));
      if (out.length === 0 || out[out.length - 1] !== v) out.push(v);
    }
    return out;
  }
  if (lo === hi) return [lo];
  if (n === 1) throw new InvalidBoundRequestError('bound_settings.grid_points', `${name}: need at least 2 points to include both borders`);
  const out: number[] = [];
  // (hi - lo overflows for a box of +-1.7e308: lerp, and the snap width from the halves)
  const snap = 2e-12 * (hi / 2 - lo / 2);
  for (let i = 0; i < n; i++) {
    let v = i === n - 1 ? hi : lerp(lo, hi, i / (n - 1));
    // a point that is beta0 up to rounding is beta0 (it is then skipped, delta = 0)
    if (identity !== undefined && Math.abs(v - identity) <= snap) v = identity;
    out.push(v);
  }
  return out;
}

/** Normalised points-per-axis request (one entry per parameter, in parameter order). */
export function normaliseGrid(
  grid: number | readonly number[] | Readonly<Record<string, number>> | undefined,
  params: readonly string[],
): number[] {
  if (grid === undefined) return params.map(() => DEFAULT_GRID_POINTS);
  if (typeof grid === 'number') return params.map(() => grid);
  if (Array.isArray(grid)) {
    const list = grid as readonly number[];
    if (list.length === 1) return params.map(() => list[0]);
    if (list.length !== params.length) {
      throw new InvalidBoundRequestError('bound_settings.grid_points', `expected 1 or ${params.length} values (${params.join(', ')}), got ${list.length}`);
    }
    return list.slice();
  }
  const record = grid as Readonly<Record<string, number>>;
  for (const name of Object.keys(record)) {
    if (!params.includes(name)) throw new InvalidBoundRequestError('bound_settings.grid_points', `unknown parameter '${name}' (expected ${params.join(', ')})`);
  }
  return params.map((p) => (record[p] === undefined ? DEFAULT_GRID_POINTS : record[p]));
}

/**
 * Every grid point except beta0 itself (delta = 0 needs no certificate), row-major in
 * parameter order, as one flat array of length points x d.
 */
export function attackPoints(
  params: readonly string[],
  lo: readonly number[],
  hi: readonly number[],
  perAxis: readonly number[],
  integer: readonly boolean[],
  identity: readonly number[],
): { points: Float64Array; count: number; axes: number[][] } {
  const d = params.length;
  const axes = params.map((name, i) => axisPoints(name, lo[i], hi[i], perAxis[i], integer[i], identity[i]));
  let total = 1;
  for (const a of axes) total *= a.length;
  if (total > MAX_ATTACK_POINTS) throw new InvalidBoundRequestError('bound_settings.grid_points', `${total} attack points is too many (at most ${MAX_ATTACK_POINTS})`);
  const points = new Float64Array(total * d);
  const idx = new Array<number>(d).fill(0);
  let count = 0;
  for (let p = 0; p < total; p++) {
    let isIdentity = true;
    for (let i = 0; i < d; i++) {
      const v = axes[i][idx[i]];
      points[count * d + i] = v;
      if (v !== identity[i]) isIdentity = false;
    }
    if (!isIdentity) count++;
    for (let i = d - 1; i >= 0; i--) {
      if (++idx[i] < axes[i].length) break;
      idx[i] = 0;
    }
  }
  return { points: points.subarray(0, count * d), count, axes };
}
