import type { DesiredState } from "../model/desired.ts";

/** Counters a dataplane reports per frontend and per backend. */
export interface TrafficCounters {
  connectionsTotal: number;
  connectionsActive: number;
  bytesIn: number;
  bytesOut: number;
  connectErrors: number;
}

export interface DataplaneStats {
  frontends: Record<string, TrafficCounters & { backends: Record<string, TrafficCounters> }>;
}

/**
 * A dataplane receives the whole desired state and makes it so. It is idempotent:
 * applying the same state twice changes nothing; listeners for frontends that
 * vanished are closed, new ones opened, tables swapped without touching
 * established flows whose backend still has weight or is draining.
 */
export interface Dataplane {
  readonly name: string;
  apply(desired: DesiredState): Promise<void>;
  /** Stop accepting, let open connections finish for up to drainTimeout ms, then close them. */
  stop(drainTimeout: number): Promise<void>;
  stats(): DataplaneStats;
}
