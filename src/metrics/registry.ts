// Prometheus metrics on a dedicated prom-client Registry. Nothing is counted per
// packet: traffic counters and states are read from daemon.status() and the
// dataplanes' stats() once per scrape; probe results, transitions and reloads are
// counted as they happen (from the checker's probe hook and the event bus).
// Label values are config names only (frontends, backends, services, pools), never
// anything a client sent.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { AdminDaemon } from "../api/daemon-view.ts";
import { mergeStats } from "../api/views.ts";
import type { DaemonStatus } from "../control/daemon.ts";
import type { DataplaneStats, HttpStats, TrafficCounters } from "../dataplane/types.ts";
import { HEALTH_STATES } from "../model/state.ts";

export interface Metrics {
  readonly registry: Registry;
  readonly contentType: string;
  /** The exposition text: takes one snapshot of the daemon, then renders every metric. */
  render(): Promise<string>;
  /** Stop listening to the daemon's probe hook and event bus. */
  close(): void;
}

interface Snap {
  status: DaemonStatus;
  stats: DataplaneStats;
  /** Per dataplane, unmerged: the XDP dataplane's extra counters are read from here. */
  raw: DataplaneStats[];
}

/** What the XDP dataplane adds to a frontend's stats (XdpFrontendCounters in dataplane/xdp). */
type XdpCounters = { packets: number; drops: Record<string, number> };
type XdpExtra = { xdp?: XdpCounters };

/** Drop reasons as label values: noBackend -> no_backend. */
const snakeCase = (s: string) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

const HTTP_DURATION_HELP = "HTTP request latency (request head received -> response complete), per frontend.";

const TRAFFIC: { key: keyof TrafficCounters; suffix: string; help: string; counter: boolean }[] = [
  { key: "connectionsTotal", suffix: "connections_total", help: "Connections accepted", counter: true },
  { key: "connectionsActive", suffix: "connections_active", help: "Connections open now", counter: false },
  { key: "bytesIn", suffix: "bytes_in_total", help: "Bytes received from clients", counter: true },
  { key: "bytesOut", suffix: "bytes_out_total", help: "Bytes sent to clients", counter: true },
  { key: "connectErrors", suffix: "connect_errors_total", help: "Failed backend connects", counter: true },
];

