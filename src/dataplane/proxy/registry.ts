// Live flows (TCP connections, UDP sessions) grouped by the backend that serves
// them: what flush ends, what drain waits for, and the in-flight counts that
// least-connections and p2c balance on.
export class FlowRegistry<F> {
  readonly #byBackend = new Map<string, Set<F>>();

  add(backend: string, flow: F): void {
    let set = this.#byBackend.get(backend);
    if (set === undefined) {
      set = new Set();
      this.#byBackend.set(backend, set);
    }
    set.add(flow);
  }

  delete(backend: string, flow: F): void {
    const set = this.#byBackend.get(backend);
    if (set === undefined) return;
    set.delete(flow);
    if (set.size === 0) this.#byBackend.delete(backend);
  }

  count(backend: string): number {
    return this.#byBackend.get(backend)?.size ?? 0;
  }

  /** A copy: callers end flows while iterating, which removes them from the live set. */
  of(backend: string): F[] {
    return [...(this.#byBackend.get(backend) ?? [])];
  }
}
