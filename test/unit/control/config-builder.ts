// Builds normalized Config objects for control-plane unit tests, with the loader's
// defaults filled in, so tests state only what matters to them.
import type {
  Algorithm,
  BackendConfig,
  Config,
  FrontendConfig,
  HealthCheckConfig,
  Protocol,
  ServiceConfig,
} from "../../../src/config/types.ts";

export interface ServiceSpec {
  algorithm?: Algorithm;
  /** Pools in priority order: name -> { backend: weight }. */
  pools: [string, Record<string, number>][];
  tableSize?: number;
  seed?: number;
}

export interface Spec {
  backends: Record<string, { port: number; check?: string }>;
  services: Record<string, ServiceSpec>;
  frontends: Record<string, { port: number; service: string; protocol?: Protocol }>;
  checks?: Record<string, HealthCheckConfig>;
}

export function tcpCheck(name: string, interval = 100): HealthCheckConfig {
  return {
    name,
    type: "tcp",
    interval,
    fastInterval: interval,
    downInterval: interval,
    timeout: interval,
    rise: 2,
    fall: 2,
    jitter: 0,
  };
}

export function frontendConfig(
  name: string,
  port: number,
  service: string,
  protocol: Protocol = "tcp",
): FrontendConfig {
  return {
    name,
    listen: { host: "127.0.0.1", port },
    protocol,
    service,
    dataplane: "proxy",
    connectTimeout: 3000,
    idleTimeout: 300000,
    maxConnections: 0,
    connectRetries: 2,
    proxyProtocol: "none",
    udp: { sessionTimeout: 30000, maxSessions: 65536 },
    routes: [],
  };
}

export function buildConfig(spec: Spec): Config {
  const backends: Record<string, BackendConfig> = {};
  for (const [name, b] of Object.entries(spec.backends)) {
    backends[name] = {
      name,
      address: "127.0.0.1",
      port: b.port,
      ...(b.check ? { healthcheck: b.check } : {}),
    };
  }
  const services: Record<string, ServiceConfig> = {};
  for (const [name, s] of Object.entries(spec.services)) {
    services[name] = {
      name,
      algorithm: s.algorithm ?? "round-robin",
      pools: s.pools.map(([pool, members]) => ({
        name: pool,
        members: Object.entries(members).map(([backend, weight]) => ({ backend, weight })),
      })),
      maglev: { tableSize: s.tableSize ?? 65537, seed: s.seed ?? 0 },
      hashOn: "client-address",
    };
  }
  const frontends: Record<string, FrontendConfig> = {};
  for (const [name, f] of Object.entries(spec.frontends)) {
    frontends[name] = frontendConfig(name, f.port, f.service, f.protocol);
  }
  return {
    healthchecks: spec.checks ?? {},
    backends,
    services,
    frontends,
    admin: { listen: { host: "127.0.0.1", port: 9700 } },
    runtime: { workers: 1, warmup: { minDelay: 0, maxWait: 5000 }, drainTimeout: 10000, logLevel: "info" },
  };
}