export function createMetrics(daemon: AdminDaemon, options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  let snap: Snap | undefined;
  const current = (): Snap => {
    if (snap === undefined) {
      const raw = daemon.stats?.() ?? [];
      snap = { status: daemon.status(), stats: mergeStats(raw), raw };
    }
    return snap;
  };
  const registers = [registry];

  // A "total" read from the dataplane is already cumulative: set it on each scrape.
  // prom-client counters only go up, so reset and add the absolute value.
  const setCounter = (m: Counter<string> | Gauge<string>, labels: Record<string, string>, v: number) => {
    if (m instanceof Counter) m.inc(labels, v);
    else m.set(labels, v);
  };

  for (const t of TRAFFIC) {
    const Kind = t.counter ? Counter : Gauge;
    new Kind({
      name: `lodestone_frontend_${t.suffix}`,
      help: `${t.help}, per frontend.`,
      labelNames: ["frontend"],
      registers,
      collect() {
        this.reset();
        for (const [frontend, c] of Object.entries(current().stats.frontends)) {
          setCounter(this, { frontend }, c[t.key]);
        }
      },
    });
    new Kind({
      name: `lodestone_backend_${t.suffix}`,
      help: `${t.help}, per backend behind each frontend.`,
      labelNames: ["frontend", "backend"],
      registers,
      collect() {
        this.reset();
        for (const [frontend, fe] of Object.entries(current().stats.frontends)) {
          for (const [backend, c] of Object.entries(fe.backends))
            setCounter(this, { frontend, backend }, c[t.key]);
        }
      },
    });
  }

  new Counter({
    name: "lodestone_frontend_rejected_total",
    help: "Connections closed at once or datagrams dropped (over max-connections, no session room, stopping), per frontend.",
    labelNames: ["frontend"],
    registers,
    collect() {
      this.reset();
      for (const [frontend, c] of Object.entries(current().stats.frontends)) {
        const rejected = (c as { rejected?: number }).rejected;
        if (rejected !== undefined) this.inc({ frontend }, rejected);
      }
    },
  });
  // XDP (dataplane xdp frontends): read from the XDP dataplane's own stats, which
  // carry counters the merged view has no place for.
  const xdpFrontends = (): [string, XdpCounters][] =>
    current().raw.flatMap((dp) =>
      Object.entries(dp.frontends).flatMap(([f, c]) => {
        const x = (c as XdpExtra).xdp;
        return x ? [[f, x] as [string, XdpCounters]] : [];
      }),
    );
  new Counter({
    name: "lodestone_xdp_packets_total",
    help: "Packets the XDP program forwarded for the frontend's VIP (dataplane xdp only).",
    labelNames: ["frontend"],
    registers,
    collect() {
      this.reset();
      for (const [frontend, x] of xdpFrontends()) this.inc({ frontend }, x.packets);
    },
  });
  new Counter({
    name: "lodestone_xdp_drops_total",
    help: "Packets the XDP program dropped for the frontend's VIP, by reason (dataplane xdp only).",
    labelNames: ["frontend", "reason"],
    registers,
    collect() {
      this.reset();
      for (const [frontend, x] of xdpFrontends()) {
        for (const [reason, n] of Object.entries(x.drops))
          this.inc({ frontend, reason: snakeCase(reason) }, n);
      }
    },
  });
  // L7 (http/https frontends): read from stats().frontends[name].http at each scrape.
  const l7 = (): [string, HttpStats][] =>
    Object.entries(current().stats.frontends).flatMap(([f, c]) =>
      c.http === undefined ? [] : [[f, c.http]],
    );
  new Counter({
    name: "lodestone_http_responses_total",
    help: "HTTP responses sent to clients by status class (proxy-generated ones included), per frontend.",
    labelNames: ["frontend", "class"],
    registers,
    collect() {
      this.reset();
      for (const [frontend, h] of l7()) {
        for (const [cls, n] of Object.entries(h.responses)) this.inc({ frontend, class: cls }, n);
      }
    },
  });
  const l7Counters: [string, string, (h: HttpStats) => number][] = [
    [
      "lodestone_http_requests_total",
      "HTTP requests received (heads parsed), per frontend.",
      (h) => h.requests,
    ],
    [
      "lodestone_http_retries_total",
      "Requests retried on another backend (connect failures, resets before any response byte), per frontend.",
      (h) => h.retries,
    ],
    [
      "lodestone_http_retries_refused_total",
      "Retries the retry budget refused, per frontend.",
      (h) => h.retriesRefused,
    ],
    [
      "lodestone_http_outlier_ejections_total",
      "Backends ejected by passive outlier detection, per frontend.",
      (h) => h.ejections,
    ],
  ];
  for (const [name, help, read] of l7Counters) {
    new Counter({
      name,
      help,
      labelNames: ["frontend"],
      registers,
      collect() {
        this.reset();
        for (const [frontend, h] of l7()) this.inc({ frontend }, read(h));
      },
    });
  }
  new Gauge({
    name: "lodestone_http_outlier_ejected",
    help: "Backends ejected by passive outlier detection now, per frontend.",
    labelNames: ["frontend"],
    registers,
    collect() {
      this.reset();
      for (const [frontend, h] of l7()) this.set({ frontend }, h.ejected);
    },
  });
  // The dataplane keeps the histogram's buckets itself (no observe() per request here):
  // exposed as a histogram-typed metric computed at scrape time.
  registry.registerMetric({
    name: "lodestone_http_request_duration_seconds",
    help: HTTP_DURATION_HELP,
    type: "histogram",
    aggregator: "sum",
    get() {
      const values: { value: number; labels: Record<string, string | number>; metricName: string }[] = [];
      const base = "lodestone_http_request_duration_seconds";
      for (const [frontend, h] of l7()) {
        h.latency.bounds.forEach((ms, i) => {
          values.push({
            metricName: `${base}_bucket`,
            labels: { le: ms / 1000, frontend },
            value: h.latency.counts[i],
          });
        });
        values.push({
          metricName: `${base}_bucket`,
          labels: { le: "+Inf", frontend },
          value: h.latency.counts[h.latency.bounds.length] ?? h.latency.count,
        });
        values.push({ metricName: `${base}_sum`, labels: { frontend }, value: h.latency.sumMs / 1000 });
        values.push({ metricName: `${base}_count`, labels: { frontend }, value: h.latency.count });
      }
      return { name: base, help: HTTP_DURATION_HELP, type: "histogram", values, aggregator: "sum" };
    },
    reset() {},
  } as unknown as Parameters<Registry["registerMetric"]>[0]);

  new Gauge({
    name: "lodestone_frontend_up",
    help: "1 when the frontend's service has an active pool (something to serve), else 0.",
    labelNames: ["frontend"],
    registers,
    collect() {
      this.reset();
      for (const f of current().status.frontends) this.set({ frontend: f.name }, f.activePool >= 0 ? 1 : 0);
    },
  });
  new Gauge({
    name: "lodestone_frontend_active_pool",
    help: "Index of the active pool of the frontend's service (-1 = none serving).",
    labelNames: ["frontend"],
    registers,
    collect() {
      this.reset();
      for (const f of current().status.frontends) this.set({ frontend: f.name }, f.activePool);
    },
  });
  new Gauge({
    name: "lodestone_service_active_pool",
    help: "Index of the service's active pool (-1 = none serving).",
    labelNames: ["service"],
    registers,
    collect() {
      this.reset();
      for (const s of current().status.services) this.set({ service: s.name }, s.activePool);
    },
  });
  new Gauge({
    name: "lodestone_backend_state",
    help: "Health state of the backend: 1 for its current state, 0 for the others.",
    labelNames: ["backend", "state"],
    registers,
    collect() {
      this.reset();
      for (const b of current().status.backends) {
        for (const state of HEALTH_STATES) this.set({ backend: b.name, state }, b.state === state ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "lodestone_backend_up",
    help: "1 when the backend is up, else 0.",
    labelNames: ["backend"],
    registers,
    collect() {
      this.reset();
      for (const b of current().status.backends) this.set({ backend: b.name }, b.state === "up" ? 1 : 0);
    },
  });
  const memberGauge = (name: string, help: string, pick: "configuredWeight" | "effectiveWeight") =>
    new Gauge({
      name,
      help,
      labelNames: ["service", "pool", "backend"],
      registers,
      collect() {
        this.reset();
        for (const s of current().status.services) {
          for (const p of s.pools) {
            for (const m of p.members)
              this.set({ service: s.name, pool: p.name, backend: m.backend }, m[pick]);
          }
        }
      },
    });
  memberGauge(
    "lodestone_backend_weight_configured",
    "Configured weight of the pool member (after an operator override).",
    "configuredWeight",
  );
  memberGauge(
    "lodestone_backend_weight_effective",
    "Weight the balancers use: configured if up in the active pool, else 0.",
    "effectiveWeight",
  );
  new Gauge({
    name: "lodestone_desired_state_version",
    help: "Version of the desired state last applied to the dataplanes.",
    registers,
    collect() {
      this.set(current().status.version);
    },
  });
  new Gauge({
    name: "lodestone_config_loaded_timestamp_seconds",
    help: "When the running configuration was loaded, Unix seconds.",
    registers,
    collect() {
      this.set((daemon.configLoadedAt ?? daemon.startedAt) / 1000);
    },
  });

  const probes = new Counter({
    name: "lodestone_healthcheck_results_total",
    help: "Health check probe results per backend.",
    labelNames: ["backend", "result"],
    registers,
  });
  const probeDuration = new Histogram({
    name: "lodestone_healthcheck_duration_seconds",
    help: "Health check probe duration per backend.",
    labelNames: ["backend"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const transitions = new Counter({
    name: "lodestone_backend_transitions_total",
    help: "Backend health state transitions, by the state entered.",
    labelNames: ["backend", "to"],
    registers,
  });
  const reloads = new Counter({
    name: "lodestone_reloads_total",
    help: "Configuration reloads by outcome: ok, refused (invalid config), apply_error.",
    labelNames: ["outcome"],
    registers,
  });
  for (const outcome of ["ok", "refused", "apply_error"]) reloads.inc({ outcome }, 0);
  const ejections = new Counter({
    name: "lodestone_backend_outlier_ejections_total",
    help: "Backends ejected by L7 passive outlier detection, per frontend and backend (each worker process counts its own).",
    labelNames: ["frontend", "backend"],
    registers,
  });

  const offProbe = daemon.onProbe?.((backend, result) => {
    if (!daemon.config.backends[backend]) return;
    probes.inc({ backend, result: result.ok ? "ok" : "fail" });
    probeDuration.observe({ backend }, result.latencyMs / 1000);
  });
  const offBus = daemon.events.subscribe((e) => {
    if (e.type === "backend-transition") transitions.inc({ backend: e.backend, to: e.to });
    else if (e.type === "backend-ejected") {
      if (e.ejected) ejections.inc({ frontend: e.frontend, backend: e.backend });
    } else if (e.type === "reload") {
      reloads.inc({ outcome: e.ok ? "ok" : e.summary.startsWith("refused") ? "refused" : "apply_error" });
    }
  });

  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "lodestone_" });

  return {
    registry,
    contentType: registry.contentType,
    async render() {
      snap = undefined;
      try {
        return await registry.metrics();
      } finally {
        snap = undefined;
      }
    },
    close() {
      offProbe?.();
      offBus();
    },
  };
}
