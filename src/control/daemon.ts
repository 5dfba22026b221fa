// The daemon: wires configuration, the health checker, the reconciler, the
// dataplanes, the event bus and the log together, and offers the operations the
// admin API and the CLI call (status, pause/resume/enable/disable, setWeight,
// reload, stop). Everything that can move traffic ends in reconciler.trigger().
import { availableParallelism } from "node:os";
import type { AgentReport } from "../balance/weights.ts";
import {
  type ConfigDiff,
  type ConfigIssue,
  type ConfigResult,
  diffConfig,
  formatIssue,
  isEmpty,
  loadConfigFile,
  parseConfig,
} from "../config/index.ts";
import type { Algorithm, Config } from "../config/types.ts";
import type { Dataplane, DataplaneStats } from "../dataplane/types.ts";
import { LodestoneError } from "../errors.ts";
import { HealthChecker } from "../health/checker.ts";
import type { BackendHealthView, ProbeResult, Transition } from "../health/types.ts";
import type { DesiredState } from "../model/desired.ts";
import type { HealthState } from "../model/state.ts";
import { byName, computeDesired, computeService } from "./desired.ts";
import { summarizeDiff } from "./diff-summary.ts";
import { EventBus } from "./events.ts";
import { createLogger, type Logger } from "./log.ts";
import { type BackendOverride, Overrides, type WeightOverrideEntry } from "./overrides.ts";
import { Reconciler } from "./reconciler.ts";
import { startIssues } from "./start-checks.ts";
import { Warmup } from "./warmup.ts";

/** Where the configuration comes from: a file, or embedded text (the demo). */
export type ConfigSource = { path: string } | { text: string; file: string };

export interface DaemonOptions {
  source: ConfigSource;
  /** Defaults to a pino logger on stdout at the config's log level. */
  logger?: Logger;
  /** Dataplanes to drive instead of the proxy dataplane chosen by runtime.workers. */
  createDataplanes?: (
    config: Config,
    log: Logger,
    hooks: DataplaneHooks,
  ) => Dataplane[] | Promise<Dataplane[]>;
  /** Abort a start still in warmup (a stop signal arrived): start() rejects with START_ABORTED. */
  signal?: AbortSignal;
  /**
   * Also refuse (ConfigInvalidError) what only a start checks, as `lodestone validate`
   * does: an admin token that cannot be read. Off for embedders that bring their own token.
   */
  startChecks?: boolean;
}

/**
 * What the daemon lends the dataplanes it creates: a way back into the control plane
 * (dataplanes never import control) and settings that follow reloads.
 */
export interface DataplaneHooks {
  /** L7 passive outlier detection ejected (true) or returned (false) a backend of a frontend. */
  onOutlier(frontend: string, backend: string, ejected: boolean, reason: string): void;
  /** runtime.drainTimeout of the running configuration, ms (changes with a reload). */
  drainTimeout(): number;
}

export type ReloadResult =
  | { ok: true; diff: ConfigDiff; changed: boolean; droppedOverrides: string[]; applyErrors: string[] }
  | { ok: false; errors: ConfigIssue[] };

export interface MemberStatus {
  backend: string;
  state: HealthState;
  configuredWeight: number;
  effectiveWeight: number;
  flush: boolean;
  override: WeightOverrideEntry | null;
}

export interface DaemonStatus {
  /** Version of the desired state last applied (0 = nothing programmed yet). */
  version: number;
  warmup: { done: boolean };
  startedAt: number;
  configSource: string;
  frontends: {
    name: string;
    listen: string;
    protocol: string;
    service: string;
    activePool: number;
    activePoolName: string | null;
  }[];
  services: {
    name: string;
    algorithm: Algorithm;
    activePool: number;
    pools: { name: string; active: boolean; members: MemberStatus[] }[];
  }[];
  backends: (BackendHealthView & { override: BackendOverride | null })[];
}

export class ConfigInvalidError extends LodestoneError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super("CONFIG_INVALID", `configuration has ${issues.length} error(s)`);
    this.issues = issues;
  }
}

/** "auto" = one worker per core. */
export function workerCount(workers: number | "auto"): number {
  return workers === "auto" ? Math.max(1, availableParallelism()) : Math.max(1, workers);
}

