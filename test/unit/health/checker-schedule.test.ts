// The checker driven by a fake clock and a scripted probe: no sockets, exact times.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { HealthCheckConfig } from "../../../src/config/types.ts";
import { HealthChecker } from "../../../src/health/checker.ts";
import { type Clock, HeapTimerQueue } from "../../../src/health/timer-queue.ts";
import type { ProbeResult } from "../../../src/health/types.ts";

function fakeClock() {
  let now = 0;
  let timer: { fn: () => void; at: number } | null = null;
  const clock: Clock = {
    now: () => now,
    setTimer: (fn, ms) => {
      timer = { fn, at: now + ms };
      return timer;
    },
    clearTimer: (h) => {
      if (timer === h) timer = null;
    },
  };
  return {
    clock,
    async advance(ms: number) {
      const end = now + ms;
      for (;;) {
        // let resolved probes run their continuations (which schedule the next probe)
        for (let i = 0; i < 5; i++) await Promise.resolve();
        if (!timer || timer.at > end) break;
        const t = timer;
        timer = null;
        now = t.at;
        t.fn();
      }
      now = end;
    },
  };
}

const check: HealthCheckConfig = {
  name: "hc",
  type: "tcp",
  interval: 1000,
  fastInterval: 200,
  downInterval: 3000,
  timeout: 100,
  rise: 2,
  fall: 3,
  jitter: 0,
};

function scripted(results: boolean[], calls: number[], now: () => number) {
  return async (): Promise<ProbeResult> => {
    calls.push(now());
    const ok = results.shift() ?? true;
    return { ok, reason: ok ? "fine" : "broken", latencyMs: 0 };
  };
}

test("probes follow the state machine's intervals: fast while in transition, slow while down", async () => {
  const f = fakeClock();
  const calls: number[] = [];
  const checker = new HealthChecker({
    probe: scripted([true, false, false, false, true, true], calls, f.clock.now),
    random: () => 0.5,
    now: f.clock.now,
    timers: new HeapTimerQueue(f.clock, 1),
  });
  const states: string[] = [];
  checker.on("transition", (_n, t) => states.push(`${t.at}:${t.from}->${t.to}`));
  checker.sync([{ name: "b", address: "127.0.0.1", port: 1, healthcheck: "hc" }], { hc: check });
  await f.advance(6000);
  checker.stop();
  // first probe after 0.5 * min(fast, interval); up: +1000; falling: +200, +200; down: +3000; rising: +200; up: +1000
  assert.deepEqual(calls, [100, 1100, 1300, 1500, 4500, 4700, 5700]);
  assert.deepEqual(states, ["0:removed->unknown", "100:unknown->up", "1500:up->down", "4700:down->up"]);
});

test("a paused backend is not probed until resumed, then at once", async () => {
  const f = fakeClock();
  const calls: number[] = [];
  const checker = new HealthChecker({
    probe: scripted([], calls, f.clock.now),
    random: () => 0,
    now: f.clock.now,
    timers: new HeapTimerQueue(f.clock, 1),
  });
  checker.sync([{ name: "b", address: "127.0.0.1", port: 1, healthcheck: "hc" }], { hc: check });
  await f.advance(10);
  assert.deepEqual(calls, [0]);
  checker.pause("b");
  await f.advance(5000);
  assert.deepEqual(calls, [0]);
  checker.resume("b");
  await f.advance(10);
  assert.deepEqual(calls, [0, 5010]);
  assert.equal(checker.get("b")!.state, "up");
  checker.stop();
});

test("a probe function that rejects counts as a failed probe and probing goes on", async () => {
  const f = fakeClock();
  let n = 0;
  const checker = new HealthChecker({
    probe: async () => {
      n++;
      throw new Error("kaboom");
    },
    random: () => 0,
    now: f.clock.now,
    timers: new HeapTimerQueue(f.clock, 1),
  });
  checker.sync([{ name: "b", address: "127.0.0.1", port: 1, healthcheck: "hc" }], { hc: check });
  await f.advance(10_000);
  checker.stop();
  const v = checker.get("b")!;
  assert.equal(v.state, "down");
  assert.equal(v.lastProbe?.reason, "probe error: Error: kaboom");
  assert.ok(n >= 4);
});
