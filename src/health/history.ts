// A fixed-size ring of the most recent transitions of one backend.
import type { Transition } from "./types.ts";

export const HISTORY_SIZE = 32;

export class TransitionHistory {
  #ring: Transition[] = [];
  #next = 0;
  #capacity: number;

  constructor(capacity = HISTORY_SIZE) {
    this.#capacity = capacity;
  }

  push(t: Transition): void {
    if (this.#ring.length < this.#capacity) this.#ring.push(t);
    else this.#ring[this.#next] = t;
    this.#next = (this.#next + 1) % this.#capacity;
  }

  /** Oldest first; a copy. */
  list(): Transition[] {
    if (this.#ring.length < this.#capacity) return this.#ring.slice();
    return [...this.#ring.slice(this.#next), ...this.#ring.slice(0, this.#next)];
  }
}
