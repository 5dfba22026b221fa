// Weighted random and power-of-two-choices least-request (Mitzenmacher; Envoy's
// LEAST_REQUEST with choice_count 2): draw two distinct backends at random in
// proportion to weight, send to the one with the lower inflight/weight.
//
// Sampling uses a prefix-sum array and binary search (O(log n), no allocation).
// With an exclude set (connect retries, rare) it falls back to a linear scan.
import { isEligible, snapshotWeights } from "./eligibility.ts";
import type { Balancer, BalancerBackend, FlowKey } from "./types.ts";

const NONE: ReadonlySet<number> = new Set();

/** Clamp a random source's output into [0, 1): a broken source must not crash a pick. */
function unit(u: number): number {
  return u >= 0 && u < 1 ? u : 0;
}

export class WeightedSampler {
  readonly weights: Float64Array;
  readonly #prefix: Float64Array;
  readonly #total: number;
  readonly #last: number;

  constructor(backends: readonly BalancerBackend[]) {
    this.weights = snapshotWeights(backends);
    this.#prefix = new Float64Array(backends.length);
    let total = 0;
    let last = -1;
    for (let i = 0; i < backends.length; i++) {
      total += this.weights[i];
      this.#prefix[i] = total;
      if (this.weights[i] > 0) last = i;
    }
    this.#total = total;
    this.#last = last;
  }

  /** First index whose cumulative weight exceeds target (weight-0 backends never qualify). */
  #search(target: number): number {
    const prefix = this.#prefix;
    let lo = 0;
    let hi = prefix.length - 1;
    if (hi < 0 || prefix[hi] <= target) return this.#last; // rounding at the top end
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (prefix[mid] > target) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /**
   * A backend drawn in proportion to weight, never `skip` (-1 for none), never
   * one in `exclude`. u is a uniform number in [0, 1). -1 when nothing is eligible.
   */
  sample(u: number, skip: number, exclude?: ReadonlySet<number>): number {
    u = unit(u);
    if (exclude !== undefined && exclude.size > 0) return this.#sampleLinear(u, skip, exclude);
    if (skip < 0) return this.#total > 0 ? this.#search(u * this.#total) : -1;
    // Draw over the total without skip's share, then step over skip's interval.
    const w = this.weights[skip];
    const span = this.#total - w;
    if (!(span > 0)) return -1;
    let target = u * span;
    if (target >= this.#prefix[skip] - w) target += w;
    const i = this.#search(target);
    return i === skip ? this.#sampleLinear(u, skip, NONE) : i; // only on rounding at the top end
  }

  #sampleLinear(u: number, skip: number, exclude: ReadonlySet<number>): number {
    const weights = this.weights;
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      if (i !== skip && isEligible(weights, i, exclude)) total += weights[i];
    }
    if (!(total > 0)) return -1;
    const target = u * total;
    let acc = 0;
    let last = -1;
    for (let i = 0; i < weights.length; i++) {
      if (i === skip || !isEligible(weights, i, exclude)) continue;
      acc += weights[i];
      last = i;
      if (acc > target) return i;
    }
    return last;
  }
}

export class RandomBalancer implements Balancer {
  readonly #sampler: WeightedSampler;
  readonly #random: () => number;

  constructor(backends: readonly BalancerBackend[], random: () => number) {
    this.#sampler = new WeightedSampler(backends);
    this.#random = random;
  }

  pick(_flow: FlowKey, exclude?: ReadonlySet<number>): number {
    return this.#sampler.sample(this.#random(), -1, exclude);
  }
}

export class PowerOfTwoBalancer implements Balancer {
  readonly #sampler: WeightedSampler;
  readonly #random: () => number;
  readonly #inflight: (index: number) => number;

  constructor(
    backends: readonly BalancerBackend[],
    random: () => number,
    inflight: (index: number) => number,
  ) {
    this.#sampler = new WeightedSampler(backends);
    this.#random = random;
    this.#inflight = inflight;
  }

  pick(_flow: FlowKey, exclude?: ReadonlySet<number>): number {
    const first = this.#sampler.sample(this.#random(), -1, exclude);
    if (first < 0) return -1;
    const second = this.#sampler.sample(this.#random(), first, exclude);
    if (second < 0) return first;
    const w = this.#sampler.weights;
    // Lower inflight/weight wins (compared without division); the first draw on ties.
    return this.#inflight(second) * w[first] < this.#inflight(first) * w[second] ? second : first;
  }
}
