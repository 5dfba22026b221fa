// Read buffers for the L4 relay's sockets, reused from one connection to the next.
//
// Each socket reads into a buffer of its own (see uv-tcp.ts). Allocating that buffer
// per connection was the largest cost of a short connection: external memory that
// keeps V8 running major collections at thousands of connections per second. Buffers
// come in two sizes: a small one every socket starts with (an idle connection holds
// two of them, so 10,000 idle connections hold 80 MiB), and a large one a socket
// moves to once a read fills the small one (bulk transfer reads in bigger bites).
// Small buffers are carved from shared slabs; both sizes go back to a bounded free
// list when their socket closes with nothing of theirs still queued for writing.

export const SMALL_READ_BUFFER = 4 * 1024;
export const LARGE_READ_BUFFER = 64 * 1024;
const SLAB_BYTES = 256 * 1024;

export interface ReadBufferPoolLimits {
  /** Free small buffers kept for reuse. */
  maxFreeSmall: number;
  /** Free large buffers kept for reuse. */
  maxFreeLarge: number;
}

export class ReadBufferPool {
  readonly #freeSmall: Buffer[] = [];
  readonly #freeLarge: Buffer[] = [];
  readonly #limits: ReadBufferPoolLimits;
  #slab: Buffer | null = null;
  #slabOffset = 0;

  constructor(limits: ReadBufferPoolLimits = { maxFreeSmall: 4096, maxFreeLarge: 64 }) {
    this.#limits = limits;
  }

  small(): Buffer {
    const reused = this.#freeSmall.pop();
    if (reused !== undefined) return reused;
    if (this.#slab === null || this.#slabOffset + SMALL_READ_BUFFER > this.#slab.length) {
      this.#slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.#slabOffset = 0;
    }
    const buf = this.#slab.subarray(this.#slabOffset, this.#slabOffset + SMALL_READ_BUFFER);
    this.#slabOffset += SMALL_READ_BUFFER;
    return buf;
  }

  large(): Buffer {
    return this.#freeLarge.pop() ?? Buffer.allocUnsafeSlow(LARGE_READ_BUFFER);
  }

  /** Give back a buffer nothing references any more (its socket is closed, no write queued). */
  release(buf: Buffer): void {
    if (buf.length === SMALL_READ_BUFFER) {
      if (this.#freeSmall.length < this.#limits.maxFreeSmall) this.#freeSmall.push(buf);
    } else if (buf.length === LARGE_READ_BUFFER) {
      if (this.#freeLarge.length < this.#limits.maxFreeLarge) this.#freeLarge.push(buf);
    }
  }

  get freeCount(): { small: number; large: number } {
    return { small: this.#freeSmall.length, large: this.#freeLarge.length };
  }
}
