// The health checker: probes every checked backend on its own schedule, runs
// each result through the rise/fall state machine (model/health.ts), and emits
// transitions. It owns no traffic decisions: the reconciler listens to
// 'transition' / 'agent' and recomputes the desired state.
//
// Targets are keyed by backend name, so a backend shared by several services is
// probed once. sync() takes the whole backend list after every (re)load: new
// backends start, removed ones stop, changed ones (address, port or check
// settings) restart from unknown, and unchanged ones keep their counter,
// history and operator state.
import { EventEmitter } from "node:events";
import type { BackendConfig, HealthCheckConfig } from "../config/types.ts";
import { LodestoneError } from "../errors.ts";
import {
  applyOperator,
  applyResult,
  type BackendHealth,
  type HealthLimits,
  initialHealth,
  isProbing,
  nextInterval,
  type OperatorAction,
  staticHealth,
} from "../model/health.ts";
import type { HealthState } from "../model/state.ts";
import { TransitionHistory } from "./history.ts";
import { probe as defaultProbe } from "./probe.ts";
import { HeapTimerQueue, type TimerQueue } from "./timer-queue.ts";
import type {
  AgentReport,
  AgentStatus,
  BackendHealthView,
  LastProbe,
  ProbeFn,
  ProbeResult,
  ProbeTarget,
  Transition,
} from "./types.ts";

export interface HealthCheckerOptions {
  /** The probe to run; defaults to the real one (tcp, http, https, udp, agent). */
  probe?: ProbeFn;
  /** [0, 1) source for jitter. */
  random?: () => number;
  /** Epoch-ms clock for timestamps. */
  now?: () => number;
  /** Where probes are scheduled; defaults to one heap and one Node timer for all backends. */
  timers?: TimerQueue;
}

export interface HealthCheckerEvents {
  transition: [name: string, transition: Transition];
  probe: [name: string, result: ProbeResult];
  agent: [name: string, status: AgentStatus];
}

export interface SyncSummary {
  added: string[];
  removed: string[];
  restarted: string[];
  kept: string[];
}

const STATIC_LIMITS: HealthLimits = { rise: 1, fall: 1 };

interface Target {
  name: string;
  backend: BackendConfig;
  check: HealthCheckConfig | null;
  /** What, when changed, restarts the target: address, port and every check setting. */
  fingerprint: string;
  probeTarget: ProbeTarget;
  limits: HealthLimits;
  health: BackendHealth;
  since: number;
  lastProbe?: LastProbe;
  agent?: AgentStatus;
  history: TransitionHistory;
  /** Cancels the in-flight probe; reused probe after probe, replaced once it has fired. */
  controller: AbortController;
  inflight: boolean;
  /** The timer callback, made once per target rather than per probe. */
  run: () => void;
  /** Bumped whenever in-flight results must be ignored (restart, pause, removal). */
  generation: number;
}

function fingerprint(backend: BackendConfig, check: HealthCheckConfig | null): string {
  return JSON.stringify([backend.address, backend.port, check]);
}

export class HealthChecker extends EventEmitter<HealthCheckerEvents> {
  #targets = new Map<string, Target>();
  #probe: ProbeFn;
  #random: () => number;
  #now: () => number;
  #timers: TimerQueue;
  #stopped = false;

  constructor(options: HealthCheckerOptions = {}) {
    super();
    this.#probe = options.probe ?? defaultProbe;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? new HeapTimerQueue();
  }

