// Traffic counters shared by the L4 listeners and the worker pool's summing.
import type { DataplaneStats, HttpStats, TrafficCounters } from "../types.ts";
import { sumHttpStats } from "./http/stats.ts";

/**
 * What an L4 listener reports. `rejected`: TCP accepts closed at once (over
 * maxConnections, stopping), UDP datagrams dropped (session table full, nothing
 * eligible, stopping).
 */
export type ListenerStats = TrafficCounters & {
  rejected?: number;
  backends: Record<string, TrafficCounters>;
  /** http/https frontends only. */
  http?: HttpStats;
};

/** DataplaneStats with the proxy's extra per-frontend counter. */
export interface ProxyStats extends DataplaneStats {
  frontends: Record<string, ListenerStats>;
}

export function zeroCounters(): TrafficCounters {
  return { connectionsTotal: 0, connectionsActive: 0, bytesIn: 0, bytesOut: 0, connectErrors: 0 };
}

/** into += from, field by field. */
export function addCounters(into: TrafficCounters, from: TrafficCounters): void {
  into.connectionsTotal += from.connectionsTotal;
  into.connectionsActive += from.connectionsActive;
  into.bytesIn += from.bytesIn;
  into.bytesOut += from.bytesOut;
  into.connectErrors += from.connectErrors;
}

/** Sum several dataplanes' stats (one per worker) frontend by frontend, backend by backend. */
export function sumStats(parts: readonly ProxyStats[]): ProxyStats {
  const out: ProxyStats = { frontends: {} };
  for (const part of parts) {
    for (const [name, fe] of Object.entries(part.frontends)) {
      let sum = out.frontends[name];
      if (sum === undefined) {
        sum = { ...zeroCounters(), rejected: 0, backends: {} };
        out.frontends[name] = sum;
      }
      addCounters(sum, fe);
      sum.rejected = (sum.rejected ?? 0) + (fe.rejected ?? 0);
      if (fe.http !== undefined) sum.http = sumHttpStats(sum.http, fe.http);
      for (const [backend, counters] of Object.entries(fe.backends)) {
        sum.backends[backend] ??= zeroCounters();
        addCounters(sum.backends[backend], counters);
      }
    }
  }
  return out;
}
