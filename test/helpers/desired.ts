// Builds DesiredState objects directly for dataplane tests (no config, no control plane).
import { buildMaglevTable } from "../../src/balance/index.ts";
import type { Algorithm, FrontendConfig, HostPort, Protocol } from "../../src/config/types.ts";
import type { DesiredBackend, DesiredFrontend, DesiredState } from "../../src/model/desired.ts";

export interface BackendSpec {
  name: string;
  port: number;
  address?: string;
  weight?: number;
  flush?: boolean;
}

export function desiredBackend(spec: BackendSpec): DesiredBackend {
  const weight = spec.weight ?? 100;
  return {
    name: spec.name,
    address: spec.address ?? "127.0.0.1",
    port: spec.port,
    pool: "primary",
    poolIndex: 0,
    state: weight > 0 ? "up" : "disabled",
    configuredWeight: weight,
    weight,
    flush: spec.flush ?? false,
  };
}

export interface FrontendSpec {
  name?: string;
  protocol?: Protocol;
  listen?: HostPort;
  algorithm?: Algorithm;
  backends: BackendSpec[];
  /** Overrides of the frontend settings (udp merges shallowly). */
  settings?: Partial<Omit<FrontendConfig, "udp">> & { udp?: Partial<FrontendConfig["udp"]> };
  maglevTableSize?: number;
}

export function desiredFrontend(spec: FrontendSpec): DesiredFrontend {
  const name = spec.name ?? "fe";
  const protocol = spec.protocol ?? "tcp";
  const listen = spec.listen ?? { host: "127.0.0.1", port: 0 };
  const algorithm = spec.algorithm ?? "round-robin";
  const backends = spec.backends
    .map(desiredBackend)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const { udp, ...rest } = spec.settings ?? {};
  const settings: FrontendConfig = {
    name,
    listen,
    protocol,
    service: "svc",
    dataplane: "proxy",
    connectTimeout: 1000,
    idleTimeout: 30000,
    maxConnections: 0,
    connectRetries: 2,
    proxyProtocol: "none",
    routes: [],
    ...rest,
    udp: { sessionTimeout: 30000, maxSessions: 65536, ...udp },
  };
  const maglev = algorithm === "maglev" ? buildMaglevTable(backends, spec.maglevTableSize ?? 251, 0) : null;
  return {
    name,
    protocol,
    listen,
    service: "svc",
    algorithm,
    hashOn: "client-address-port",
    activePool: backends.some((b) => b.weight > 0) ? 0 : -1,
    backends,
    maglev,
    maglevSeed: 0,
    settings,
  };
}

export function desiredState(frontends: DesiredFrontend[], version = 1): DesiredState {
  return { version, frontends: Object.fromEntries(frontends.map((f) => [f.name, f])) };
}
