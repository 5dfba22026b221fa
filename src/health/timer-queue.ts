// Scheduling many probes. HeapTimerQueue keeps every pending probe in one
// binary min-heap keyed by due time and arms a single Node timer for the
// earliest, so thousands of backends cost one timer; entries due together
// fire in one tick. TimeoutTimerQueue (one setTimeout per key) is kept as the
// simple baseline the benchmark compares against.
import { performance } from "node:perf_hooks";

export interface TimerQueue {
  /** Run `fn` after `delayMs`; replaces any pending entry for the same key. */
  schedule(key: string, delayMs: number, fn: () => void): void;
  cancel(key: string): boolean;
  clear(): void;
  readonly size: number;
}

/** Time and timers, injectable so the queue can be driven by a fake clock in tests. */
export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface Entry {
  key: string;
  due: number;
  /** Tie-break so entries due at the same time fire in scheduling order. */
  seq: number;
  fn: () => void;
  index: number;
}

export class HeapTimerQueue implements TimerQueue {
  #heap: Entry[] = [];
  #byKey = new Map<string, Entry>();
  #clock: Clock;
  #timer: unknown = null;
  #armedFor = Number.POSITIVE_INFINITY;
  #seq = 0;
  #firing = false;
  #batchMs: number;

  /**
   * `batchMs`: when the timer fires it also runs entries due within this many
   * ms, so probes due close together share one wakeup (and their sockets one
   * event-loop turn). 10 ms early is nothing next to the jitter of a probe
   * interval (100 ms at the least), and at 2,000 http backends it takes the
   * checker from ~24% to ~15% of a core (bench/health-scale.ts --batch-ms).
   */
  constructor(clock: Clock = realClock, batchMs = 10) {
    this.#clock = clock;
    this.#batchMs = Math.max(1, batchMs);
  }

  get size(): number {
    return this.#byKey.size;
  }

  schedule(key: string, delayMs: number, fn: () => void): void {
    this.#remove(key);
    const entry: Entry = {
      key,
      due: this.#clock.now() + Math.max(0, delayMs),
      seq: this.#seq++,
      fn,
      index: 0,
    };
    this.#byKey.set(key, entry);
    entry.index = this.#heap.length;
    this.#heap.push(entry);
    this.#up(entry.index);
    this.#arm();
  }

  cancel(key: string): boolean {
    const had = this.#remove(key);
    if (had) this.#arm();
    return had;
  }

  clear(): void {
    this.#heap = [];
    this.#byKey.clear();
    this.#disarm();
  }

  #remove(key: string): boolean {
    const entry = this.#byKey.get(key);
    if (!entry) return false;
    this.#byKey.delete(key);
    if (entry.index < 0) return true; // already taken off the heap by a firing batch
    const last = this.#heap.pop()!;
    if (last !== entry) {
      this.#heap[entry.index] = last;
      last.index = entry.index;
      this.#down(last.index);
      this.#up(last.index);
    }
    return true;
  }

  #less(a: Entry, b: Entry): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }

  #up(i: number): void {
    const h = this.#heap;
    const e = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!this.#less(e, parent)) break;
      h[i] = parent;
      parent.index = i;
      i = p;
    }
    h[i] = e;
    e.index = i;
  }

  #down(i: number): void {
    const h = this.#heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#less(h[r]!, h[l]!) ? r : l;
      const child = h[c]!;
      if (!this.#less(child, e)) break;
      h[i] = child;
      child.index = i;
      i = c;
    }
    h[i] = e;
    e.index = i;
  }

  #disarm(): void {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #arm(): void {
    if (this.#firing) return; // #fire re-arms once it has drained what is due
    const first = this.#heap[0];
    if (!first) {
      this.#disarm();
      return;
    }
    if (this.#timer !== null && this.#armedFor <= first.due) return;
    this.#disarm();
    this.#armedFor = first.due;
    this.#timer = this.#clock.setTimer(() => this.#fire(), Math.max(0, first.due - this.#clock.now()));
  }

  #fire(): void {
    this.#timer = null;
    this.#armedFor = Number.POSITIVE_INFINITY;
    this.#firing = true;
    try {
      // Node timers have millisecond resolution, and nearby entries share the wakeup.
      // Take what is due first, then run it: an entry a callback schedules (even
      // with a delay under batchMs) waits for the next wakeup instead of looping here.
      const limit = this.#clock.now() + this.#batchMs;
      const due: Entry[] = [];
      for (let first = this.#heap[0]; first && first.due <= limit; first = this.#heap[0]) {
        this.#popTop();
        due.push(first);
      }
      for (const entry of due) {
        // cancelled or rescheduled by an earlier callback of this batch
        if (this.#byKey.get(entry.key) !== entry) continue;
        this.#byKey.delete(entry.key);
        try {
          entry.fn();
        } catch {
          // a callback's failure must not stop the other probes from being scheduled
        }
      }
    } finally {
      this.#firing = false;
      this.#arm();
    }
  }

  /** Take the earliest entry off the heap; it stays in #byKey until it runs. */
  #popTop(): void {
    const top = this.#heap[0]!;
    const last = this.#heap.pop()!;
    if (last !== top) {
      this.#heap[0] = last;
      last.index = 0;
      this.#down(0);
    }
    top.index = -1;
  }
}

export class TimeoutTimerQueue implements TimerQueue {
  #timers = new Map<string, NodeJS.Timeout>();

  get size(): number {
    return this.#timers.size;
  }

  schedule(key: string, delayMs: number, fn: () => void): void {
    this.cancel(key);
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        fn();
      }, delayMs),
    );
  }

  cancel(key: string): boolean {
    const t = this.#timers.get(key);
    if (!t) return false;
    clearTimeout(t);
    this.#timers.delete(key);
    return true;
  }

  clear(): void {
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}
