// The services an L7 frontend can forward to (its own, plus those its routes name),
// each with its backends and a balancer built from the desired state. Rebuilt on
// every update(); in-flight counts live per backend name in the listener so they
// survive a rebuild (least-connections and p2c read them).
//
// With `http.hash-on` a second, Maglev balancer over the same backends picks by a
// request key (header, cookie or client address) whatever the service's algorithm.
import { createBalancer } from "../../../balance/index.ts";
import type { Balancer, FlowKey } from "../../../balance/types.ts";
import type { DesiredBackend, DesiredFrontend, DesiredService } from "../../../model/desired.ts";

/** Table size of hash-on balancers when the service has no Maglev table of its own. */
const HASH_TABLE_SIZE = 4099;

export class ServiceTarget {
  readonly name: string;
  readonly backends: readonly DesiredBackend[];
  private readonly balancer: Balancer | null;
  private readonly hashed: Balancer | null;
  private readonly byName = new Map<string, number>();
  private readonly hashFlow: FlowKey = { address: "", port: 0 };

  constructor(name: string, service: DesiredService, inflight: (backend: string) => number, hashOn = false) {
    this.name = name;
    this.backends = service.backends;
    const backends = service.backends;
    for (let i = 0; i < backends.length; i++) this.byName.set(backends[i].name, i);
    const members = backends.map((b) => ({ name: b.name, weight: b.weight }));
    let balancer: Balancer | null = null;
    let hashed: Balancer | null = null;
    if (members.some((m) => m.weight > 0)) {
      balancer = createBalancer(members, {
        algorithm: service.algorithm,
        maglevTable: service.maglev,
        maglevSeed: service.maglevSeed,
        hashOn: service.hashOn,
        inflight: (i) => inflight(backends[i].name),
      });
      if (hashOn) {
        hashed = createBalancer(members, {
          algorithm: "maglev",
          maglevTable: service.algorithm === "maglev" ? service.maglev : null,
          maglevTableSize: HASH_TABLE_SIZE,
          maglevSeed: service.maglevSeed,
          hashOn: "client-address",
        });
      }
    }
    this.balancer = balancer;
    this.hashed = hashed;
  }

  /** Index into backends, or -1 when no backend can take traffic. */
  pick(flow: FlowKey, exclude: ReadonlySet<number> | undefined): number {
    if (this.balancer === null) return -1;
    return this.balancer.pick(flow, exclude);
  }

  /** Consistent pick by a request key (hash-on); falls back to pick() without a hash balancer. */
  pickByKey(key: string, flow: FlowKey, exclude: ReadonlySet<number> | undefined): number {
    if (this.hashed === null) return this.pick(flow, exclude);
    // A key that is an IP address hashes like the L4 flow hash; any other string as its bytes.
    this.hashFlow.address = key;
    return this.hashed.pick(this.hashFlow, exclude);
  }

  /** Index of a backend by name, -1 when this service has none of that name. */
  indexOf(backend: string): number {
    return this.byName.get(backend) ?? -1;
  }
}

/** Build every target of a frontend: its own service, then its routes' services. */
export function buildTargets(
  frontend: DesiredFrontend,
  inflight: (backend: string) => number,
  hashOn = false,
): Map<string, ServiceTarget> {
  const targets = new Map<string, ServiceTarget>();
  targets.set(frontend.service, new ServiceTarget(frontend.service, frontend, inflight, hashOn));
  for (const [name, service] of Object.entries(frontend.routeServices ?? {})) {
    if (!targets.has(name)) targets.set(name, new ServiceTarget(name, service, inflight, hashOn));
  }
  return targets;
}
