// The single path from "something changed" to the dataplanes. Every event — a probe
// transition, an agent report, an operator action, a reload, the end of warmup —
// calls trigger(); the reconciler recomputes the desired state and, when it differs
// from the last one applied, stamps version+1 and hands it to every dataplane.
// Nothing else in lodestone calls Dataplane.apply.
//
// Applies are serialized (one at a time, in order) and bursts coalesce: triggers that
// arrive while a reconcile is pending or running produce at most one more.
//
// A dataplane may refuse part of a state (a frontend whose port is taken). What the
// reconciler remembers, logs and reports is only what was applied: a frontend that
// failed keeps its previous entry (or none), so nobody is told about traffic that never
// moved, and the next trigger tries it again.
import { isDeepStrictEqual } from "node:util";
import type { Dataplane } from "../dataplane/types.ts";
import type { DesiredState } from "../model/desired.ts";

export interface ReconcileLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  debug(obj: object, msg: string): void;
}

export interface ReconcilerOptions {
  /** Pure: the desired state for the current inputs, stamped with `version`. */
  compute: (version: number) => DesiredState;
  dataplanes: readonly Dataplane[];
  log?: ReconcileLog;
  /**
   * Called after each reconcile that applied something: `applied` is what the
   * dataplanes took (failed frontends left as they were), `errors` what they refused.
   * Not called when nothing at all was applied.
   */
  onApplied?: (applied: DesiredState, previous: DesiredState | undefined, errors: Error[]) => void;
}

export class Reconciler {
  readonly #opts: ReconcilerOptions;
  #open = false;
  #closed = false;
  #pending = false;
  #running: Promise<void> | null = null;
  #reasons: string[] = [];
  #last: DesiredState | undefined;
  #lastErrors: Error[] = [];
  /**
   * The last apply had errors: the dataplanes may hold something between the last
   * state and the refused one, so the next reconcile applies even an "unchanged" state.
   */
  #retry = false;
  #applies = 0;

  constructor(options: ReconcilerOptions) {
    this.#opts = options;
  }

  /** The desired state the dataplanes hold (as far as they took it), if any. */
  get current(): DesiredState | undefined {
    return this.#last;
  }

  /** Errors of the last apply (empty when every dataplane took it). */
  get lastErrors(): readonly Error[] {
    return this.#lastErrors;
  }

  /** How many desired states were applied (useful to prove coalescing). */
  get applies(): number {
    return this.#applies;
  }

  get isOpen(): boolean {
    return this.#open;
  }

  /**
   * Something that may move traffic happened. Before open() (warmup) reasons are
   * only remembered; after close() they are ignored.
   */
  trigger(reason: string): void {
    if (this.#closed) return;
    this.#reasons.push(reason);
    if (!this.#open) return;
    if (this.#running) {
      this.#pending = true;
      return;
    }
    this.#running = this.#loop();
  }

  /**
   * End of warmup: program the dataplanes for the first time. Resolves once that
   * first reconcile is done, with the errors the dataplanes reported.
   */
  async open(reason = "warmup done"): Promise<Error[]> {
    if (this.#open || this.#closed) return [...this.#lastErrors];
    this.#open = true;
    this.trigger(reason);
    await this.settled();
    return [...this.#lastErrors];
  }

  /** Resolves when no reconcile is pending or running. */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  /** Stop reconciling (shutdown); waits for an apply in progress. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.settled();
  }

  async #loop(): Promise<void> {
    try {
      // Let the rest of this tick's events land first: one reconcile per burst.
      await new Promise<void>((resolve) => setImmediate(resolve));
      do {
        this.#pending = false;
        const reasons = this.#reasons.splice(0);
        if (this.#closed) break;
        await this.#once(reasons);
      } while (this.#pending);
    } finally {
      this.#running = null;
    }
  }

  async #once(reasons: string[]): Promise<void> {
    const log = this.#opts.log;
    const previous = this.#last;
    let next: DesiredState;
    try {
      next = this.#opts.compute((previous?.version ?? 0) + 1);
    } catch (err) {
      // A bug in compute must not kill the daemon; the dataplanes keep the last state.
      log?.error({ err, reasons }, "computing the desired state failed");
      return;
    }
    if (previous && !this.#retry && isDeepStrictEqual(previous.frontends, next.frontends)) {
      log?.debug({ reasons, version: previous.version }, "reconcile: no change");
      return;
    }
    const results = await Promise.allSettled(this.#opts.dataplanes.map((dp) => dp.apply(next)));
    const errors: Error[] = [];
    results.forEach((r, i) => {
      if (r.status === "rejected") {
        const err = r.reason instanceof Error ? r.reason : new Error(String(r.reason));
        errors.push(err);
        log?.error({ err, dataplane: this.#opts.dataplanes[i].name, version: next.version }, "apply failed");
      }
    });
    this.#lastErrors = errors;
    this.#retry = errors.length > 0;
    const applied = appliedPart(next, previous, errors);
    if (applied === null) {
      // Nothing can be attributed: say so and keep the last state as the reference,
      // so the next trigger tries again (a trigger, not a loop: no retry storm).
      log?.error({ version: next.version, reasons }, "desired state not applied");
      return;
    }
    this.#last = applied.state;
    this.#applies++;
    if (applied.failed.length === 0) log?.info({ version: next.version, reasons }, "applied desired state");
    else {
      log?.error(
        { version: next.version, reasons, failedFrontends: applied.failed },
        `applied desired state except frontend(s) ${applied.failed.join(", ")}`,
      );
    }
    try {
      this.#opts.onApplied?.(applied.state, previous, errors);
    } catch (err) {
      // Reporting must never stop reconciling.
      log?.error({ err }, "onApplied failed");
    }
  }
}

/** Frontend names an error message attributes a failure to (`frontend "NAME": ...`). */
const FAILED_FRONTEND = /frontend "([^"]+)"/g;

/**
 * The part of `next` the dataplanes took, given what they refused. Dataplanes name the
 * frontend in each error (`frontend "www": cannot listen ...`, also across worker IPC,
 * where only code and message survive); a failed frontend keeps its `previous` entry,
 * or is absent when it had none. null when an error names no frontend of `next`: then
 * nothing is known to have applied. Pure.
 */
export function appliedPart(
  next: DesiredState,
  previous: DesiredState | undefined,
  errors: readonly Error[],
): { state: DesiredState; failed: string[] } | null {
  if (errors.length === 0) return { state: next, failed: [] };
  const failed = new Set<string>();
  for (const err of errors) {
    const named = [...err.message.matchAll(FAILED_FRONTEND)]
      .map((m) => m[1])
      .filter((name) => Object.hasOwn(next.frontends, name));
    if (named.length === 0) return null;
    for (const name of named) failed.add(name);
  }
  const frontends = { ...next.frontends };
  for (const name of failed) {
    const before = previous?.frontends[name];
    if (before === undefined) delete frontends[name];
    else frontends[name] = before;
  }
  return { state: { version: next.version, frontends }, failed: [...failed].sort() };
}
