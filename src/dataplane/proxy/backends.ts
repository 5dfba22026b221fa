// What the L4 listeners (TCP, UDP) keep per backend besides the flows themselves: the
// balancer over the desired state's backends, and traffic counters that outlive a
// backend's removal until its last flow has gone (so its bytes are not lost from stats).
import { createBalancer } from "../../balance/index.ts";
import type { Balancer } from "../../balance/types.ts";
import type { DesiredBackend, DesiredFrontend } from "../../model/desired.ts";
import type { TrafficCounters } from "../types.ts";
import { zeroCounters } from "./counters.ts";

/** Live flows per backend name (a FlowRegistry). */
interface FlowCounts {
  count(backend: string): number;
}

/** One desired state's view of the backends: the balancer's indexes point into `backends`. */
export interface BackendTable {
  backends: readonly DesiredBackend[];
  balancer: Balancer;
}

/**
 * The balancer for a frontend's backends; least-connections and p2c weigh the live
 * flows in `flows`. Throws when the balancer rejects the table, so callers build the
 * new table before replacing the running one.
 */
export function buildBackendTable(frontend: DesiredFrontend, flows: FlowCounts): BackendTable {
  const backends = frontend.backends;
  const balancer = createBalancer(
    backends.map((b) => ({ name: b.name, weight: b.weight })),
    {
      algorithm: frontend.algorithm,
      maglevTable: frontend.maglev,
      maglevTableSize: frontend.maglev?.length,
      maglevSeed: frontend.maglevSeed,
      hashOn: frontend.hashOn,
      inflight: (i) => flows.count(backends[i].name),
    },
  );
  return { backends, balancer };
}

/** Traffic counters by backend name. */
export class BackendCounters {
  readonly #flows: FlowCounts;
  readonly #byName = new Map<string, TrafficCounters>();

  constructor(flows: FlowCounts) {
    this.#flows = flows;
  }

  /** Counters exist for every backend in the desired state and for any still holding flows. */
  sync(frontend: DesiredFrontend): void {
    const wanted = new Set(frontend.backends.map((b) => b.name));
    for (const name of wanted) if (!this.#byName.has(name)) this.#byName.set(name, zeroCounters());
    for (const name of this.#byName.keys()) {
      if (!wanted.has(name) && this.#flows.count(name) === 0) this.#byName.delete(name);
    }
  }

  /** The live counters of a backend (created when missing), to add to. */
  of(name: string): TrafficCounters {
    let counters = this.#byName.get(name);
    if (counters === undefined) {
      counters = zeroCounters();
      this.#byName.set(name, counters);
    }
    return counters;
  }

  /** A copy of every backend's counters, connectionsActive being its live flows now. */
  snapshot(): Record<string, TrafficCounters> {
    const out: Record<string, TrafficCounters> = {};
    for (const [name, counters] of this.#byName) {
      out[name] = { ...counters, connectionsActive: this.#flows.count(name) };
    }
    return out;
  }
}
