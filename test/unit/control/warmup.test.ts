import assert from "node:assert/strict";
import { test } from "node:test";
import { Warmup, type WarmupInput, warmupDecision } from "../../../src/control/warmup.ts";

const rows: [string, WarmupInput, boolean, number | null][] = [
  // label, input, done, recheckIn (when not done)
  [
    "before min-delay, all decided: wait for min-delay",
    { elapsed: 100, minDelay: 500, maxWait: 5000, unknown: 0 },
    false,
    400,
  ],
  [
    "before min-delay, max-wait 0: still wait",
    { elapsed: 0, minDelay: 200, maxWait: 0, unknown: 3 },
    false,
    200,
  ],
  [
    "after min-delay, some unknown: wait until max-wait",
    { elapsed: 1000, minDelay: 0, maxWait: 5000, unknown: 2 },
    false,
    4000,
  ],
  [
    "after min-delay, none unknown: done",
    { elapsed: 600, minDelay: 500, maxWait: 5000, unknown: 0 },
    true,
    null,
  ],
  [
    "max-wait passed with unknowns: done anyway",
    { elapsed: 5000, minDelay: 0, maxWait: 5000, unknown: 2 },
    true,
    null,
  ],
  ["max-wait 0 disables the wait", { elapsed: 0, minDelay: 0, maxWait: 0, unknown: 5 }, true, null],
  [
    "max-wait shorter than min-delay: min-delay wins",
    { elapsed: 300, minDelay: 300, maxWait: 100, unknown: 1 },
    true,
    null,
  ],
  [
    "no checked backends at all: done at once",
    { elapsed: 0, minDelay: 0, maxWait: 5000, unknown: 0 },
    true,
    null,
  ],
];

for (const [label, input, done, recheck] of rows) {
  test(`warmupDecision: ${label}`, () => {
    const d = warmupDecision(input);
    assert.equal(d.done, done);
    if (!d.done) assert.equal(d.recheckIn, recheck);
    else assert.ok(d.reason.length > 0);
  });
}

test("Warmup ends when the last unknown backend is decided, not before", async () => {
  let unknown = 2;
  const reasons: string[] = [];
  const w = new Warmup({
    minDelay: 0,
    maxWait: 10_000,
    unknown: () => unknown,
    onDone: (r) => reasons.push(r),
  });
  w.start();
  unknown = 1;
  w.check();
  assert.deepEqual(reasons, []);
  unknown = 0;
  w.check();
  w.check();
  assert.equal(reasons.length, 1);
  assert.match(reasons[0], /every checked backend/);
  assert.equal(w.done, true);
});

test("Warmup ends on its own timer at max-wait when probes never answer", async () => {
  const start = performance.now();
  const done = new Promise<string>((resolve) => {
    const w = new Warmup({ minDelay: 0, maxWait: 80, unknown: () => 1, onDone: resolve });
    w.start();
  });
  const reason = await done;
  assert.ok(performance.now() - start >= 75);
  assert.match(reason, /max-wait 80ms/);
});

test("cancel() stops the timer without calling onDone", async () => {
  let called = false;
  const w = new Warmup({
    minDelay: 30,
    maxWait: 0,
    unknown: () => 0,
    onDone: () => {
      called = true;
    },
  });
  w.start();
  w.cancel();
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(called, false);
});

test("check() before start() does nothing (transitions during setup must not end warmup)", () => {
  let called = false;
  const w = new Warmup({
    minDelay: 0,
    maxWait: 0,
    unknown: () => 0,
    onDone: () => {
      called = true;
    },
    now: () => 1e9,
  });
  w.check();
  assert.equal(called, false);
  w.start();
  assert.equal(called, true);
});
