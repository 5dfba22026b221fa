// Operator overrides, held as plain data. The health checker owns the paused and
// disabled STATES (it stops probing); this module remembers what the operator asked
// for so that it can be reasserted after a reload restarted a backend's checker, and
// the details the weight function needs (flush on disable, the state a pause froze,
// per-pool-member weight overrides).
import type { WeightOverride } from "../balance/weights.ts";
import type { Config } from "../config/types.ts";
import { LodestoneError } from "../errors.ts";
import type { HealthState } from "../model/state.ts";

/** What computeDesired reads. */
export interface OverrideView {
  weight(service: string, pool: string, backend: string): WeightOverride | undefined;
  /** The operator disabled this backend asking for its flows to be ended. */
  disableFlush(backend: string): boolean;
  /** The state a paused backend was frozen in. */
  frozenState(backend: string): HealthState | undefined;
}

export type BackendOverride = { kind: "disabled"; flush: boolean } | { kind: "paused"; frozen: HealthState };

export interface WeightOverrideEntry extends WeightOverride {
  service: string;
  pool: string;
  backend: string;
}

const key = (service: string, pool: string, backend: string) => `${service}\u0000${pool}\u0000${backend}`;

export class Overrides implements OverrideView {
  readonly #weights = new Map<string, WeightOverrideEntry>();
  readonly #backends = new Map<string, BackendOverride>();

  weight(service: string, pool: string, backend: string): WeightOverride | undefined {
    return this.#weights.get(key(service, pool, backend));
  }

  disableFlush(backend: string): boolean {
    const o = this.#backends.get(backend);
    return o?.kind === "disabled" && o.flush;
  }

  frozenState(backend: string): HealthState | undefined {
    const o = this.#backends.get(backend);
    return o?.kind === "paused" ? o.frozen : undefined;
  }

  backend(name: string): BackendOverride | undefined {
    return this.#backends.get(name);
  }

  /**
   * Set a pool member's weight (0..100), replacing the configured one until cleared
   * or until the member disappears in a reload. Throws LodestoneError with code
   * UNKNOWN_SERVICE, UNKNOWN_POOL, UNKNOWN_MEMBER or INVALID_WEIGHT.
   */
  setWeight(
    config: Config,
    service: string,
    pool: string,
    backend: string,
    weight: number,
    flush: boolean,
  ): void {
    const svc = config.services[service];
    if (!svc) throw new LodestoneError("UNKNOWN_SERVICE", `no service named "${service}"`);
    const p = svc.pools.find((x) => x.name === pool);
    if (!p) throw new LodestoneError("UNKNOWN_POOL", `service "${service}" has no pool named "${pool}"`);
    if (!p.members.some((m) => m.backend === backend)) {
      throw new LodestoneError("UNKNOWN_MEMBER", `pool "${service}/${pool}" has no backend "${backend}"`);
    }
    if (!Number.isInteger(weight) || weight < 0 || weight > 100) {
      throw new LodestoneError("INVALID_WEIGHT", `weight must be an integer from 0 to 100, got ${weight}`);
    }
    this.#weights.set(key(service, pool, backend), { service, pool, backend, weight, flush });
  }

  /** Back to the configured weight. Returns false when there was no override. */
  clearWeight(service: string, pool: string, backend: string): boolean {
    return this.#weights.delete(key(service, pool, backend));
  }

  weights(): WeightOverrideEntry[] {
    return [...this.#weights.values()];
  }

  markDisabled(backend: string, flush: boolean): void {
    this.#backends.set(backend, { kind: "disabled", flush });
  }

  markPaused(backend: string, frozen: HealthState): void {
    this.#backends.set(backend, { kind: "paused", frozen });
  }

  /** enable/resume: the operator no longer holds the backend. */
  clearBackend(backend: string): boolean {
    return this.#backends.delete(backend);
  }

  backends(): [string, BackendOverride][] {
    return [...this.#backends.entries()];
  }

  /**
   * After a reload: keep overrides for backends and pool members that still exist,
   * drop the rest. Returns a readable line per dropped override.
   */
  prune(config: Config): string[] {
    const dropped: string[] = [];
    for (const [k, o] of this.#weights) {
      const pool = config.services[o.service]?.pools.find((p) => p.name === o.pool);
      if (!pool?.members.some((m) => m.backend === o.backend)) {
        this.#weights.delete(k);
        dropped.push(`weight of ${o.service}/${o.pool}/${o.backend}`);
      }
    }
    for (const [name, o] of this.#backends) {
      if (!config.backends[name]) {
        this.#backends.delete(name);
        dropped.push(`${o.kind} on backend ${name}`);
      }
    }
    return dropped;
  }
}
