import type { DesiredState } from "../model/desired.ts";

/** Counters a dataplane reports per frontend and per backend. */
export interface TrafficCounters {
  connectionsTotal: number;
  connectionsActive: number;
  bytesIn: number;
  bytesOut: number;
  connectErrors: number;
}

/** L7 statistics of an http/https frontend (proxy dataplane); see dataplane/proxy/http/stats.ts. */
export interface HttpStats {
  /** Requests whose head was parsed (refused heads are `rejected`). */
  requests: number;
  /** Responses sent to clients by status class (proxy-generated ones included). */
  responses: { "1xx": number; "2xx": number; "3xx": number; "4xx": number; "5xx": number };
  /** Request latency (head parsed -> response complete): cumulative counts per bound (ms), then +Inf. */
  latency: { bounds: readonly number[]; counts: number[]; sumMs: number; count: number };
  /** Retries made (connect failures and resets before any response byte). */
  retries: number;
  /** Retries the retry budget refused. */
  retriesRefused: number;
  /** Ejections by passive outlier detection so far. */
  ejections: number;
  /** Backends ejected now. */
  ejected: number;
}

export interface DataplaneStats {
  frontends: Record<
    string,
    TrafficCounters & { backends: Record<string, TrafficCounters>; http?: HttpStats }
  >;
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
