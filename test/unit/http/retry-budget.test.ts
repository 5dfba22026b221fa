import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RetryBudget } from "../../../src/dataplane/proxy/http/retry-budget.ts";

const T0 = 1_000_000; // a whole second, so offsets below read as "second + ms"

describe("retry budget: retries <= percent of requests in the window, or < min per second", () => {
  // [case, percent, minPerSecond, requests in the window before, retries before (same second), allowed?]
  const table: [string, number, number, number, number, boolean][] = [
    ["min per second allows the first retries with no traffic", 20, 3, 0, 0, true],
    ["the third retry in a second is still within min 3/s", 20, 3, 0, 2, true],
    ["a fourth retry in a quiet second is refused", 20, 3, 0, 3, false],
    ["20% of 100 requests: the 20th retry is allowed", 20, 3, 100, 19, true],
    ["20% of 100 requests: a 21st is refused", 20, 3, 100, 20, false],
    ["0% with min 0: never", 0, 0, 1000, 0, false],
    ["100% of 5 requests allows 5 retries", 100, 0, 5, 4, true],
    ["100% of 5 requests refuses a 6th", 100, 0, 5, 5, false],
    ["min 0 and 20% of 4 requests: not even one retry", 20, 0, 4, 0, false],
    ["min 0 and 20% of 5 requests: exactly one", 20, 0, 5, 0, true],
  ];
  for (const [name, percent, minPerSecond, requests, retries, want] of table) {
    test(name, () => {
      const b = new RetryBudget({ percent, minPerSecond, window: 10_000 });
      for (let i = 0; i < requests; i++) b.recordRequest(T0 + 10);
      for (let i = 0; i < retries; i++) b.tryRetry(T0 + 20);
      assert.equal(b.tryRetry(T0 + 30), want);
    });
  }

  test("a refused retry is not counted", () => {
    const b = new RetryBudget({ percent: 0, minPerSecond: 1, window: 10_000 });
    assert.equal(b.tryRetry(T0), true);
    assert.equal(b.tryRetry(T0), false);
    assert.equal(b.tryRetry(T0), false);
    assert.equal(b.tryRetry(T0 + 1000), true, "next second, the minimum is available again");
  });

  test("requests older than the window no longer pay for retries", () => {
    const b = new RetryBudget({ percent: 50, minPerSecond: 0, window: 3000 });
    for (let i = 0; i < 10; i++) b.recordRequest(T0);
    assert.equal(b.tryRetry(T0 + 2999), true, "still inside the 3 s window");
    assert.equal(b.tryRetry(T0 + 3000), false, "the requests' second has left the window");
  });

  test("retries spread over seconds add up within the window", () => {
    const b = new RetryBudget({ percent: 20, minPerSecond: 0, window: 10_000 });
    for (let i = 0; i < 10; i++) b.recordRequest(T0);
    assert.equal(b.tryRetry(T0 + 1000), true);
    assert.equal(b.tryRetry(T0 + 2000), true);
    assert.equal(b.tryRetry(T0 + 3000), false, "2 retries = 20% of 10 requests");
  });

  test("configure with another window starts counting afresh", () => {
    const b = new RetryBudget({ percent: 0, minPerSecond: 1, window: 10_000 });
    assert.equal(b.tryRetry(T0), true);
    b.configure({ percent: 0, minPerSecond: 1, window: 5000 });
    assert.equal(b.tryRetry(T0), true);
  });
});
