import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  LARGE_READ_BUFFER,
  ReadBufferPool,
  SMALL_READ_BUFFER,
} from "../../../src/dataplane/proxy/read-buffer-pool.ts";

describe("ReadBufferPool", () => {
  it("hands out small buffers as distinct, non-overlapping slices", () => {
    const pool = new ReadBufferPool();
    const bufs = Array.from({ length: 100 }, () => pool.small());
    for (const b of bufs) assert.equal(b.length, SMALL_READ_BUFFER);
    for (const [i, b] of bufs.entries()) b.fill(i);
    for (const [i, b] of bufs.entries())
      assert.ok(
        b.every((x) => x === i % 256),
        `buffer ${i} kept its bytes`,
      );
  });

  it("reuses a released buffer of each size, last in first out", () => {
    const pool = new ReadBufferPool();
    const s = pool.small();
    const l = pool.large();
    assert.equal(l.length, LARGE_READ_BUFFER);
    pool.release(s);
    pool.release(l);
    assert.equal(pool.small(), s);
    assert.equal(pool.large(), l);
    assert.notEqual(pool.small(), s, "handed out once, not twice");
  });

  it("keeps at most the configured number of free buffers", () => {
    const pool = new ReadBufferPool({ maxFreeSmall: 2, maxFreeLarge: 1 });
    const smalls = [pool.small(), pool.small(), pool.small()];
    const larges = [pool.large(), pool.large()];
    for (const b of [...smalls, ...larges]) pool.release(b);
    assert.deepEqual(pool.freeCount, { small: 2, large: 1 });
  });

  it("ignores buffers of other sizes", () => {
    const pool = new ReadBufferPool();
    pool.release(Buffer.alloc(100));
    assert.deepEqual(pool.freeCount, { small: 0, large: 0 });
  });
});
