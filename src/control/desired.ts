// The desired state as a pure function of (config, health, operator overrides, agent
// reports). Deterministic: the same inputs give the same state whatever the order of
// names in the config, so two lodestone instances compute identical Maglev tables.
import { buildMaglevTable } from "../balance/maglev.ts";
import {
  type AgentReport,
  activePool,
  candidateWeight,
  effectiveWeight,
  trafficState,
  type WeightInput,
} from "../balance/weights.ts";
import type { Config, ServiceConfig } from "../config/types.ts";
import type { DesiredBackend, DesiredFrontend, DesiredService, DesiredState } from "../model/desired.ts";
import type { HealthState } from "../model/state.ts";
import type { OverrideView } from "./overrides.ts";

/** Byte-order comparison: never locale-dependent, so every machine sorts alike. */
export const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export interface ServiceDesired {
  activePool: number;
  backends: DesiredBackend[];
  maglev: Int32Array | null;
}

/** One service's members with effective weights, sorted by name, and its Maglev table. */
export function computeService(
  config: Config,
  service: ServiceConfig,
  health: (backend: string) => HealthState,
  overrides: OverrideView,
  agent: (backend: string) => AgentReport | undefined,
): ServiceDesired {
  const pools = service.pools.map((pool) =>
    pool.members.map((member) => {
      const input: WeightInput = {
        state: health(member.backend),
        frozenState: overrides.frozenState(member.backend),
        configuredWeight: member.weight,
        override: overrides.weight(service.name, pool.name, member.backend),
        disableFlush: overrides.disableFlush(member.backend),
        agent: agent(member.backend),
      };
      return { pool: pool.name, backend: member.backend, input };
    }),
  );
  const active = activePool(
    pools,
    (m) => trafficState(m.input.state, m.input.frozenState),
    (m) => candidateWeight(m.input),
  );
  const backends: DesiredBackend[] = [];
  pools.forEach((members, poolIndex) => {
    for (const m of members) {
      const backend = config.backends[m.backend];
      const w = effectiveWeight(m.input, poolIndex === active);
      backends.push({
        name: m.backend,
        address: backend.address,
        port: backend.port,
        pool: m.pool,
        poolIndex,
        state: m.input.state,
        configuredWeight: w.configuredWeight,
        weight: w.weight,
        flush: w.flush,
      });
    }
  });
  backends.sort((a, b) => byName(a.name, b.name));
  const maglev =
    service.algorithm === "maglev"
      ? maglevTable(backends, service.maglev.tableSize, service.maglev.seed)
      : null;
  return { activePool: active, backends, maglev };
}

export function computeDesired(
  config: Config,
  health: (backend: string) => HealthState,
  overrides: OverrideView,
  agent: (backend: string) => AgentReport | undefined,
  version: number,
): DesiredState {
  const services = new Map<string, ServiceDesired>();
  const serviceDesired = (name: string): ServiceDesired => {
    let sd = services.get(name);
    if (!sd) {
      sd = computeService(config, config.services[name], health, overrides, agent);
      services.set(name, sd);
    }
    return sd;
  };
  const frontends: Record<string, DesiredFrontend> = {};
  for (const name of Object.keys(config.frontends).sort(byName)) {
    const fe = config.frontends[name];
    const service = config.services[fe.service];
    const sd = serviceDesired(service.name);
    const frontend: DesiredFrontend = {
      name,
      protocol: fe.protocol,
      listen: fe.listen,
      service: service.name,
      algorithm: service.algorithm,
      hashOn: service.hashOn,
      activePool: sd.activePool,
      // Each frontend gets its own copies so a dataplane can never alias two of them.
      backends: sd.backends.map((b) => ({ ...b })),
      maglev: sd.maglev,
      maglevSeed: service.maglev.seed,
      settings: fe,
    };
    // L7 routes may forward to other services: the dataplane needs their backends too.
    const others = routeServiceNames(fe.routes).filter((s) => s !== service.name && config.services[s]);
    if (others.length > 0) {
      const routeServices: Record<string, DesiredService> = {};
      for (const s of others) {
        const rsd = serviceDesired(s);
        const svc = config.services[s];
        routeServices[s] = {
          algorithm: svc.algorithm,
          hashOn: svc.hashOn,
          activePool: rsd.activePool,
          backends: rsd.backends.map((b) => ({ ...b })),
          maglev: rsd.maglev,
          maglevSeed: svc.maglev.seed,
        };
      }
      frontend.routeServices = routeServices;
    }
    frontends[name] = frontend;
  }
  return { version, frontends };
}

/**
 * The services an L7 frontend's routes forward to, sorted, without duplicates.
 * Routes are normalized by config/routes.ts ({action: {type: "forward", service}});
 * the raw YAML form ({service}) is read too, so a hand-built config works alike.
 */
export function routeServiceNames(routes: readonly unknown[] | undefined): string[] {
  const names = new Set<string>();
  for (const r of routes ?? []) {
    if (typeof r !== "object" || r === null) continue;
    const route = r as { action?: { type?: unknown; service?: unknown }; service?: unknown };
    if (route.action?.type === "forward" && typeof route.action.service === "string")
      names.add(route.action.service);
    else if (typeof route.service === "string") names.add(route.service);
  }
  return [...names].sort(byName);
}

// Building a 65537-slot table costs milliseconds; reconciles mostly recompute the
// same weights, so the last few tables are kept by their exact inputs. Tables are
// shared, read-only, between desired states.
const tableCache = new Map<string, Int32Array>();
const TABLE_CACHE_SIZE = 32;

function maglevTable(backends: readonly DesiredBackend[], size: number, seed: number): Int32Array {
  const key = `${size}/${seed}/${backends.map((b) => `${b.name}=${b.weight}`).join(",")}`;
  const hit = tableCache.get(key);
  if (hit) {
    tableCache.delete(key);
    tableCache.set(key, hit);
    return hit;
  }
  const table = buildMaglevTable(
    backends.map((b) => ({ name: b.name, weight: b.weight })),
    size,
    seed,
  );
  tableCache.set(key, table);
  if (tableCache.size > TABLE_CACHE_SIZE) tableCache.delete(tableCache.keys().next().value as string);
  return table;
}
