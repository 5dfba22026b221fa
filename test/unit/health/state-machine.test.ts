import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { ProbeTiming } from "../../../src/config/types.ts";
import {
  applyOperator,
  applyResult,
  type BackendHealth,
  type BackendState,
  initialHealth,
  inTransition,
  nextInterval,
  type OperatorAction,
  staticHealth,
} from "../../../src/model/health.ts";

const limits = { rise: 2, fall: 3 }; // counter in [0, 4]; up band [2, 4], down band [0, 1]

// [state, counter, ok] -> [new state, new counter, transition?]
type Row = [BackendState, number, boolean, BackendState, number, boolean];
const table: Row[] = [
  // unknown: one probe decides, the counter jumps to the far end of the new band
  ["unknown", 0, true, "up", 4, true],
  ["unknown", 0, false, "down", 0, true],
  ["unknown", 1, true, "up", 4, true],
  ["unknown", 1, false, "down", 0, true],
  ["unknown", 2, true, "up", 4, true],
  ["unknown", 2, false, "down", 0, true],
  ["unknown", 3, true, "up", 4, true],
  ["unknown", 3, false, "down", 0, true],
  ["unknown", 4, true, "up", 4, true],
  ["unknown", 4, false, "down", 0, true],
  // up: counters below the up band are treated as its bottom (2)
  ["up", 0, true, "up", 3, false],
  ["up", 0, false, "down", 0, true],
  ["up", 1, true, "up", 3, false],
  ["up", 1, false, "down", 0, true],
  ["up", 2, true, "up", 3, false],
  ["up", 2, false, "down", 0, true],
  ["up", 3, true, "up", 4, false],
  ["up", 3, false, "up", 2, false],
  ["up", 4, true, "up", 4, false],
  ["up", 4, false, "up", 3, false],
  // down: counters above the down band are treated as its top (1)
  ["down", 0, true, "down", 1, false],
  ["down", 0, false, "down", 0, false],
  ["down", 1, true, "up", 4, true],
  ["down", 1, false, "down", 0, false],
  ["down", 2, true, "up", 4, true],
  ["down", 2, false, "down", 0, false],
  ["down", 3, true, "up", 4, true],
  ["down", 3, false, "down", 0, false],
  ["down", 4, true, "up", 4, true],
  ["down", 4, false, "down", 0, false],
];
// paused and disabled ignore results entirely
for (const state of ["paused", "disabled"] as const) {
  for (let c = 0; c <= 4; c++) {
    table.push([state, c, true, state, c, false], [state, c, false, state, c, false]);
  }
}

describe("applyResult truth table (rise=2, fall=3)", () => {
  test("the table covers every state, counter and result", () => {
    assert.equal(table.length, 5 * 5 * 2);
  });
  for (const [state, counter, ok, toState, toCounter, changes] of table) {
    test(`${state}/${counter} + ${ok ? "pass" : "fail"} -> ${toState}/${toCounter}${changes ? " (transition)" : ""}`, () => {
      const r = applyResult({ state, counter }, ok, limits);
      assert.deepEqual(r.health, { state: toState, counter: toCounter });
      assert.deepEqual(r.transition, changes ? { from: state, to: toState } : undefined);
    });
  }
});

function run(h: BackendHealth, results: boolean[], l = limits): { h: BackendHealth; changedAt: number[] } {
  const changedAt: number[] = [];
  results.forEach((ok, i) => {
    const r = applyResult(h, ok, l);
    if (r.transition) changedAt.push(i + 1);
    h = r.health;
  });
  return { h, changedAt };
}

describe("rise and fall counts", () => {
  for (let rise = 1; rise <= 4; rise++) {
    for (let fall = 1; fall <= 4; fall++) {
      const l = { rise, fall };
      test(`rise=${rise} fall=${fall}: exactly ${fall} fails take an up backend down, exactly ${rise} passes bring it back`, () => {
        // Just came up (from unknown), then fails: down after exactly `fall`.
        let { h } = run(initialHealth(rise, fall), [true], l);
        assert.equal(h.state, "up");
        let r = run(h, Array(fall + 2).fill(false), l);
        assert.deepEqual(r.changedAt, [fall]);
        h = r.h;
        assert.equal(h.state, "down");
        // Steadily down, then passes: up after exactly `rise`.
        r = run(h, Array(rise + 2).fill(true), l);
        assert.deepEqual(r.changedAt, [rise]);
        assert.equal(r.h.state, "up");
      });
    }
  }
  test("a pass in a falling streak only adds one back, so intermittent failures still accumulate", () => {
    // up/4, fail 3, fail 2, pass 3, fail 2, fail -> down
    const r = run(initialHealth(2, 3), [true, false, false, true, false, false, false]);
    assert.deepEqual(r.changedAt, [1, 6]);
  });
  test("a fail in the middle of a rising streak sends the counter back down", () => {
    // rise=3: fail -> down/0; pass 1, pass 2 (still down); fail 1; pass 2; pass -> up
    const r = run(initialHealth(3, 2), [false, true, true, false, true, true, true], { rise: 3, fall: 2 });
    assert.deepEqual(r.changedAt, [1, 6]);
  });
  test("unknown starts with the counter on the boundary (rise - 1)", () => {
    assert.deepEqual(initialHealth(2, 3), { state: "unknown", counter: 1 });
    assert.deepEqual(initialHealth(1, 1), { state: "unknown", counter: 0 });
  });
  test("bad limits are a clear error, not a crash", () => {
    assert.throws(() => initialHealth(0, 3), { code: "HEALTH_BAD_LIMITS" });
    assert.throws(() => applyResult({ state: "up", counter: 1 }, true, { rise: 2, fall: 1.5 }), {
      code: "HEALTH_BAD_LIMITS",
    });
  });
});

