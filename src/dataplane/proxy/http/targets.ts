// The services an L7 frontend can forward to (its own, plus those its routes name),
// each with its backends and a balancer built from the desired state. Rebuilt on
// every update(); in-flight counts live per backend name in the listener so they
// survive a rebuild (least-connections and p2c read them).
import { createBalancer } from "../../../balance/index.ts";
import type { Balancer, FlowKey } from "../../../balance/types.ts";
import type { DesiredBackend, DesiredFrontend, DesiredService } from "../../../model/desired.ts";

export class ServiceTarget {
  readonly name: string;
  readonly backends: readonly DesiredBackend[];
  private readonly balancer: Balancer | null;

  constructor(name: string, service: DesiredService, inflight: (backend: string) => number) {
    this.name = name;
    this.backends = service.backends;
    const backends = service.backends;
    const members = backends.map((b) => ({ name: b.name, weight: b.weight }));
    let balancer: Balancer | null = null;
    if (members.some((m) => m.weight > 0)) {
      balancer = createBalancer(members, {
        algorithm: service.algorithm,
        maglevTable: service.maglev,
        maglevSeed: service.maglevSeed,
        hashOn: service.hashOn,
        inflight: (i) => inflight(backends[i].name),
      });
    }
    this.balancer = balancer;
  }

  /** Index into backends, or -1 when no backend can take traffic. */
  pick(flow: FlowKey, exclude: ReadonlySet<number> | undefined): number {
    if (this.balancer === null) return -1;
    return this.balancer.pick(flow, exclude);
  }
}

/** Build every target of a frontend: its own service, then its routes' services. */
export function buildTargets(
  frontend: DesiredFrontend,
  inflight: (backend: string) => number,
): Map<string, ServiceTarget> {
  const targets = new Map<string, ServiceTarget>();
  targets.set(frontend.service, new ServiceTarget(frontend.service, frontend, inflight));
  for (const [name, service] of Object.entries(frontend.routeServices ?? {})) {
    if (!targets.has(name)) targets.set(name, new ServiceTarget(name, service, inflight));
  }
  return targets;
}
