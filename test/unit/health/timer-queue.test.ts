import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TransitionHistory } from "../../../src/health/history.ts";
import { type Clock, HeapTimerQueue } from "../../../src/health/timer-queue.ts";

/** A fake clock: one pending timer at most (the queue arms a single one), advanced by hand. */
function fakeClock() {
  let now = 0;
  let timer: { fn: () => void; at: number } | null = null;
  let armed = 0;
  const clock: Clock = {
    now: () => now,
    setTimer: (fn, ms) => {
      armed++;
      timer = { fn, at: now + ms };
      return timer;
    },
    clearTimer: (h) => {
      if (timer === h) timer = null;
    },
  };
  return {
    clock,
    armedCount: () => armed,
    pending: () => timer !== null,
    advance(ms: number) {
      const end = now + ms;
      while (timer && timer.at <= end) {
        const t = timer;
        timer = null;
        now = t.at;
        t.fn();
      }
      now = end;
    },
  };
}

describe("HeapTimerQueue", () => {
  test("fires entries in due order with a single armed timer", () => {
    const f = fakeClock();
    const q = new HeapTimerQueue(f.clock);
    const fired: string[] = [];
    for (const [k, d] of [
      ["c", 30],
      ["a", 10],
      ["d", 40],
      ["b", 20],
    ] as const)
      q.schedule(k, d, () => fired.push(k));
    assert.equal(q.size, 4);
    f.advance(25);
    assert.deepEqual(fired, ["a", "b"]);
    f.advance(100);
    assert.deepEqual(fired, ["a", "b", "c", "d"]);
    assert.equal(q.size, 0);
    assert.equal(f.pending(), false);
  });

  test("rescheduling a key replaces its entry, cancel removes it", () => {
    const f = fakeClock();
    const q = new HeapTimerQueue(f.clock);
    const fired: string[] = [];
    q.schedule("a", 10, () => fired.push("a1"));
    q.schedule("b", 20, () => fired.push("b"));
    q.schedule("a", 30, () => fired.push("a2"));
    assert.equal(q.cancel("b"), true);
    assert.equal(q.cancel("b"), false);
    f.advance(50);
    assert.deepEqual(fired, ["a2"]);
  });

  test("entries due together fire in one tick, in scheduling order", () => {
    const f = fakeClock();
    const q = new HeapTimerQueue(f.clock);
    const fired: number[] = [];
    for (let i = 0; i < 100; i++) q.schedule(`k${i}`, 5, () => fired.push(i));
    const before = f.armedCount();
    f.advance(5);
    assert.deepEqual(
      fired,
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.equal(f.armedCount(), before, "no extra timers armed while draining");
  });

  test("a callback that reschedules itself runs again later, not in the same tick", () => {
    const f = fakeClock();
    const q = new HeapTimerQueue(f.clock);
    let runs = 0;
    const tick = () => {
      runs++;
      q.schedule("self", 10, tick);
    };
    q.schedule("self", 10, tick);
    f.advance(55);
    assert.equal(runs, 5);
  });

  test("a throwing callback does not stop the others", () => {
    const f = fakeClock();
    const q = new HeapTimerQueue(f.clock);
    const fired: string[] = [];
    q.schedule("a", 1, () => {
      throw new Error("boom");
    });
    q.schedule("b", 1, () => fired.push("b"));
    f.advance(2);
    assert.deepEqual(fired, ["b"]);
  });

  test("heap order holds under random schedules and cancels", () => {
    const f = fakeClock();
    const q = new HeapTimerQueue(f.clock, 1);
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const due = new Map<string, number>();
    const fired: [string, number][] = [];
    for (let i = 0; i < 2000; i++) {
      const k = `k${Math.floor(rand() * 500)}`;
      if (rand() < 0.2) {
        q.cancel(k);
        due.delete(k);
      } else {
        const d = Math.floor(rand() * 1000);
        q.schedule(k, d, () => fired.push([k, f.clock.now()]));
        due.set(k, d);
      }
    }
    f.advance(2000);
    assert.equal(fired.length, due.size);
    // With batchMs=1 the queue takes everything due within the next millisecond in one tick.
    for (const [k, at] of fired)
      assert.ok(at <= due.get(k)! && at >= due.get(k)! - 1, `${k} fired at its due time`);
    for (let i = 1; i < fired.length; i++) assert.ok(fired[i]![1] >= fired[i - 1]![1]);
  });

  test("entries due within batchMs of a wakeup share it; later ones wait", () => {
    const f = fakeClock();
    const q = new HeapTimerQueue(f.clock, 5);
    const fired: [string, number][] = [];
    for (const [k, d] of [
      ["a", 10],
      ["b", 14],
      ["c", 16],
    ] as const)
      q.schedule(k, d, () => fired.push([k, f.clock.now()]));
    f.advance(100);
    assert.deepEqual(fired, [
      ["a", 10],
      ["b", 10],
      ["c", 16],
    ]);
  });

  test("clear drops everything and disarms", () => {
    const f = fakeClock();
    const q = new HeapTimerQueue(f.clock);
    let n = 0;
    q.schedule("a", 1, () => n++);
    q.clear();
    f.advance(10);
    assert.equal(n, 0);
    assert.equal(f.pending(), false);
  });
});

describe("TransitionHistory", () => {
  test("keeps the last N transitions, oldest first", () => {
    const h = new TransitionHistory(3);
    for (let i = 0; i < 5; i++) h.push({ at: i, from: "up", to: "down", reason: `r${i}` });
    assert.deepEqual(
      h.list().map((t) => t.reason),
      ["r2", "r3", "r4"],
    );
  });
  test("below capacity lists what it has", () => {
    const h = new TransitionHistory(3);
    h.push({ at: 1, from: "unknown", to: "up", reason: "x" });
    assert.equal(h.list().length, 1);
  });
});

describe("HeapTimerQueue batching", () => {
  test("an entry rescheduled from its own callback within batchMs waits for the next wakeup", () => {
    const f = fakeClock();
    const q = new HeapTimerQueue(f.clock, 10);
    let runs = 0;
    const tick = () => {
      runs++;
      q.schedule("self", 3, tick);
    };
    q.schedule("self", 3, tick);
    f.advance(10);
    assert.equal(runs, 3); // at 3, 6, 9: never twice in one wakeup
  });

  test("a callback can cancel or reschedule an entry of the same batch", () => {
    const f = fakeClock();
    const q = new HeapTimerQueue(f.clock, 10);
    const fired: string[] = [];
    q.schedule("a", 1, () => {
      fired.push("a");
      q.cancel("b");
      q.schedule("c", 50, () => fired.push("c-late"));
    });
    q.schedule("b", 2, () => fired.push("b"));
    q.schedule("c", 3, () => fired.push("c"));
    f.advance(20);
    assert.deepEqual(fired, ["a"]);
    assert.equal(q.size, 1);
    f.advance(100);
    assert.deepEqual(fired, ["a", "c-late"]);
    assert.equal(q.size, 0);
  });
});
