// Desired states for the XDP tests, built the way control/ builds them: backends
// sorted by name, weights, and the weighted Maglev table from balance/maglev.ts.
import { buildMaglevTable } from "../../../src/balance/maglev.ts";
import type { FrontendConfig } from "../../../src/config/types.ts";
import type { DesiredBackend, DesiredFrontend, DesiredState } from "../../../src/model/desired.ts";
import type { HealthState } from "../../../src/model/state.ts";

export interface BackendSpec {
  name: string;
  address: string;
  port: number;
  weight?: number;
  state?: HealthState;
  flush?: boolean;
}

export function frontend(
  name: string,
  protocol: "tcp" | "udp",
  host: string,
  port: number,
  backends: BackendSpec[],
  tableSize = 4093,
): DesiredFrontend {
  const sorted = [...backends].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const list: DesiredBackend[] = sorted.map((b) => {
    const configured = b.weight ?? 100;
    const state = b.state ?? "up";
    return {
      name: b.name,
      address: b.address,
      port: b.port,
      pool: "primary",
      poolIndex: 0,
      state,
      configuredWeight: configured,
      weight: state === "up" ? configured : 0,
      flush: b.flush ?? false,
    };
  });
  const maglev = buildMaglevTable(
    list.map((b) => ({ name: b.name, weight: b.weight })),
    tableSize,
    0,
  );
  return {
    name,
    protocol,
    listen: { host, port },
    service: name,
    algorithm: "maglev",
    hashOn: "client-address-port",
    activePool: list.some((b) => b.weight > 0) ? 0 : -1,
    backends: list,
    maglev,
    maglevSeed: 0,
    settings: { name, dataplane: "proxy" } as unknown as FrontendConfig,
  };
}

let version = 0;

/** A DesiredState whose maglev tables survive JSON (plain arrays) for the lb agent. */
export function state(...frontends: DesiredFrontend[]): DesiredState {
  const out: DesiredState = { version: ++version, frontends: {} };
  for (const f of frontends) {
    out.frontends[f.name] = {
      ...f,
      maglev: (f.maglev ? Array.from(f.maglev) : null) as unknown as Int32Array,
    };
  }
  return out;
}

export function tally(names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const n of names) out[n] = (out[n] ?? 0) + 1;
  return out;
}
