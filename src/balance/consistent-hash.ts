// Maglev lookup, used by both `maglev` and `source-hash`: hash the flow key into a
// slot, take that slot's backend. Consistent: removing one of N backends only moves
// the flows whose slots it held (~1/N) plus Maglev's small extra disruption.
//
// When the slot's backend cannot take the flow (excluded after a failed connect,
// or weight 0 in a table built before a weight change) the lookup walks forward
// slot by slot (s+1, s+2, ... wrapping) to the first eligible backend. The walk
// is deterministic per flow, and since neighbouring slots belong to backends in
// proportion to their shares, retries spread by weight too.
import { LodestoneError } from "../errors.ts";
import { isEligible, snapshotWeights } from "./eligibility.ts";
import { flowHash, type HashOn } from "./flow.ts";
import { assertSeed } from "./maglev.ts";
import type { Balancer, BalancerBackend, FlowKey } from "./types.ts";

export class MaglevBalancer implements Balancer {
  readonly #weights: Float64Array;
  readonly #table: Int32Array;
  readonly #seed: number;
  readonly #hashOn: HashOn;
  readonly #eligible: number;

  constructor(backends: readonly BalancerBackend[], table: Int32Array, seed: number, hashOn: HashOn) {
    assertSeed(seed);
    this.#weights = snapshotWeights(backends);
    if (table.length === 0) throw new LodestoneError("BALANCE_INVALID_TABLE", "maglev table is empty");
    for (let s = 0; s < table.length; s++) {
      const i = table[s];
      if (i < -1 || i >= backends.length) {
        throw new LodestoneError(
          "BALANCE_INVALID_TABLE",
          `maglev table slot ${s} points at backend ${i}, but there are ${backends.length}`,
        );
      }
    }
    this.#table = table;
    this.#seed = seed;
    this.#hashOn = hashOn;
    let eligible = 0;
    for (let i = 0; i < this.#weights.length; i++) if (this.#weights[i] > 0) eligible++;
    this.#eligible = eligible;
  }

  /** The slot a flow hashes to (its first choice, before exclusions). */
  slotOf(flow: FlowKey): number {
    return flowHash(flow, this.#hashOn, this.#seed) % this.#table.length;
  }

  pick(flow: FlowKey, exclude?: ReadonlySet<number>): number {
    if (this.#eligible === 0) return -1;
    const table = this.#table;
    const weights = this.#weights;
    let slot = this.slotOf(flow);
    const first = table[slot];
    if (first >= 0 && isEligible(weights, first, exclude)) return first;
    if (exclude !== undefined && !this.#anyLeft(exclude)) return -1;
    const size = table.length;
    for (let step = 1; step < size; step++) {
      if (++slot === size) slot = 0;
      const i = table[slot];
      if (i >= 0 && isEligible(weights, i, exclude)) return i;
    }
    // Only backends too light to own a slot remain (or the table predates their weight).
    for (let i = 0; i < weights.length; i++) if (isEligible(weights, i, exclude)) return i;
    return -1;
  }

  #anyLeft(exclude: ReadonlySet<number>): boolean {
    let excluded = 0;
    for (const i of exclude) if (i >= 0 && i < this.#weights.length && this.#weights[i] > 0) excluded++;
    return excluded < this.#eligible;
  }
}
