// Restart-neutral warmup. At start every checked backend is "unknown"; programming
// the dataplanes then would publish "everything down" for as long as the first probes
// take. So nothing is programmed — no listener is bound — until warmup ends:
//   - never before runtime.warmup.minDelay;
//   - then as soon as every checked backend has left "unknown",
//   - or when runtime.warmup.maxWait (counted from start) has passed, whatever the
//     probes said by then (a backend still unknown is not up: weight 0).
//   - maxWait 0 disables the wait for probes (program right after minDelay).
// Backends without a health check are up at once and never hold warmup.

export interface WarmupInput {
  /** ms since start. */
  elapsed: number;
  minDelay: number;
  maxWait: number;
  /** Checked backends still in "unknown". */
  unknown: number;
}

export type WarmupDecision = { done: true; reason: string } | { done: false; recheckIn: number };

/** Pure: is warmup over, and if not, when at the latest to look again. */
export function warmupDecision(w: WarmupInput): WarmupDecision {
  if (w.elapsed < w.minDelay) return { done: false, recheckIn: w.minDelay - w.elapsed };
  if (w.maxWait <= 0) return { done: true, reason: "warmup wait disabled (max-wait 0)" };
  if (w.unknown === 0) return { done: true, reason: "every checked backend has a probe result" };
  if (w.elapsed >= w.maxWait) {
    return {
      done: true,
      reason: `max-wait ${w.maxWait}ms passed with ${w.unknown} backend(s) still unknown`,
    };
  }
  return { done: false, recheckIn: w.maxWait - w.elapsed };
}

export interface WarmupOptions {
  minDelay: number;
  maxWait: number;
  /** How many checked backends are still unknown right now. */
  unknown: () => number;
  onDone: (reason: string) => void;
  now?: () => number;
}

/** Drives warmupDecision with one timer; call check() on every health transition. */
export class Warmup {
  readonly #opts: WarmupOptions;
  readonly #now: () => number;
  #started: number | undefined;
  #timer: NodeJS.Timeout | undefined;
  #done = false;

  constructor(options: WarmupOptions) {
    this.#opts = options;
    this.#now = options.now ?? (() => performance.now());
  }

  get done(): boolean {
    return this.#done;
  }

  start(): void {
    this.#started = this.#now();
    this.check();
  }

  /** Re-evaluate (on every health transition). Does nothing before start() or after the end. */
  check(): void {
    if (this.#done || this.#started === undefined) return;
    const decision = warmupDecision({
      elapsed: this.#now() - this.#started,
      minDelay: this.#opts.minDelay,
      maxWait: this.#opts.maxWait,
      unknown: this.#opts.unknown(),
    });
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (decision.done) {
      this.#done = true;
      this.#opts.onDone(decision.reason);
      return;
    }
    this.#timer = setTimeout(() => this.check(), Math.max(1, Math.ceil(decision.recheckIn)));
  }

  cancel(): void {
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
