// What the admin API answers, computed from a status snapshot, the running config and
// the dataplanes' counters. Pure: the server takes one snapshot per request and hands
// it here, so every field of one answer comes from the same moment.
import type { Config } from "../config/types.ts";
import type { DaemonStatus } from "../control/daemon.ts";
import { sumHttpStats } from "../dataplane/proxy/http/stats.ts";
import type { DataplaneStats, TrafficCounters } from "../dataplane/types.ts";

export interface Snapshot {
  status: DaemonStatus;
  config: Config;
  stats: DataplaneStats;
}

export const zeroCounters = (): TrafficCounters => ({
  connectionsTotal: 0,
  connectionsActive: 0,
  bytesIn: 0,
  bytesOut: 0,
  connectErrors: 0,
});

function add(into: TrafficCounters, c: TrafficCounters | undefined): TrafficCounters {
  if (!c) return into;
  into.connectionsTotal += c.connectionsTotal;
  into.connectionsActive += c.connectionsActive;
  into.bytesIn += c.bytesIn;
  into.bytesOut += c.bytesOut;
  into.connectErrors += c.connectErrors;
  return into;
}

/** Several dataplanes (e.g. proxy + xdp) counted as one. */
export function mergeStats(list: DataplaneStats[]): DataplaneStats {
  const out: DataplaneStats = { frontends: {} };
  for (const s of list) {
    for (const [name, fe] of Object.entries(s.frontends)) {
      out.frontends[name] ??= { ...zeroCounters(), backends: {} };
      const into: DataplaneStats["frontends"][string] & { rejected?: number } = out.frontends[name];
      add(into, fe);
      // The proxy dataplane also counts connections/datagrams refused at once (over limits).
      const rejected = (fe as { rejected?: number }).rejected;
      if (rejected !== undefined) into.rejected = (into.rejected ?? 0) + rejected;
      if (fe.http !== undefined) into.http = sumHttpStats(into.http, fe.http);
      for (const [b, c] of Object.entries(fe.backends)) {
        into.backends[b] ??= zeroCounters();
        add(into.backends[b], c);
      }
    }
  }
  return out;
}

const counters = (c: TrafficCounters | undefined): TrafficCounters => add(zeroCounters(), c);

export function frontendViews(s: Snapshot) {
  const programmed = s.status.version > 0;
  return s.status.frontends.map((f) => ({
    name: f.name,
    listen: f.listen,
    protocol: s.config.frontends[f.name]?.protocol ?? f.protocol,
    service: f.service,
    state: !programmed ? "unknown" : f.activePool >= 0 ? "up" : "down",
    activePool: f.activePool,
    activePoolName: f.activePoolName,
    counters: counters(s.stats.frontends[f.name]),
  }));
}

export function serviceViews(s: Snapshot) {
  return s.status.services.map((svc) => ({
    name: svc.name,
    algorithm: svc.algorithm,
    activePool: svc.activePool,
    activePoolName: svc.activePool >= 0 ? (svc.pools[svc.activePool]?.name ?? null) : null,
    frontends: s.status.frontends.filter((f) => f.service === svc.name).map((f) => f.name),
    pools: svc.pools.map((p, index) => ({
      name: p.name,
      index,
      active: p.active,
      members: p.members.map((m) => ({
        backend: m.backend,
        state: m.state,
        configuredWeight: m.configuredWeight,
        effectiveWeight: m.effectiveWeight,
        flush: m.flush,
        override: m.override ? { weight: m.override.weight, flush: m.override.flush } : null,
      })),
    })),
  }));
}

/** Per backend, the sum of its counters over every frontend that uses it. */
export function backendCounters(stats: DataplaneStats): Map<string, TrafficCounters> {
  const out = new Map<string, TrafficCounters>();
  for (const fe of Object.values(stats.frontends)) {
    for (const [name, c] of Object.entries(fe.backends)) {
      const into = out.get(name) ?? zeroCounters();
      out.set(name, add(into, c));
    }
  }
  return out;
}

export function backendViews(s: Snapshot, withHistory: boolean) {
  const byBackend = backendCounters(s.stats);
  return s.status.backends.map((b) => {
    const last = b.history.length > 0 ? b.history[b.history.length - 1] : null;
    return {
      name: b.name,
      address: b.address,
      port: b.port,
      healthcheck: b.check,
      state: b.state,
      since: b.since,
      lastTransition: last,
      counter: b.counter,
      rise: b.rise,
      fall: b.fall,
      lastProbe: b.lastProbe ?? null,
      agent: b.agent ?? null,
      override: b.override,
      counters: counters(byBackend.get(b.name)),
      ...(withHistory ? { history: b.history } : {}),
    };
  });
}

export function healthcheckViews(s: Snapshot) {
  return Object.values(s.config.healthchecks).map((c) => ({
    ...c,
    backends: Object.values(s.config.backends)
      .filter((b) => b.healthcheck === c.name)
      .map((b) => b.name),
  }));
}