// Loaded on demand: a single-process daemon never loads the worker pool code.
async function defaultDataplanes(config: Config, log: Logger, hooks: DataplaneHooks): Promise<Dataplane[]> {
  const n = workerCount(config.runtime.workers);
  const dpLog = log.child({ component: "dataplane" });
  // The XDP dataplane (kernel fast path) is created when the config has an XDP frontend
  // (at start, or by the reload that adds the first one); it gets the same desired state
  // and ignores non-XDP frontends, as the proxy ignores XDP ones.
  const xdp = await xdpDataplane(config, log);
  const { onOutlier, drainTimeout } = hooks;
  if (n === 1) {
    const { ProxyDataplane } = await import("../dataplane/proxy/dataplane.ts");
    return [new ProxyDataplane({ log: dpLog, drainTimeout, onOutlier }), ...xdp];
  }
  const { WorkerPoolDataplane } = await import("../dataplane/proxy/workers.ts");
  return [
    new WorkerPoolDataplane({
      workers: n,
      log: dpLog,
      logLevel: config.runtime.logLevel,
      drainTimeout,
      onOutlier,
    }),
    ...xdp,
  ];
}

/** [XdpDataplane] when a frontend has dataplane xdp, else [] (libbpf is then never loaded). */
async function xdpDataplane(config: Config, log: Logger): Promise<Dataplane[]> {
  if (!Object.values(config.frontends).some((f) => f.dataplane === "xdp")) return [];
  const { XdpDataplane } = await import("../dataplane/xdp/dataplane.ts");
  const xdpLog = log.child({ component: "xdp" });
  const r = config.runtime.xdp;
  return [
    new XdpDataplane({
      pinRoot: r?.pinRoot,
      attachMode: r?.attachMode,
      ringEntries: r?.ringEntries,
      detachOnStop: r?.detachOnStop,
      log: (level, message) => xdpLog[level](message),
    }),
  ];
}

const formatListen = (l: { host: string; port: number }) =>
  l.host.includes(":") ? `[${l.host}]:${l.port}` : `${l.host}:${l.port}`;

export class Daemon {
  readonly events = new EventBus();
  readonly log: Logger;
  readonly startedAt = Date.now();
  /** Epoch ms when the running configuration was loaded (start, then each applied reload). */
  configLoadedAt = Date.now();
  readonly #source: ConfigSource;
  #config: Config;
  readonly #checker: HealthChecker;
  readonly #overrides = new Overrides();
  readonly #dataplanes: Dataplane[];
  /** The dataplanes are the default ones (so the daemon may add the XDP one on reload). */
  readonly #defaultDataplanes: boolean;
  readonly #reconciler: Reconciler;
  readonly #warmup: Warmup;
  #reloading: Promise<unknown> = Promise.resolve();
  #stopping: Promise<void> | undefined;
  #warmupDone!: Promise<string>;

