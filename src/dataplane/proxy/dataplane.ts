// The userspace proxy dataplane: one FrontendListener per frontend, kept in step
// with each desired state. apply() diffs frontends by name — new ones are bound,
// vanished ones drain, a changed listen address or protocol replaces the listener,
// everything else gets update() (new balancer, flush, drain; established flows stay).
import type { HostPort, Protocol } from "../../config/types.ts";
import { LodestoneError } from "../../errors.ts";
import type { DesiredFrontend, DesiredState } from "../../model/desired.ts";
import type { Dataplane } from "../types.ts";
import type { ProxyStats } from "./counters.ts";
import { createHttpListener } from "./http/index.ts";
import type { FrontendListener, ListenerFactory, ProxyLogger } from "./listener.ts";
import { silentLogger } from "./listener.ts";
import { planApply } from "./plan.ts";
import { TcpListener } from "./tcp.ts";
import { UdpListener } from "./udp.ts";

/** Listener builders by protocol. */
const listenerFactories: Partial<Record<Protocol, ListenerFactory>> = {
  tcp: (frontend, options) => new TcpListener(frontend, options),
  udp: (frontend, options) => new UdpListener(frontend, options),
  http: (frontend, options) => createHttpListener(frontend, options),
  https: (frontend, options) => createHttpListener(frontend, options),
};

export interface ProxyDataplaneOptions {
  /** Bind every listener with SO_REUSEPORT (worker processes sharing addresses). */
  reusePort?: boolean;
  log?: ProxyLogger;
  /**
   * How long a removed or replaced frontend's open flows may finish, ms (default 10000);
   * a function is read at each removal (the daemon's follows runtime.drainTimeout across reloads).
   */
  drainTimeout?: number | (() => number);
  /** L7 passive outlier detection ejected (true) or returned (false) a backend: for the control plane's events. */
  onOutlier?: (frontend: string, backend: string, ejected: boolean, reason: string) => void;
}

interface Running {
  listener: FrontendListener;
  protocol: Protocol;
  listen: HostPort;
}

interface Draining {
  entry: Running;
  done: Promise<void>;
}

const transportOf = (protocol: Protocol): "tcp" | "udp" => (protocol === "udp" ? "udp" : "tcp");

export class ProxyDataplane implements Dataplane {
  readonly name = "proxy";
  readonly #options: ProxyDataplaneOptions;
  readonly #log: ProxyLogger;
  readonly #running = new Map<string, Running>();
  readonly #draining = new Set<Draining>();
  #queue: Promise<unknown> = Promise.resolve();
  #stopped = false;

  constructor(options: ProxyDataplaneOptions = {}) {
    this.#options = options;
    this.#log = options.log ?? silentLogger;
  }

  /**
   * Make the listeners match `desired`. Serialized: a second call waits for the first.
   * Frontends that fail (bind error, unsupported protocol, table rejected) are
   * reported by rejecting after everything else was applied; they are retried on
   * the next apply.
   */
  apply(desired: DesiredState): Promise<void> {
    const run = this.#queue.then(() => this.#apply(desired));
    this.#queue = run.catch(() => {});
    return run;
  }

  stop(drainTimeout: number): Promise<void> {
    const run = this.#queue.then(async () => {
      this.#stopped = true;
      const stopping = [...this.#running.values()].map((r) => r.listener.stop(drainTimeout));
      this.#running.clear();
      await Promise.all([...stopping, ...[...this.#draining].map((d) => d.done)]);
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  stats(): ProxyStats {
    const frontends: ProxyStats["frontends"] = {};
    for (const [name, r] of this.#running) frontends[name] = r.listener.stats();
    return { frontends };
  }

  /** The address a running frontend is bound to (resolves port 0), or null. */
  address(frontend: string): HostPort | null {
    const r = this.#running.get(frontend);
    return r?.listener.address?.() ?? null;
  }

  /** Names of the frontends currently listening. */
  frontends(): string[] {
    return [...this.#running.keys()];
  }

  async #apply(desired: DesiredState): Promise<void> {
    if (this.#stopped) throw new LodestoneError("DATAPLANE_STOPPED", "the proxy dataplane has been stopped");
    const failures: Error[] = [];
    // Frontends of the XDP dataplane are balanced in the kernel: nothing listens here for them.
    const frontends = Object.fromEntries(
      Object.entries(desired.frontends).filter(([, f]) => f.settings.dataplane !== "xdp"),
    );
    for (const action of planApply(this.#running, frontends)) {
      const { name } = action;
      const f = frontends[name];
      if (action.kind === "remove" || action.kind === "replace") {
        const r = this.#running.get(name)!;
        this.#running.delete(name);
        this.#retire(name, r, action.kind === "remove" ? "removed" : "replaced");
        continue;
      }
      try {
        if (action.kind === "update") this.#running.get(name)!.listener.update(f);
        else await this.#start(f);
      } catch (err) {
        // Not logged here: the error names the frontend and whoever applied (the
        // reconciler, a worker's parent) logs it once.
        failures.push(err as Error);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      throw new LodestoneError("APPLY_FAILED", failures.map((e) => e.message).join("; "), {
        cause: failures,
      });
    }
  }

  async #start(f: DesiredFrontend): Promise<void> {
    const factory = listenerFactories[f.protocol];
    if (factory === undefined) {
      throw new LodestoneError(
        "PROTOCOL_UNSUPPORTED",
        `frontend "${f.name}": protocol ${f.protocol} is not available in the proxy dataplane yet`,
      );
    }
    // A draining listener still holding this exact address (UDP keeps its socket to
    // answer old sessions) gives way now: the new frontend wins the port.
    for (const d of this.#draining) {
      const old = d.entry;
      if (transportOf(old.protocol) === transportOf(f.protocol) && old.listen.port === f.listen.port) {
        if (old.listen.host === f.listen.host && f.listen.port !== 0) await old.listener.stop(0);
      }
    }
    const onOutlier = this.#options.onOutlier;
    const listener = factory(f, {
      reusePort: this.#options.reusePort,
      log: this.#log,
      onOutlier: onOutlier && ((backend, ejected, reason) => onOutlier(f.name, backend, ejected, reason)),
    });
    await listener.start();
    this.#running.set(f.name, { listener, protocol: f.protocol, listen: f.listen });
  }

  #retire(name: string, entry: Running, why: string): void {
    this.#log.info({ frontend: name, why }, "frontend draining");
    const d = this.#options.drainTimeout;
    const drainTimeout = (typeof d === "function" ? d() : d) ?? 10000;
    const draining: Draining = {
      entry,
      done: entry.listener.stop(drainTimeout).catch((err) => {
        this.#log.warn({ frontend: name, err }, "frontend stop failed");
      }),
    };
    this.#draining.add(draining);
    void draining.done.then(() => this.#draining.delete(draining));
  }
}
