// Weighted least-connections: the backend with the lowest inflight/weight wins.
// Ties go to the first in round-robin order from just after the previous pick, so
// equal backends under equal load take turns instead of the first one taking all.
import { isEligible, snapshotWeights } from "./eligibility.ts";
import type { Balancer, BalancerBackend, FlowKey } from "./types.ts";

export class LeastConnectionsBalancer implements Balancer {
  readonly #weights: Float64Array;
  readonly #inflight: (index: number) => number;
  #next = 0;

  constructor(backends: readonly BalancerBackend[], inflight: (index: number) => number) {
    this.#weights = snapshotWeights(backends);
    this.#inflight = inflight;
  }

  pick(_flow: FlowKey, exclude?: ReadonlySet<number>): number {
    const weights = this.#weights;
    const n = weights.length;
    let best = -1;
    let bestLoad = 0;
    let i = this.#next;
    for (let seen = 0; seen < n; seen++, i++) {
      if (i >= n) i = 0;
      if (!isEligible(weights, i, exclude)) continue;
      // Compare a/wa < b/wb as a*wb < b*wa: no division, exact for integer counts.
      const load = this.#inflight(i);
      if (best < 0 || load * weights[best] < bestLoad * weights[i]) {
        best = i;
        bestLoad = load;
      }
    }
    if (best >= 0) this.#next = best + 1;
    return best;
  }
}