  private constructor(
    source: ConfigSource,
    config: Config,
    log: Logger,
    dataplanes: Dataplane[],
    defaultDataplanes: boolean,
  ) {
    this.#source = source;
    this.#config = config;
    this.log = log;
    this.#checker = new HealthChecker();
    this.#dataplanes = dataplanes;
    this.#defaultDataplanes = defaultDataplanes;
    this.#reconciler = new Reconciler({
      compute: (version) => this.#compute(version),
      dataplanes: this.#dataplanes,
      log: this.log.child({ component: "reconciler" }),
      onApplied: (next, previous, errors) => this.#onApplied(next, previous, errors),
    });
    let warmupResolve!: (reason: string) => void;
    this.#warmupDone = new Promise((resolve) => {
      warmupResolve = resolve;
    });
    this.#warmup = new Warmup({
      minDelay: config.runtime.warmup.minDelay,
      maxWait: config.runtime.warmup.maxWait,
      unknown: () => this.#unknownChecked(),
      onDone: warmupResolve,
    });
    this.#checker.on("transition", (name: string, t: Transition) => this.#onTransition(name, t));
    this.#checker.on("agent", (name: string, report: AgentReport) => {
      this.log.info({ backend: name, agent: report }, "agent report");
      this.#reconciler.trigger(`agent ${name}`);
    });
  }

  /** Load the configuration (ConfigInvalidError / CONFIG_UNREADABLE when it can't be used). */
  static async loadSource(source: ConfigSource): Promise<ConfigResult> {
    return "path" in source ? loadConfigFile(source.path) : parseConfig(source.text, source.file);
  }

  /**
   * Start: load the config, start probing, wait out warmup, program the dataplanes.
   * Resolves once the first desired state is applied; rejects (after cleaning up)
   * when the config is invalid or a dataplane can't take it (e.g. address in use).
   */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const result = await Daemon.loadSource(options.source);
    if (!result.ok) throw new ConfigInvalidError(result.errors);
    if (options.startChecks) {
      const issues = await startIssues(options.source, result.config);
      if (issues.length > 0) throw new ConfigInvalidError(issues);
    }
    const log = options.logger ?? createLogger(result.config.runtime.logLevel);
    // The dataplanes exist before the daemon: the hooks reach it once it is built.
    let daemon: Daemon | undefined;
    const hooks: DataplaneHooks = {
      onOutlier: (frontend, backend, ejected, reason) => {
        if (daemon !== undefined) daemon.#onOutlier(frontend, backend, ejected, reason);
      },
      drainTimeout: () => (daemon !== undefined ? daemon.#config : result.config).runtime.drainTimeout,
    };
    const dataplanes = await (options.createDataplanes ?? defaultDataplanes)(result.config, log, hooks);
    daemon = new Daemon(
      options.source,
      result.config,
      log,
      dataplanes,
      options.createDataplanes === undefined,
    );
    try {
      await daemon.#start(options.signal);
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    return daemon;
  }

  get config(): Config {
    return this.#config;
  }

  /** The desired state last applied, if any. */
  get desired(): DesiredState | undefined {
    return this.#reconciler.current;
  }

  async #start(signal?: AbortSignal): Promise<void> {
    const c = this.#config;
    this.log.info(
      {
        config: this.#sourceName(),
        frontends: Object.keys(c.frontends).length,
        services: Object.keys(c.services).length,
        backends: Object.keys(c.backends).length,
        workers: workerCount(c.runtime.workers),
        dataplanes: this.#dataplanes.map((d) => d.name),
      },
      "starting",
    );
    this.#checker.sync(Object.values(c.backends), c.healthchecks);
    this.#warmup.start();
    const aborted = new Promise<never>((_, reject) => {
      const abort = () => reject(new LodestoneError("START_ABORTED", "start aborted during warmup"));
      if (signal?.aborted) abort();
      signal?.addEventListener("abort", abort, { once: true });
    });
    aborted.catch(() => {});
    const reason = await Promise.race([this.#warmupDone, aborted]);
    this.log.info({ reason }, "warmup done");
    const errors = await this.#reconciler.open(`warmup done: ${reason}`);
    if (errors.length > 0) {
      throw new LodestoneError("START_FAILED", errors.map((e) => e.message).join("; "), { cause: errors[0] });
    }
    const fe = Object.values(c.frontends).map((f) => `${f.name} ${f.protocol}://${formatListen(f.listen)}`);
    this.log.info({ version: this.#reconciler.current?.version, frontends: fe }, "ready");
  }

  #sourceName(): string {
    return "path" in this.#source ? this.#source.path : this.#source.file;
  }

  #state(name: string): HealthState {
    return this.#checker.get(name)?.state ?? "unknown";
  }

  #agent(name: string): AgentReport | undefined {
    return this.#checker.get(name)?.agent;
  }

  #compute(version: number): DesiredState {
    return computeDesired(
      this.#config,
      (n) => this.#state(n),
      this.#overrides,
      (n) => this.#agent(n),
      version,
    );
  }

  #unknownChecked(): number {
    let n = 0;
    for (const b of Object.values(this.#config.backends)) {
      if (b.healthcheck && this.#state(b.name) === "unknown") n++;
    }
    return n;
  }

  #onTransition(name: string, t: Transition): void {
    const level = t.to === "down" ? "warn" : "info";
    this.log[level]({ backend: name, from: t.from, to: t.to, reason: t.reason }, "backend transition");
    this.events.publish({
      type: "backend-transition",
      backend: name,
      from: t.from,
      to: t.to,
      reason: t.reason,
    });
    this.#warmup.check();
    this.#reconciler.trigger(`${name} ${t.from}->${t.to}`);
  }

  #onOutlier(frontend: string, backend: string, ejected: boolean, reason: string): void {
    // The listener that detected it already logged the details; this is the operator's line.
    this.log[ejected ? "warn" : "info"](
      { frontend, backend, ejected, reason },
      ejected ? "backend ejected" : "backend returned",
    );
    this.events.publish({ type: "backend-ejected", frontend, backend, ejected, reason });
  }

  #onApplied(next: DesiredState, previous: DesiredState | undefined, errors: Error[]): void {
    for (const err of errors) {
      this.events.publish({ type: "log", level: "error", message: `dataplane apply failed: ${err.message}` });
    }
    for (const fe of Object.values(next.frontends)) {
      const before = previous?.frontends[fe.name];
      const pools = this.#config.services[fe.service]?.pools ?? [];
      const poolName = (i: number) => (i >= 0 ? (pools[i]?.name ?? null) : null);
      const fromPool = before ? before.activePool : -1;
      if (!before || before.activePool !== fe.activePool) {
        const body = {
          frontend: fe.name,
          fromPool,
          toPool: fe.activePool,
          fromPoolName: before ? poolName(fromPool) : null,
          toPoolName: poolName(fe.activePool),
        };
        const level = fe.activePool < 0 ? "error" : before ? "warn" : "info";
        this.log[level](
          body,
          fe.activePool < 0 ? "frontend has no backend to serve" : "frontend active pool",
        );
        this.events.publish({ type: "frontend-transition", ...body });
      }
      const old = new Map((before?.backends ?? []).map((b) => [b.name, b]));
      for (const b of fe.backends) {
        const o = old.get(b.name);
        const from = o ? o.weight : 0;
        if (from === b.weight) {
          // Only the flush flag moved (e.g. it clears once a flushed backend stays at 0):
          // no traffic moved, so no weight-change event; the log keeps the detail.
          if (o && o.flush !== b.flush) {
            this.log.debug(
              { frontend: fe.name, backend: b.name, weight: b.weight, flush: b.flush },
              b.flush ? "flush: open connections end" : "flush cleared: drain",
            );
          }
        } else {
          this.log.info(
            { frontend: fe.name, backend: b.name, from, to: b.weight, flush: b.flush },
            "weight change",
          );
          this.events.publish({
            type: "weight-change",
            frontend: fe.name,
            backend: b.name,
            from,
            to: b.weight,
            flush: b.flush,
          });
        }
      }
    }
    // A frontend a reload removed stops serving (its listener drains): pool -> none.
    for (const before of Object.values(previous?.frontends ?? {})) {
      if (next.frontends[before.name]) continue;
      const body = {
        frontend: before.name,
        fromPool: before.activePool,
        toPool: -1,
        fromPoolName: before.backends.find((b) => b.poolIndex === before.activePool)?.pool ?? null,
        toPoolName: null,
      };
      this.log.info(body, "frontend removed");
      this.events.publish({ type: "frontend-transition", ...body, removed: true });
    }
  }

  #backendOrThrow(name: string): void {
    if (!this.#config.backends[name])
      throw new LodestoneError("UNKNOWN_BACKEND", `no backend named "${name}"`);
  }

  #operator(action: string, name: string, detail: object = {}): void {
    this.log.info({ backend: name, action, ...detail }, "operator action");
    this.events.publish({ type: "log", level: "info", message: `operator: ${action} ${name}` });
    this.#reconciler.trigger(`operator ${action} ${name}`);
  }

  /** Stop probing; traffic follows the state the backend is frozen in (paused while up keeps serving). */
  pause(name: string): void {
    this.#backendOrThrow(name);
    const frozen = this.#overrides.frozenState(name) ?? this.#state(name);
    this.#checker.pause(name);
    this.#overrides.markPaused(name, frozen === "paused" ? "unknown" : frozen);
    this.#operator("pause", name, { frozen });
  }

  /** Probe again; the backend is unknown until the next probe decides. */
  resume(name: string): void {
    this.#backendOrThrow(name);
    this.#overrides.clearBackend(name);
    this.#checker.resume(name);
    this.#operator("resume", name);
  }

  /** Take the backend out: weight 0 everywhere; open flows drain unless flush. */
  disable(name: string, options: { flush?: boolean } = {}): void {
    this.#backendOrThrow(name);
    const flush = options.flush === true;
    this.#overrides.markDisabled(name, flush);
    this.#checker.disable(name);
    this.#operator("disable", name, { flush });
  }

  enable(name: string): void {
    this.#backendOrThrow(name);
    this.#overrides.clearBackend(name);
    this.#checker.enable(name);
    this.#operator("enable", name);
  }

  /**
   * Override one pool member's weight (0..100); weight 0 with flush ends its open
   * flows, without flush lets them finish. Throws LodestoneError UNKNOWN_SERVICE,
   * UNKNOWN_POOL, UNKNOWN_MEMBER or INVALID_WEIGHT.
   */
  setWeight(service: string, pool: string, backend: string, weight: number, flush = false): void {
    this.#overrides.setWeight(this.#config, service, pool, backend, weight, flush);
    this.log.info({ service, pool, backend, weight, flush }, "operator action");
    this.events.publish({
      type: "log",
      level: "info",
      message: `operator: weight ${service}/${pool}/${backend} = ${weight}${flush ? " (flush)" : ""}`,
    });
    this.#reconciler.trigger(`operator weight ${service}/${pool}/${backend}`);
  }

  /** Back to the configured weight. Returns false when there was no override. */
  clearWeight(service: string, pool: string, backend: string): boolean {
    const had = this.#overrides.clearWeight(service, pool, backend);
    if (had) this.#reconciler.trigger(`operator clear weight ${service}/${pool}/${backend}`);
    return had;
  }

  /** Validate the configuration source as a reload would, without applying it. */
  async checkConfig(): Promise<ConfigResult> {
    try {
      return await Daemon.loadSource(this.#source);
    } catch (err) {
      return { ok: false, errors: [this.#unreadable(err)] };
    }
  }

  #unreadable(err: unknown): ConfigIssue {
    return {
      file: this.#sourceName(),
      line: 0,
      column: 0,
      path: "",
      message: err instanceof Error ? err.message : String(err),
    };
  }

  /**
   * Re-read the configuration. An invalid one is logged and refused: nothing
   * changes. A valid one replaces the running config: health state and operator
   * overrides are kept for backends that still exist. Reloads are serialized.
   */
  reload(): Promise<ReloadResult> {
    const run = this.#reloading.then(() => this.#reload());
    this.#reloading = run.catch(() => {});
    return run;
  }

  async #reload(): Promise<ReloadResult> {
    const result = await this.checkConfig();
    if (!result.ok) {
      for (const issue of result.errors) this.log.error({ issue }, formatIssue(issue));
      this.log.error(
        { errors: result.errors.length },
        "reload refused: configuration invalid, still running the old one",
      );
      this.events.publish({
        type: "reload",
        ok: false,
        summary: `refused: ${result.errors.length} error(s)`,
        errors: result.errors.map(formatIssue),
      });
      return { ok: false, errors: result.errors };
    }
    const next = result.config;
    const diff = diffConfig(this.#config, next);
    const changed = !isEmpty(diff);
    if (next.runtime.workers !== this.#config.runtime.workers) {
      this.log.warn(
        { from: this.#config.runtime.workers, to: next.runtime.workers },
        "runtime.workers changes at restart",
      );
    }
    try {
      // sync() checks its input before changing anything: if it refuses, nothing changed.
      this.#checker.sync(Object.values(next.backends), next.healthchecks);
    } catch (err) {
      const issue = this.#unreadable(err);
      this.log.error({ err }, "reload refused: the health checker rejected the new backends");
      this.events.publish({ type: "reload", ok: false, summary: "refused", errors: [issue.message] });
      return { ok: false, errors: [issue] };
    }
    this.#config = next;
    this.configLoadedAt = Date.now();
    const dropped = this.#overrides.prune(next);
    // A backend whose address or check changed was restarted by the checker (unknown):
    // the operator's hold on it must survive that.
    for (const [name, hold] of this.#overrides.backends()) {
      const state = this.#state(name);
      if (hold.kind === "disabled" && state !== "disabled") this.#checker.disable(name);
      if (hold.kind === "paused" && state !== "paused") this.#checker.pause(name);
    }
    this.#warmup.check();
    const xdpError = await this.#ensureXdp(next);
    this.#reconciler.trigger("reload");
    await this.#reconciler.settled();
    const applyErrors = this.#reconciler.lastErrors.map((e) => e.message);
    if (xdpError !== null) applyErrors.unshift(xdpError);
    const summary = summarizeDiff(diff);
    this.log.info({ diff, droppedOverrides: dropped, applyErrors }, `reload: ${summary}`);
    this.events.publish({ type: "reload", ok: applyErrors.length === 0, summary, errors: applyErrors });
    return { ok: true, diff, changed, droppedOverrides: dropped, applyErrors };
  }

  /**
   * The reload that brings the first XDP frontend creates the XDP dataplane (default
   * dataplanes only). Returns an error message when that fails: the XDP frontends are
   * then not served, the rest of the reload still applies.
   */
  async #ensureXdp(next: Config): Promise<string | null> {
    if (!this.#defaultDataplanes || this.#dataplanes.some((d) => d.name === "xdp")) return null;
    try {
      const xdp = await xdpDataplane(next, this.log);
      if (xdp.length > 0) this.log.info({}, "reload: XDP dataplane created for the first XDP frontend");
      this.#dataplanes.push(...xdp);
      return null;
    } catch (err) {
      const message = `XDP dataplane not created: ${err instanceof Error ? err.message : String(err)}`;
      this.log.error({ err }, `reload: ${message}; XDP frontends are not served`);
      this.events.publish({ type: "log", level: "error", message });
      return message;
    }
  }

  status(): DaemonStatus {
    const c = this.#config;
    const services: DaemonStatus["services"] = [];
    const activeByService = new Map<string, number>();
    for (const name of Object.keys(c.services).sort(byName)) {
      const svc = c.services[name];
      const sd = computeService(
        c,
        { ...svc, algorithm: "round-robin" }, // the table is not needed for a status page
        (n) => this.#state(n),
        this.#overrides,
        (n) => this.#agent(n),
      );
      activeByService.set(name, sd.activePool);
      const byBackend = new Map(sd.backends.map((b) => [b.name, b]));
      services.push({
        name,
        algorithm: svc.algorithm,
        activePool: sd.activePool,
        pools: svc.pools.map((p, i) => ({
          name: p.name,
          active: i === sd.activePool,
          members: p.members.map((m) => {
            const d = byBackend.get(m.backend)!;
            const o = this.#overrides
              .weights()
              .find((w) => w.service === name && w.pool === p.name && w.backend === m.backend);
            return {
              backend: m.backend,
              state: d.state,
              configuredWeight: d.configuredWeight,
              effectiveWeight: d.weight,
              flush: d.flush,
              override: o ?? null,
            };
          }),
        })),
      });
    }
    const frontends = Object.keys(c.frontends)
      .sort(byName)
      .map((name) => {
        const f = c.frontends[name];
        const active = activeByService.get(f.service) ?? -1;
        return {
          name,
          listen: formatListen(f.listen),
          protocol: f.protocol,
          service: f.service,
          activePool: active,
          activePoolName: active >= 0 ? c.services[f.service].pools[active].name : null,
        };
      });
    const backends = this.#checker
      .all()
      .filter((b) => c.backends[b.name])
      .sort((a, b) => byName(a.name, b.name))
      .map((b) => ({ ...b, override: this.#overrides.backend(b.name) ?? null }));
    return {
      version: this.#reconciler.current?.version ?? 0,
      warmup: { done: this.#warmup.done },
      startedAt: this.startedAt,
      configSource: this.#sourceName(),
      frontends,
      services,
      backends,
    };
  }

  /** Traffic counters of each dataplane (admin API, metrics): read on demand, nothing per packet. */
  stats(): DataplaneStats[] {
    return this.#dataplanes.map((d) => d.stats());
  }

  /** Every probe result as it arrives (metrics). Returns the unsubscribe function. */
  onProbe(listener: (backend: string, result: ProbeResult) => void): () => void {
    this.#checker.on("probe", listener);
    return () => {
      this.#checker.off("probe", listener);
    };
  }

  /** Wait until every pending reconcile has been applied (tests, admin API). */
  settled(): Promise<void> {
    return this.#reconciler.settled();
  }

  /**
   * Graceful stop: no more reconciles, listeners stop accepting, open connections get
   * up to runtime.drainTimeout to finish, probes stop. Idempotent.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    const drainTimeout = this.#config.runtime.drainTimeout;
    this.log.info({ drainTimeout }, "stopping: draining open connections");
    this.#warmup.cancel();
    await this.#reconciler.close();
    const results = await Promise.allSettled(this.#dataplanes.map((d) => d.stop(drainTimeout)));
    for (const r of results) {
      if (r.status === "rejected") this.log.error({ err: r.reason }, "dataplane stop failed");
    }
    this.#checker.stop();
    this.log.info("stopped");
  }
}
