// Round-robin (every eligible backend in turn, weight magnitude ignored) and
// smooth weighted round-robin (nginx's ngx_http_upstream_get_peer: weights 5:1:1
// give a a b a c a a, spreading the heavy backend's turns instead of bunching them).
import { isEligible, snapshotWeights } from "./eligibility.ts";
import type { Balancer, BalancerBackend, FlowKey } from "./types.ts";

export class RoundRobinBalancer implements Balancer {
  readonly #weights: Float64Array;
  #next = 0;

  constructor(backends: readonly BalancerBackend[]) {
    this.#weights = snapshotWeights(backends);
  }

  pick(_flow: FlowKey, exclude?: ReadonlySet<number>): number {
    const n = this.#weights.length;
    let i = this.#next;
    for (let tried = 0; tried < n; tried++) {
      if (i >= n) i = 0;
      if (isEligible(this.#weights, i, exclude)) {
        this.#next = i + 1;
        return i;
      }
      i++;
    }
    return -1;
  }
}

export class SmoothWeightedBalancer implements Balancer {
  readonly #weights: Float64Array;
  /** nginx's current_weight per backend. */
  readonly #current: Float64Array;

  constructor(backends: readonly BalancerBackend[]) {
    this.#weights = snapshotWeights(backends);
    this.#current = new Float64Array(backends.length);
  }

  // Each pick: every eligible backend gains its weight; the one with the highest
  // current weight (first on ties) wins and pays back the total. Excluded backends
  // sit the round out, as nginx skips peers already tried for this request.
  pick(_flow: FlowKey, exclude?: ReadonlySet<number>): number {
    const weights = this.#weights;
    const current = this.#current;
    let best = -1;
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      if (!isEligible(weights, i, exclude)) continue;
      current[i] += weights[i];
      total += weights[i];
      if (best < 0 || current[i] > current[best]) best = i;
    }
    if (best >= 0) current[best] -= total;
    return best;
  }
}
