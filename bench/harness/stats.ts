// Small statistics the report needs: medians across rounds and ratios between contenders.
// Pure: no I/O, so the numbers in BENCHMARKS.md can be traced to tested arithmetic.

/** Median of the finite values; NaN when there are none (so a missing number never reads as 0). */
export function median(values: readonly number[]): number {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid] : (xs[mid - 1] + xs[mid]) / 2;
}

/**
 * Percentile (0..100) by linear interpolation between closest ranks, the same definition
 * as numpy's default; NaN when there are no finite values.
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const rank = (p / 100) * (xs.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return xs[lo] + (xs[hi] - xs[lo]) * (rank - lo);
}

/** a / b, or NaN when either side is missing or b is not positive. */
export function ratio(a: number, b: number): number {
  if (!Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return Number.NaN;
  return a / b;
}

/** "0.82x", or "n/a" when the ratio could not be computed. */
export function formatRatio(r: number): string {
  return Number.isFinite(r) ? `${r.toFixed(2)}x` : "n/a";
}

/** CPU seconds spent per 1,000 requests; NaN when nothing was served. */
export function cpuPerThousand(cpuSeconds: number, requests: number): number {
  if (!Number.isFinite(cpuSeconds) || !(requests > 0)) return Number.NaN;
  return (cpuSeconds * 1000) / requests;
}
