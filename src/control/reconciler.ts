// The single path from "something changed" to the dataplanes. Every event — a probe
// transition, an agent report, an operator action, a reload, the end of warmup —
// calls trigger(); the reconciler recomputes the desired state and, when it differs
// from the last one applied, stamps version+1 and hands it to every dataplane.
// Nothing else in lodestone calls Dataplane.apply.
//
// Applies are serialized (one at a time, in order) and bursts coalesce: triggers that
// arrive while a reconcile is pending or running produce at most one more.
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
  /** Called after each new desired state was handed to the dataplanes (successfully or not). */
  onApplied?: (next: DesiredState, previous: DesiredState | undefined, errors: Error[]) => void;
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
  #applies = 0;

  constructor(options: ReconcilerOptions) {
    this.#opts = options;
  }

  /** The last desired state handed to the dataplanes, if any. */
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
    if (previous && isDeepStrictEqual(previous.frontends, next.frontends)) {
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
    // The new state is the reference from now on even if a dataplane refused part of
    // it: re-applying the same state in a loop would not fix a port already in use.
    this.#last = next;
    this.#lastErrors = errors;
    this.#applies++;
    log?.info({ version: next.version, reasons }, "applied desired state");
    try {
      this.#opts.onApplied?.(next, previous, errors);
    } catch (err) {
      // Reporting must never stop reconciling.
      log?.error({ err }, "onApplied failed");
    }
  }
}
