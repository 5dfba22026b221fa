// Where each VIP's Maglev ring lives inside the one shared `ring` array: a
// first-fit allocator over [0, capacity) with coalescing frees. Pure.
import { LodestoneError } from "../../errors.ts";

export interface Region {
  offset: number;
  size: number;
}

export class RingSpace {
  readonly capacity: number;
  /** Free regions, sorted by offset, never adjacent (adjacent ones are merged). */
  #free: Region[];

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#free = capacity > 0 ? [{ offset: 0, size: capacity }] : [];
  }

  /** The lowest offset with `size` free slots. Throws XDP_RING_FULL. */
  alloc(size: number): number {
    const i = this.#free.findIndex((r) => r.size >= size);
    if (i < 0) {
      throw new LodestoneError(
        "XDP_RING_FULL",
        `no room for a Maglev ring of ${size} slots (ring capacity ${this.capacity}, free ${this.freeSlots()})`,
      );
    }
    const r = this.#free[i];
    const offset = r.offset;
    if (r.size === size) this.#free.splice(i, 1);
    else this.#free[i] = { offset: r.offset + size, size: r.size - size };
    return offset;
  }

  /** Mark [offset, offset+size) used, e.g. when rebuilding from maps after a restart. */
  reserve(offset: number, size: number): void {
    const i = this.#free.findIndex((r) => r.offset <= offset && offset + size <= r.offset + r.size);
    if (i < 0) throw new LodestoneError("XDP_RING_OVERLAP", `ring region ${offset}+${size} is not free`);
    const r = this.#free[i];
    const parts: Region[] = [];
    if (offset > r.offset) parts.push({ offset: r.offset, size: offset - r.offset });
    if (offset + size < r.offset + r.size) {
      parts.push({ offset: offset + size, size: r.offset + r.size - offset - size });
    }
    this.#free.splice(i, 1, ...parts);
  }

  free(offset: number, size: number): void {
    if (size === 0) return;
    let i = this.#free.findIndex((r) => r.offset > offset);
    if (i < 0) i = this.#free.length;
    this.#free.splice(i, 0, { offset, size });
    // Merge with the right neighbour, then the left.
    const cur = this.#free[i];
    const right = this.#free[i + 1];
    if (right && cur.offset + cur.size === right.offset) {
      cur.size += right.size;
      this.#free.splice(i + 1, 1);
    }
    const left = this.#free[i - 1];
    if (left && left.offset + left.size === cur.offset) {
      left.size += cur.size;
      this.#free.splice(i, 1);
    }
  }

  freeSlots(): number {
    return this.#free.reduce((n, r) => n + r.size, 0);
  }

  regions(): Region[] {
    return this.#free.map((r) => ({ ...r }));
  }
}

/** Lowest-free-first integer ids in [0, capacity): deterministic, so two runs allocate alike. */
export class IdPool {
  readonly capacity: number;
  readonly #used = new Set<number>();

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  alloc(what: string): number {
    for (let id = 0; id < this.capacity; id++) {
      if (!this.#used.has(id)) {
        this.#used.add(id);
        return id;
      }
    }
    throw new LodestoneError("XDP_TABLE_FULL", `no free ${what} slot (capacity ${this.capacity})`);
  }

  reserve(id: number): void {
    this.#used.add(id);
  }

  release(id: number): void {
    this.#used.delete(id);
  }

  size(): number {
    return this.#used.size;
  }
}
