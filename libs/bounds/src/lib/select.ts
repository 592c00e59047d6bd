// Partial ordering for the shape computation: only the largest floor(ns/2) values of eta are
// ever needed sorted (the shape is used for q <= 1/2), so we select them in linear time and
// sort just that half with the native typed-array sort.

/**
 * Rearranges `a` in place so that a[n-h..n-1] hold its h largest values (in no order) and
 * every value before them is <= every value from them on. Quickselect with a median-of-three
 * pivot and Hoare partitioning; no allocation.
 */
export function partitionLargest(a: Float64Array, h: number): void {
  const n = a.length;
  if (h <= 0 || h >= n) return;
  const k = n - h;
  let lo = 0;
  let hi = n - 1;
  while (hi > lo) {
    const mid = (lo + hi) >>> 1;
    const x = a[lo];
    const y = a[mid];
    const z = a[hi];
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    // a[lo..j] <= pivot, a[i..hi] >= pivot, a[j+1..i-1] == pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
}

/**
 * The h largest values of `a`, ascending, as a view of `a`'s tail (a is rearranged).
 * Returns a subarray of `a` (no copy of the data).
 */
export function largestAscending(a: Float64Array, h: number): Float64Array {
  partitionLargest(a, h);
  const top = a.subarray(a.length - h);
  top.sort();
  return top;
}