describe("operator actions truth table", () => {
  // [from state, action, to state, counter after] with counter 3 before (rise=2, fall=3)
  const rows: [BackendState, OperatorAction, BackendState, number][] = [
    ["unknown", "pause", "paused", 3],
    ["up", "pause", "paused", 3],
    ["down", "pause", "paused", 3],
    ["paused", "pause", "paused", 3],
    ["disabled", "pause", "disabled", 3],
    ["unknown", "resume", "unknown", 3],
    ["up", "resume", "up", 3],
    ["down", "resume", "down", 3],
    ["paused", "resume", "unknown", 1],
    ["disabled", "resume", "disabled", 3],
    ["unknown", "disable", "disabled", 3],
    ["up", "disable", "disabled", 3],
    ["down", "disable", "disabled", 3],
    ["paused", "disable", "disabled", 3],
    ["disabled", "disable", "disabled", 3],
    ["unknown", "enable", "unknown", 3],
    ["up", "enable", "up", 3],
    ["down", "enable", "down", 3],
    ["paused", "enable", "paused", 3],
    ["disabled", "enable", "unknown", 1],
  ];
  for (const [from, action, to, counter] of rows) {
    test(`${action} on ${from} -> ${to}/${counter}`, () => {
      const r = applyOperator({ state: from, counter: 3 }, action, limits);
      assert.deepEqual(r.health, { state: to, counter });
      assert.deepEqual(r.transition, from === to ? undefined : { from, to });
    });
  }
  test("resume and enable of a static backend go straight to up (no probe would ever decide)", () => {
    const limitsStatic = { rise: 1, fall: 1 };
    const paused = applyOperator(staticHealth(), "pause", limitsStatic, true).health;
    assert.equal(paused.state, "paused");
    assert.deepEqual(applyOperator(paused, "resume", limitsStatic, true).transition, {
      from: "paused",
      to: "up",
    });
    const disabled = applyOperator(staticHealth(), "disable", limitsStatic, true).health;
    assert.equal(applyOperator(disabled, "enable", limitsStatic, true).health.state, "up");
  });
  test("after resume one probe decides", () => {
    const paused = applyOperator({ state: "down", counter: 0 }, "pause", limits).health;
    const resumed = applyOperator(paused, "resume", limits).health;
    assert.equal(applyResult(resumed, true, limits).health.state, "up");
    assert.equal(applyResult(resumed, false, limits).health.state, "down");
  });
});

describe("nextInterval", () => {
  const timing: ProbeTiming = {
    interval: 2000,
    fastInterval: 500,
    downInterval: 5000,
    timeout: 1000,
    rise: 2,
    fall: 3,
    jitter: 0.1,
  };
  const mid = () => 0.5; // no spread
  const rows: [BackendState, number, number][] = [
    ["unknown", 1, 500],
    ["up", 4, 2000], // steadily up
    ["up", 3, 500], // falling
    ["up", 2, 500],
    ["down", 0, 5000], // steadily down
    ["down", 1, 500], // rising
    ["paused", 4, Number.POSITIVE_INFINITY],
    ["disabled", 0, Number.POSITIVE_INFINITY],
  ];
  for (const [state, counter, ms] of rows) {
    test(`${state}/${counter} waits ${ms}ms`, () => {
      assert.equal(nextInterval({ state, counter }, timing, mid), ms);
    });
  }
  test("jitter spreads the interval by at most +-jitter", () => {
    const up = { state: "up", counter: 4 } as const;
    assert.equal(
      nextInterval(up, timing, () => 0),
      1800,
    );
    assert.equal(
      nextInterval(up, timing, () => 0.999999),
      2200,
    );
    assert.equal(
      nextInterval(up, { ...timing, jitter: 0 }, () => 0),
      2000,
    );
    // jitter above 0.5 is capped
    assert.equal(
      nextInterval(up, { ...timing, jitter: 3 }, () => 0),
      1000,
    );
  });
  test("inTransition marks the bands' inner counters", () => {
    assert.equal(inTransition({ state: "up", counter: 4 }, limits), false);
    assert.equal(inTransition({ state: "up", counter: 3 }, limits), true);
    assert.equal(inTransition({ state: "down", counter: 0 }, limits), false);
    assert.equal(inTransition({ state: "down", counter: 1 }, limits), true);
    assert.equal(inTransition({ state: "paused", counter: 1 }, limits), false);
  });
});
