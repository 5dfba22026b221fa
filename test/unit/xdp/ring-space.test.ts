import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdPool, RingSpace } from "../../../src/dataplane/xdp/ring-space.ts";
import { LodestoneError } from "../../../src/errors.ts";

describe("RingSpace: Maglev rings packed into one array", () => {
  it("hands out regions back to back from offset 0", () => {
    const r = new RingSpace(100);
    assert.equal(r.alloc(10), 0);
    assert.equal(r.alloc(30), 10);
    assert.equal(r.alloc(60), 40);
    assert.equal(r.freeSlots(), 0);
  });

  it("refuses a ring that does not fit with XDP_RING_FULL", () => {
    const r = new RingSpace(100);
    r.alloc(60);
    assert.throws(
      () => r.alloc(41),
      (e: unknown) => e instanceof LodestoneError && e.code === "XDP_RING_FULL",
    );
  });

  it("merges freed neighbours so a large ring fits again", () => {
    const r = new RingSpace(90);
    const a = r.alloc(30);
    const b = r.alloc(30);
    const c = r.alloc(30);
    r.free(a, 30);
    r.free(c, 30);
    assert.equal(r.regions().length, 2);
    r.free(b, 30);
    assert.deepEqual(r.regions(), [{ offset: 0, size: 90 }]);
    assert.equal(r.alloc(90), 0);
  });

  it("reuses the first hole that is large enough", () => {
    const r = new RingSpace(100);
    const a = r.alloc(10);
    r.alloc(10);
    const c = r.alloc(40);
    r.free(a, 10);
    r.free(c, 40);
    assert.equal(r.alloc(20), 20);
    assert.equal(r.alloc(10), 0);
  });

  it("reserves regions found in the maps after a restart and splits the free space around them", () => {
    const r = new RingSpace(100);
    r.reserve(40, 20);
    assert.deepEqual(r.regions(), [
      { offset: 0, size: 40 },
      { offset: 60, size: 40 },
    ]);
    assert.equal(r.alloc(40), 0);
    assert.equal(r.alloc(40), 60);
    assert.throws(
      () => r.reserve(10, 5),
      (e: unknown) => e instanceof LodestoneError && e.code === "XDP_RING_OVERLAP",
    );
  });
});

describe("IdPool: VIP and backend slots", () => {
  it("always gives the lowest free id, so two runs allocate alike", () => {
    const p = new IdPool(4);
    assert.deepEqual([p.alloc("x"), p.alloc("x"), p.alloc("x")], [0, 1, 2]);
    p.release(1);
    assert.equal(p.alloc("x"), 1);
    p.reserve(3);
    assert.throws(
      () => p.alloc("backend"),
      (e: unknown) => e instanceof LodestoneError && e.code === "XDP_TABLE_FULL" && /backend/.test(e.message),
    );
  });
});
