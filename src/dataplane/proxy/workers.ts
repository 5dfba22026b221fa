// Multi-core proxy: N worker processes, each running a ProxyDataplane whose
// listeners bind with SO_REUSEPORT, so the kernel spreads TCP connections and UDP
// flows (by 4-tuple hash) across them. The pool forwards every desired state to
// every worker, sums their counters, and restarts a worker that dies with the
// last desired state.
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { LodestoneError } from "../../errors.ts";
import type { DesiredState } from "../../model/desired.ts";
import type { Dataplane } from "../types.ts";
import { type ProxyStats, sumStats } from "./counters.ts";
import type { ProxyLogger } from "./listener.ts";
import { silentLogger } from "./listener.ts";
import type { FromWorker, ToWorker } from "./worker-protocol.ts";
import { WORKER_DRAIN_ENV, WORKER_INDEX_ENV, WORKER_LOG_LEVEL_ENV } from "./worker-protocol.ts";

const WORKER_ENTRY = fileURLToPath(new URL("./worker-main.ts", import.meta.url));

export interface WorkerPoolOptions {
  /** Worker processes to run (>= 1). */
  workers: number;
  log?: ProxyLogger;
  /** Log level inside the workers (they log JSON to stderr); default "warn". */
  logLevel?: string;
  /** Drain time for frontends removed by a later apply, inside each worker, ms (default 10000); a function is read at each apply. */
  drainTimeout?: number | (() => number);
  /** How often the pool refreshes the counters stats() returns, ms (default 1000). */
  statsInterval?: number;
  /** Upper bound on waiting for a worker to answer apply/stats, ms (default 30000). */
  requestTimeout?: number;
  /**
   * A worker's L7 outlier detection ejected (true) or returned (false) a backend. Each
   * worker detects on its own share of the traffic, so each reports its own ejections.
   */
  onOutlier?: (frontend: string, backend: string, ejected: boolean, reason: string) => void;
}

type Reply = Extract<FromWorker, { type: "reply" }>;

interface Pending {
  resolve(reply: Reply | null): void;
  timer: NodeJS.Timeout;
}

/** One worker slot: its current process and the requests waiting on it. */
class WorkerSlot {
  readonly index: number;
  child: ChildProcess | null = null;
  ready = false;
  readyWaiters: Array<() => void> = [];
  readonly pending = new Map<number, Pending>();
  nextId = 1;
  lastStats: ProxyStats = { frontends: {} };
  startedAt = 0;
  crashesInRow = 0;
  restartTimer: NodeJS.Timeout | null = null;

  constructor(index: number) {
    this.index = index;
  }
}

export class WorkerPoolDataplane implements Dataplane {
  readonly name = "proxy";
  readonly workers: number;
  readonly #options: WorkerPoolOptions;
  readonly #log: ProxyLogger;
  readonly #slots: WorkerSlot[] = [];
  #desired: DesiredState | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #stopping = false;
  #shuttingDown = false;
  #poller: NodeJS.Timeout | null = null;
  /** Cumulative counters of worker processes that died, so totals never go backwards. */
  #retired: ProxyStats = { frontends: {} };
  /**
   * The sticky-cookie key of frontends without key-file, one per pool and sent with
   * every apply: a cookie one worker set must verify in every other (and in a worker
   * restarted after a crash), since the kernel spreads a client's connections over them.
   */
  readonly #stickyKey = randomBytes(32);

