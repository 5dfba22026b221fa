// The normalized configuration every other module consumes.
//
// `lodestone.yaml` uses kebab-case keys, human durations ("2s", "500ms") and
// "host:port" strings; the loader (config/load.ts) validates that file and
// produces exactly these shapes: camelCase, durations in milliseconds, defaults
// filled in, references checked. Nothing downstream re-validates or sees YAML.
//
// Maps are plain records keyed by name (insertion order = file order). Wherever
// order can change an outcome (Maglev, pool members) consumers sort by name.

import type { HttpSettings, TlsSettings } from "./routes.ts";

export type Protocol = "tcp" | "udp" | "http" | "https";

export type Algorithm =
  | "maglev"
  | "round-robin"
  | "weighted-round-robin"
  | "least-connections"
  | "p2c"
  | "random"
  | "source-hash";

/** A literal IP address (v4 or v6, never a hostname) and a port. */
export interface HostPort {
  host: string;
  port: number;
}

export interface ProbeTiming {
  /** Normal probe interval while the backend is steadily up, ms. */
  interval: number;
  /** Interval while the counter is between states (rising or falling), ms. */
  fastInterval: number;
  /** Interval while the backend is down, ms. */
  downInterval: number;
  /** Per-probe timeout, ms. */
  timeout: number;
  /** Consecutive passes to go up. */
  rise: number;
  /** Consecutive failures to go down. */
  fall: number;
  /** Random spread applied to every interval, as a fraction (0 to 0.5). */
  jitter: number;
}

interface CheckBase extends ProbeTiming {
  name: string;
  /** Probe this port instead of the backend's traffic port. */
  port?: number;
}

export interface TcpCheck extends CheckBase {
  type: "tcp";
}

export interface StatusRange {
  min: number;
  max: number;
}

export interface HttpCheck extends CheckBase {
  type: "http" | "https";
  method: string;
  path: string;
  /** Host header; defaults to the backend address. */
  host?: string;
  /** Accepted statuses; default [{min: 200, max: 399}]. */
  expectStatus: StatusRange[];
  /** Substring the body must contain. */
  expectBody?: string;
  /** https only: SNI name to send. */
  sni?: string;
  /** https only: verify the backend certificate (default false, like HAProxy's check-ssl without verify). */
  verify: boolean;
}

export interface UdpCheck extends CheckBase {
  type: "udp";
  /** Payload to send (UTF-8). */
  send: string;
  /** Substring the reply must contain; any reply passes when absent. */
  expect?: string;
}

/** HAProxy agent-check: connect, read one line such as "up", "down", "drain", "weight:50" or "50%". */
export interface AgentCheck extends CheckBase {
  type: "agent";
}

export type HealthCheckConfig = TcpCheck | HttpCheck | UdpCheck | AgentCheck;

export interface BackendConfig {
  name: string;
  address: string;
  port: number;
  /** Name of a health check; absent = static, up at once. */
  healthcheck?: string;
}

export interface PoolMember {
  backend: string;
  /** 0..100, default 100. */
  weight: number;
}

export interface PoolConfig {
  name: string;
  members: PoolMember[];
}

export interface ServiceConfig {
  name: string;
  algorithm: Algorithm;
  /** Ordered by priority: the first pool with an up, weighted backend is active. */
  pools: PoolConfig[];
  maglev: {
    /** Prime, default 65537. */
    tableSize: number;
    /** Hash seed, default 0. Same seed + same backends = same table on every instance. */
    seed: number;
  };
  /** What maglev and source-hash key on. */
  hashOn: "client-address" | "client-address-port";
}

export interface FrontendConfig {
  name: string;
  listen: HostPort;
  protocol: Protocol;
  service: string;
  /** proxy: userspace listener (default). xdp: the kernel fast path (docs/xdp.md); needs `xdp`. */
  dataplane: "proxy" | "xdp";
  /** Backend connect timeout, ms (default 3000). */
  connectTimeout: number;
  /** Close a connection after this long without bytes either way, ms (default 300000). */
  idleTimeout: number;
  /** Concurrent client connections (per worker); 0 = unlimited. */
  maxConnections: number;
  /** Other backends to try after a connect failure (default 2). */
  connectRetries: number;
  /** PROXY protocol header sent to backends. */
  proxyProtocol: "none" | "v1" | "v2";
  udp: {
    /** Idle expiry of a client session, ms (default 30000). */
    sessionTimeout: number;
    /** Bound on concurrent sessions (default 65536). */
    maxSessions: number;
  };
  /** L7 routes (http/https); shape owned by the L7 dataplane, kept opaque here until then. */
  routes: unknown[];
  /** L7 (http/https) limits and timeouts, normalized by config/routes.ts; defaults apply when absent. */
  http?: HttpSettings;
  /** https: certificates and ALPN, normalized by config/routes.ts. */
  tls?: TlsSettings;
  /** Present exactly when dataplane is "xdp". */
  xdp?: XdpFrontendConfig;
}

/** A frontend's XDP settings (structurally the XdpFrontendOptions the XDP dataplane reads). */
export interface XdpFrontendConfig {
  /** Interface the VIP's traffic arrives on; the program is attached there. */
  interface: string;
  /** dsr: rewrite the destination MAC only (backends hold the VIP on loopback). nat: rewrite addresses. */
  mode: "dsr" | "nat";
  /** nat only: our address on the backends' side (same family as the VIP). */
  natAddress?: string;
  /** nat only: source ports handed out, inclusive (default 61000-65535). */
  natPorts: { min: number; max: number };
  /** Hash on (source, destination, protocol) so IP fragments follow their flow (dsr only). */
  fragments: boolean;
}

/** `runtime.xdp`: how the XDP program is loaded and attached (defaults filled when the block is written). */
export interface XdpRuntimeConfig {
  /** bpffs directory for the pinned maps (default /sys/fs/bpf/lodestone). */
  pinRoot: string;
  /** auto tries native (driver) XDP, then generic; generic on a veth. */
  attachMode: "auto" | "native" | "generic";
  /** Slots of the shared Maglev ring array (default 1048576). */
  ringEntries: number;
  /** Detach from interfaces on stop (default true); false leaves the fast path forwarding. */
  detachOnStop: boolean;
}

export interface AdminConfig {
  listen: HostPort;
  /** File holding the bearer token for mutations. */
  tokenFile?: string;
  /** Environment variable holding the bearer token. */
  tokenEnv?: string;
}

export interface RuntimeConfig {
  /** Worker processes for the proxy dataplane; "auto" = one per core. Default 1. */
  workers: number | "auto";
  warmup: {
    /** Hands-off delay after start before anything is programmed, ms (default 0). */
    minDelay: number;
    /** Longest wait for first probe results before programming anyway, ms (default 5000). */
    maxWait: number;
  };
  /** SIGTERM: how long open connections may finish, ms (default 10000). */
  drainTimeout: number;
  logLevel: "trace" | "debug" | "info" | "warn" | "error" | "fatal";
  /** Present when `runtime.xdp` is written; absent = the XDP defaults (XDP_RUNTIME_DEFAULTS). */
  xdp?: XdpRuntimeConfig;
}

export interface Config {
  healthchecks: Record<string, HealthCheckConfig>;
  backends: Record<string, BackendConfig>;
  services: Record<string, ServiceConfig>;
  frontends: Record<string, FrontendConfig>;
  admin: AdminConfig;
  runtime: RuntimeConfig;
}
