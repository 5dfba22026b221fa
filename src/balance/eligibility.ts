// What every algorithm shares: a snapshot of the effective weights taken when the
// balancer is built (a new desired state builds a new balancer), and the rule that
// a backend may take a new flow only with weight > 0 and not already tried.
import { weightUnits } from "./maglev.ts";
import type { BalancerBackend } from "./types.ts";

/** Effective weights as a typed array; validates each (finite, >= 0). */
export function snapshotWeights(backends: readonly BalancerBackend[]): Float64Array {
  const weights = new Float64Array(backends.length);
  for (let i = 0; i < backends.length; i++) {
    weightUnits(backends[i].weight); // throws BALANCE_INVALID_WEIGHT on NaN, Infinity, negatives
    weights[i] = backends[i].weight;
  }
  return weights;
}

export function isEligible(
  weights: Float64Array,
  i: number,
  exclude: ReadonlySet<number> | undefined,
): boolean {
  return weights[i] > 0 && (exclude === undefined || !exclude.has(i));
}
