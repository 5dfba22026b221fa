// The control plane's event bus: everything worth telling an operator, in order, with
// increasing ids and a bounded history, so a Server-Sent Events endpoint can replay
// from a Last-Event-ID and a dashboard can show recent transitions after connecting.
import type { HealthState } from "../model/state.ts";

interface EventBase {
  /** Increasing from 1, never reused within one process. */
  id: number;
  /** Epoch ms. */
  at: number;
}

export type ControlEventBody =
  | { type: "backend-transition"; backend: string; from: HealthState; to: HealthState; reason: string }
  | {
      type: "frontend-transition";
      frontend: string;
      /** Index of the active pool before and after (-1 = none serving). */
      fromPool: number;
      toPool: number;
      fromPoolName: string | null;
      toPoolName: string | null;
      /** Set when a reload removed the frontend (toPool is then -1). */
      removed?: true;
    }
  | {
      type: "weight-change";
      frontend: string;
      backend: string;
      from: number;
      to: number;
      flush: boolean;
    }
  | {
      /** L7 passive outlier detection ejected a backend from a frontend (ejected) or let it back (!ejected). */
      type: "backend-ejected";
      frontend: string;
      backend: string;
      ejected: boolean;
      reason: string;
    }
  | { type: "reload"; ok: boolean; summary: string; errors?: string[] }
  | { type: "log"; level: "info" | "warn" | "error"; message: string };

export type ControlEvent = EventBase & ControlEventBody;
export type ControlEventType = ControlEvent["type"];
export type EventListener = (event: ControlEvent) => void;

export class EventBus {
  readonly #capacity: number;
  readonly #ring: ControlEvent[] = [];
  #start = 0;
  #nextId = 1;
  readonly #listeners = new Set<EventListener>();
  readonly #now: () => number;

  constructor(options: { capacity?: number; now?: () => number } = {}) {
    this.#capacity = Math.max(1, options.capacity ?? 1000);
    this.#now = options.now ?? Date.now;
  }

  /** Record an event, give it the next id and tell every subscriber. Returns the stored event. */
  publish(body: ControlEventBody): ControlEvent {
    const event = { id: this.#nextId++, at: this.#now(), ...body } as ControlEvent;
    if (this.#ring.length < this.#capacity) {
      this.#ring.push(event);
    } else {
      this.#ring[this.#start] = event;
      this.#start = (this.#start + 1) % this.#capacity;
    }
    for (const listener of [...this.#listeners]) {
      // A subscriber that throws must not stop the others or the publisher.
      try {
        listener(event);
      } catch {}
    }
    return event;
  }

  subscribe(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.unsubscribe(listener);
  }

  unsubscribe(listener: EventListener): boolean {
    return this.#listeners.delete(listener);
  }

  /** Events kept in the history with an id greater than `id`, oldest first (all kept when id is 0). */
  since(id: number): ControlEvent[] {
    const out: ControlEvent[] = [];
    for (let i = 0; i < this.#ring.length; i++) {
      const e = this.#ring[(this.#start + i) % this.#ring.length];
      if (e.id > id) out.push(e);
    }
    return out;
  }

  /** The id of the newest event, 0 before the first. */
  get lastId(): number {
    return this.#nextId - 1;
  }

  /** The oldest id still replayable; a client asking for less has missed events. */
  get oldestId(): number {
    return this.#ring.length === 0 ? this.#nextId : this.#ring[this.#start].id;
  }
}
