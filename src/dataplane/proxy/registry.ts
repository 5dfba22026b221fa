// Live flows (TCP connections, UDP sessions) grouped by the backend that serves
// them: what flush ends, what drain waits for, and the in-flight counts that
// least-connections and p2c balance on. Each backend's flows are a LiveList (not a
// Set: see live-list.ts), kept while empty so a backend whose last flow ends does not
// churn the map; prune() drops the empty ones when the configuration changes.
import { LiveList } from "./live-list.ts";

/** A flow's index in its backend's list (the registry owns it; -1 when in none). */
export interface RegisteredFlow {
  backendSlot: number;
}

export class FlowRegistry<F extends RegisteredFlow> {
  readonly #byBackend = new Map<string, LiveList<F, "backendSlot">>();

  add(backend: string, flow: F): void {
    let list = this.#byBackend.get(backend);
    if (list === undefined) {
      list = new LiveList("backendSlot");
      this.#byBackend.set(backend, list);
    }
    list.add(flow);
  }

  delete(backend: string, flow: F): void {
    this.#byBackend.get(backend)?.delete(flow);
  }

  count(backend: string): number {
    return this.#byBackend.get(backend)?.size ?? 0;
  }

  /** A copy: callers end flows while iterating, which removes them from the live list. */
  of(backend: string): F[] {
    return this.#byBackend.get(backend)?.toArray() ?? [];
  }

  /** Forget the backends without flows (e.g. after a reload removed some). */
  prune(): void {
    for (const [name, list] of this.#byBackend) if (list.size === 0) this.#byBackend.delete(name);
  }
}