  constructor(options: WorkerPoolOptions) {
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new LodestoneError("WORKERS_INVALID", `workers must be an integer >= 1, got ${options.workers}`);
    }
    this.workers = options.workers;
    this.#options = options;
    this.#log = options.log ?? silentLogger;
    for (let i = 0; i < options.workers; i++) {
      const slot = new WorkerSlot(i);
      this.#slots.push(slot);
      this.#spawn(slot);
    }
    this.#poller = setInterval(() => void this.collectStats().catch(() => {}), options.statsInterval ?? 1000);
    this.#poller.unref();
  }

  /** Send `desired` to every worker; resolves when all have applied it (rejects with the first failure). */
  apply(desired: DesiredState): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#stopping) throw new LodestoneError("DATAPLANE_STOPPED", "the worker pool has been stopped");
      this.#desired = desired;
      const replies = await Promise.all(
        this.#slots.map(async (slot) => {
          await this.#whenReady(slot);
          return this.#request(slot, (id) => ({
            type: "apply",
            id,
            desired,
            drainTimeout: this.#drainTimeout(),
            stickyKey: this.#stickyKey,
          }));
        }),
      );
      // A worker that died meanwhile (null) gets this state when it restarts.
      const failed = replies.find((r) => r !== null && !r.ok);
      if (failed !== undefined && !failed.ok)
        throw new LodestoneError(failed.error.code, failed.error.message);
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  /** The workers' counters as of the last refresh (every statsInterval), summed. */
  stats(): ProxyStats {
    return sumStats([this.#retired, ...this.#slots.map((s) => s.lastStats)]);
  }

  /** Ask every worker for its counters now and return the sum. */
  async collectStats(): Promise<ProxyStats> {
    await Promise.all(
      this.#slots.map(async (slot) => {
        if (!slot.ready) return;
        const reply = await this.#request(slot, (id) => ({ type: "stats", id }));
        if (reply?.ok && reply.stats) slot.lastStats = reply.stats;
      }),
    );
    return this.stats();
  }

  /** Each worker's last counters (index = worker number). */
  workerStats(): ProxyStats[] {
    return this.#slots.map((s) => s.lastStats);
  }

  /** Worker process ids (0 while a worker is being restarted). */
  pids(): number[] {
    return this.#slots.map((s) => s.child?.pid ?? 0);
  }

  /** Drain every worker for up to drainTimeout ms, then wait for the processes to exit. */
  stop(drainTimeout: number): Promise<void> {
    // No more restarts from now on, even while an apply still runs ahead of us in the queue.
    this.#shuttingDown = true;
    const run = this.#queue.then(async () => {
      if (this.#stopping) return;
      this.#stopping = true;
      if (this.#poller !== null) clearInterval(this.#poller);
      await Promise.all(this.#slots.map((slot) => this.#stopSlot(slot, drainTimeout)));
    });
    this.#queue = run.catch(() => {});
    return run;
  }

  async #stopSlot(slot: WorkerSlot, drainTimeout: number): Promise<void> {
    if (slot.restartTimer !== null) clearTimeout(slot.restartTimer);
    slot.restartTimer = null;
    const child = slot.child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    if (slot.ready) {
      const reply = await this.#request(
        slot,
        (id) => ({ type: "stop", id, drainTimeout }),
        drainTimeout + 5000,
      );
      if (reply?.ok && reply.stats) slot.lastStats = reply.stats;
    }
    if (child.connected) child.disconnect(); // the worker exits when its channel closes
    const killer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(killer);
  }

  #spawn(slot: WorkerSlot): void {
    const child = fork(WORKER_ENTRY, [], {
      execPath: process.execPath,
      execArgv: [],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: {
        ...process.env,
        [WORKER_INDEX_ENV]: String(slot.index),
        [WORKER_LOG_LEVEL_ENV]: this.#options.logLevel ?? "warn",
        [WORKER_DRAIN_ENV]: String(this.#drainTimeout()),
      },
    });
    slot.child = child;
    slot.ready = false;
    slot.startedAt = Date.now();
    child.on("error", (err) => this.#log.error({ worker: slot.index, err }, "worker process error"));
    child.on("message", (message: FromWorker) => this.#onMessage(slot, child, message));
    child.once("exit", (code, signal) => this.#onExit(slot, child, code, signal));
  }

  #drainTimeout(): number {
    const d = this.#options.drainTimeout;
    return (typeof d === "function" ? d() : d) ?? 10000;
  }

  #onMessage(slot: WorkerSlot, child: ChildProcess, message: FromWorker): void {
    if (slot.child !== child) return;
    if (message.type === "outlier") {
      try {
        this.#options.onOutlier?.(message.frontend, message.backend, message.ejected, message.reason);
      } catch (err) {
        this.#log.warn({ worker: slot.index, err }, "outlier callback failed");
      }
      return;
    }
    if (message.type === "ready") {
      slot.ready = true;
      this.#log.debug({ worker: slot.index, pid: child.pid }, "worker ready");
      const waiters = slot.readyWaiters;
      slot.readyWaiters = [];
      for (const w of waiters) w();
      return;
    }
    const pending = slot.pending.get(message.id);
    if (pending === undefined) return;
    slot.pending.delete(message.id);
    clearTimeout(pending.timer);
    pending.resolve(message);
  }

  #onExit(slot: WorkerSlot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child) return;
    slot.child = null;
    slot.ready = false;
    for (const [id, p] of slot.pending) {
      clearTimeout(p.timer);
      slot.pending.delete(id);
      p.resolve(null);
    }
    if (this.#stopping || this.#shuttingDown) return;
    // Keep what the dead process counted (minus what it held open) so totals never drop.
    const last = slot.lastStats;
    for (const fe of Object.values(last.frontends)) {
      fe.connectionsActive = 0;
      for (const b of Object.values(fe.backends)) b.connectionsActive = 0;
    }
    this.#retired = sumStats([this.#retired, last]);
    slot.lastStats = { frontends: {} };
    // Back off when a worker keeps dying young; a worker that lived a while restarts at once.
    slot.crashesInRow = Date.now() - slot.startedAt > 10000 ? 0 : slot.crashesInRow + 1;
    const delay = Math.min(5000, 50 * 2 ** Math.min(slot.crashesInRow, 7));
    this.#log.error(
      { worker: slot.index, pid: child.pid, code, signal, restartIn: delay },
      "worker died; restarting",
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (this.#stopping || this.#shuttingDown) return;
      this.#spawn(slot);
      void this.#reapply(slot);
    }, delay);
  }

  /** A restarted worker gets the last desired state. */
  async #reapply(slot: WorkerSlot): Promise<void> {
    await this.#whenReady(slot);
    const desired = this.#desired;
    if (desired === null || this.#stopping) return;
    const reply = await this.#request(slot, (id) => ({
      type: "apply",
      id,
      desired,
      drainTimeout: this.#drainTimeout(),
      stickyKey: this.#stickyKey,
    }));
    if (reply !== null && !reply.ok) {
      this.#log.error(
        { worker: slot.index, error: reply.error },
        "restarted worker could not apply the desired state",
      );
    }
  }

  /** Wait for the worker's "ready" (bounded: a worker that cannot start must not hang apply). */
  #whenReady(slot: WorkerSlot): Promise<void> {
    if (slot.ready) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, this.#options.requestTimeout ?? 30000);
      slot.readyWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Send one request; resolves with the reply, or null if the worker died or did not answer in time. */
  #request(slot: WorkerSlot, build: (id: number) => ToWorker, timeout?: number): Promise<Reply | null> {
    const child = slot.child;
    if (child === null || !child.connected) return Promise.resolve(null);
    const id = slot.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          slot.pending.delete(id);
          this.#log.warn({ worker: slot.index, id }, "worker did not answer in time");
          resolve(null);
        },
        timeout ?? this.#options.requestTimeout ?? 30000,
      );
      slot.pending.set(id, { resolve, timer });
      child.send(build(id), (err) => {
        if (err === null || err === undefined) return;
        slot.pending.delete(id);
        clearTimeout(timer);
        resolve(null);
      });
    });
  }
}