  /**
   * Make the set of probed backends match `backends`. Throws LodestoneError
   * (HEALTH_UNKNOWN_CHECK, HEALTH_DUPLICATE_BACKEND, HEALTH_STOPPED) before
   * changing anything when the input is inconsistent.
   */
  sync(backends: BackendConfig[], checks: Record<string, HealthCheckConfig>): SyncSummary {
    if (this.#stopped) throw new LodestoneError("HEALTH_STOPPED", "the health checker has been stopped");
    const wanted = new Map<string, { backend: BackendConfig; check: HealthCheckConfig | null; fp: string }>();
    for (const backend of backends) {
      let check: HealthCheckConfig | null = null;
      if (backend.healthcheck !== undefined) {
        check = Object.hasOwn(checks, backend.healthcheck) ? checks[backend.healthcheck]! : null;
        if (!check) {
          throw new LodestoneError(
            "HEALTH_UNKNOWN_CHECK",
            `backend ${JSON.stringify(backend.name)} uses health check ${JSON.stringify(backend.healthcheck)}, which is not defined`,
          );
        }
      }
      const fp = fingerprint(backend, check);
      const seen = wanted.get(backend.name);
      if (seen && seen.fp !== fp) {
        throw new LodestoneError(
          "HEALTH_DUPLICATE_BACKEND",
          `backend ${JSON.stringify(backend.name)} is listed twice with different settings`,
        );
      }
      wanted.set(backend.name, { backend, check, fp });
    }

    const summary: SyncSummary = { added: [], removed: [], restarted: [], kept: [] };
    for (const [name, target] of this.#targets) {
      if (wanted.has(name)) continue;
      this.#halt(target);
      this.#targets.delete(name);
      summary.removed.push(name);
      this.#emitTransition(target, target.health.state, "removed", "removed from the configuration");
    }
    for (const [name, { backend, check, fp }] of wanted) {
      const existing = this.#targets.get(name);
      if (existing && existing.fingerprint === fp) {
        summary.kept.push(name);
        continue;
      }
      if (existing) {
        this.#restart(existing, backend, check, fp);
        summary.restarted.push(name);
      } else {
        this.#add(backend, check, fp);
        summary.added.push(name);
      }
    }
    return summary;
  }

  get(name: string): BackendHealthView | undefined {
    const t = this.#targets.get(name);
    return t ? this.#view(t) : undefined;
  }

  /** Every tracked backend, sorted by name. */
  all(): BackendHealthView[] {
    return [...this.#targets.keys()].sort().map((name) => this.#view(this.#targets.get(name)!));
  }

  /** True once no backend is still unknown (every checked backend has had its deciding probe). */
  settled(): boolean {
    for (const t of this.#targets.values()) if (t.health.state === "unknown") return false;
    return true;
  }

  pause(name: string): boolean {
    return this.#operate(name, "pause");
  }

  resume(name: string): boolean {
    return this.#operate(name, "resume");
  }

  disable(name: string): boolean {
    return this.#operate(name, "disable");
  }

  enable(name: string): boolean {
    return this.#operate(name, "enable");
  }

  /** Cancel every timer and in-flight probe. Final: sync() afterwards throws. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#targets.values()) this.#halt(t);
    this.#timers.clear();
  }

  #add(backend: BackendConfig, check: HealthCheckConfig | null, fp: string): void {
    const now = this.#now();
    const limits = check ? { rise: check.rise, fall: check.fall } : STATIC_LIMITS;
    const target: Target = {
      name: backend.name,
      backend,
      check,
      fingerprint: fp,
      probeTarget: { address: backend.address, port: check?.port ?? backend.port },
      limits,
      health: check ? initialHealth(limits.rise, limits.fall) : staticHealth(limits),
      since: now,
      history: new TransitionHistory(),
      controller: new AbortController(),
      inflight: false,
      run: () => this.#run(target),
      generation: 0,
    };
    this.#targets.set(backend.name, target);
    this.#emitTransition(target, "removed", target.health.state, check ? "added" : "added (no health check)");
    // Spread the first probes of many backends over the first fast interval.
    if (check) this.#schedule(target, this.#random() * Math.min(check.fastInterval, check.interval));
  }

  #restart(target: Target, backend: BackendConfig, check: HealthCheckConfig | null, fp: string): void {
    this.#halt(target);
    const what =
      target.backend.address !== backend.address || target.backend.port !== backend.port
        ? "address changed"
        : "health check changed";
    const from = target.health.state;
    target.backend = backend;
    target.check = check;
    target.fingerprint = fp;
    target.probeTarget = { address: backend.address, port: check?.port ?? backend.port };
    target.limits = check ? { rise: check.rise, fall: check.fall } : STATIC_LIMITS;
    target.agent = undefined;
    target.lastProbe = undefined;
    const fresh = check ? initialHealth(target.limits.rise, target.limits.fall) : staticHealth(target.limits);
    // Operator overrides survive a restart; only the probing state starts over.
    target.health =
      from === "paused" || from === "disabled" ? { state: from, counter: fresh.counter } : fresh;
    if (target.health.state !== from)
      this.#emitTransition(target, from, target.health.state, `restarted: ${what}`);
    if (check && isProbing(target.health)) this.#schedule(target, 0);
  }

  #operate(name: string, action: OperatorAction): boolean {
    const target = this.#targets.get(name);
    if (!target) return false;
    const stepped = applyOperator(target.health, action, target.limits, target.check === null);
    target.health = stepped.health;
    if (stepped.transition) {
      const { from, to } = stepped.transition;
      if (!isProbing(target.health)) this.#halt(target);
      this.#emitTransition(target, from, to, `operator ${action}`);
      // Back to unknown: probe at once so the verdict comes quickly.
      if (to === "unknown" && target.check) this.#schedule(target, 0);
    }
    return true;
  }

  /** Stop the target's timer and in-flight probe, and make any late result stale. */
  #halt(target: Target): void {
    this.#timers.cancel(target.name);
    target.generation++;
    if (target.inflight) {
      target.controller.abort();
      target.controller = new AbortController();
      target.inflight = false;
    }
  }

  #schedule(target: Target, delayMs: number): void {
    if (this.#stopped) return;
    this.#timers.schedule(target.name, delayMs, target.run);
  }

  #run(target: Target): void {
    const check = target.check;
    if (this.#stopped || !check || !isProbing(target.health)) return;
    const generation = target.generation;
    target.inflight = true;
    this.#probe(target.probeTarget, check, target.controller.signal).then(
      (result) => this.#onResult(target, generation, result),
      // ProbeFn promises never reject; an injected one might. Treat it as a failed probe.
      (err: unknown) =>
        this.#onResult(target, generation, {
          ok: false,
          reason: `probe error: ${String(err)}`,
          latencyMs: 0,
        }),
    );
  }

  #onResult(target: Target, generation: number, result: ProbeResult): void {
    if (this.#stopped || generation !== target.generation || this.#targets.get(target.name) !== target)
      return;
    target.inflight = false;
    const at = this.#now();
    target.lastProbe = { ok: result.ok, reason: result.reason, latencyMs: result.latencyMs, at };
    const agentChanged = result.agent ? this.#updateAgent(target, result.agent) : false;
    const stepped = applyResult(target.health, result.ok, target.limits);
    target.health = stepped.health;
    const transition = stepped.transition
      ? this.#record(target, stepped.transition.from, stepped.transition.to, result.reason)
      : undefined;
    // Schedule before telling anyone, so a listener that throws cannot stall this
    // backend's probing, and one that pauses it cancels the timer just set.
    const delay = nextInterval(target.health, target.check!, this.#random);
    if (Number.isFinite(delay)) this.#schedule(target, delay);
    this.emit("probe", target.name, result);
    if (agentChanged) this.emit("agent", target.name, { ...target.agent });
    if (transition) this.emit("transition", target.name, transition);
  }

  /** Fold an agent report into the sticky agent status; true when it changed. */
  #updateAgent(target: Target, report: AgentReport): boolean {
    const before = target.agent ?? {};
    const next: AgentStatus = { ...before };
    if (report.weightPercent !== undefined) next.weightPercent = report.weightPercent;
    if (report.state === "drain") next.drain = true;
    else if (report.state === "ready") next.drain = false;
    if (next.weightPercent === before.weightPercent && next.drain === before.drain) return false;
    target.agent = next;
    return true;
  }

  #record(target: Target, from: HealthState, to: HealthState, reason: string): Transition {
    const t: Transition = { at: this.#now(), from, to, reason };
    target.since = t.at;
    target.history.push(t);
    return t;
  }

  #emitTransition(target: Target, from: HealthState, to: HealthState, reason: string): void {
    this.emit("transition", target.name, this.#record(target, from, to, reason));
  }

  #view(t: Target): BackendHealthView {
    const view: BackendHealthView = {
      name: t.name,
      address: t.backend.address,
      port: t.backend.port,
      check: t.backend.healthcheck ?? null,
      state: t.health.state,
      counter: t.health.counter,
      rise: t.limits.rise,
      fall: t.limits.fall,
      since: t.since,
      history: t.history.list(),
    };
    if (t.lastProbe) view.lastProbe = { ...t.lastProbe };
    if (t.agent) view.agent = { ...t.agent };
    return view;
  }
}
