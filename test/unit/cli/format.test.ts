import assert from "node:assert/strict";
import { test } from "node:test";
import { describeEvent, SseParser } from "../../../src/cli/shell/actions.ts";
import { ago, bytes, duration, state, table, useColor } from "../../../src/cli/shell/format.ts";

test("tables align columns by visible width, colour codes included", () => {
  const plain = table(
    { color: false },
    ["A", "BB"],
    [
      ["xxx", "y"],
      ["z", "wwww"],
    ],
  );
  assert.equal(plain, "A    BB\nxxx  y\nz    wwww\n");
  const colored = table({ color: true }, ["A", "B"], [[state({ color: true }, "up"), "x"]]);
  const lines = colored.split("\n");
  assert.match(lines[1], /^\x1b\[32mup\x1b\[0m {2}x$/);
});

test("colour only on a TTY and only when NO_COLOR is unset or empty", () => {
  assert.equal(useColor({ isTTY: true }, {}), true);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: "1" }), false);
  assert.equal(useColor({ isTTY: true }, { NO_COLOR: "" }), true);
  assert.equal(useColor({ isTTY: false }, {}), false);
  assert.equal(useColor({}, {}), false);
});

test("relative times and byte sizes", () => {
  assert.equal(ago(0, 5_000), "5s ago");
  assert.equal(ago(0, 120_000), "2m ago");
  assert.equal(ago(0, 7_200_000), "2h ago");
  assert.equal(ago(0, 2 * 86_400_000), "2d ago");
  assert.equal(bytes(512), "512 B");
  assert.equal(bytes(1536), "1.5 KiB");
  assert.equal(bytes(3 * 1024 * 1024), "3.0 MiB");
});

test("the SSE parser joins chunks, keeps ids, skips comments and retry lines", () => {
  const p = new SseParser();
  assert.deepEqual(p.push("retry: 1000\n: hello\n\nid: 4\nda"), []);
  assert.deepEqual(p.push('ta: {"a":1}\n\n: heartbeat\n\ndata: x\r\n\r\n'), [
    { id: "4", data: '{"a":1}' },
    { id: undefined, data: "x" },
  ]);
});

test("every event type reads as one line", () => {
  assert.equal(
    describeEvent({
      id: 1,
      at: 0,
      type: "backend-transition",
      backend: "a",
      from: "up",
      to: "down",
      reason: "refused",
    }),
    "backend a: up -> down (refused)",
  );
  assert.equal(
    describeEvent({
      id: 2,
      at: 0,
      type: "frontend-transition",
      frontend: "www",
      fromPool: 0,
      toPool: -1,
      fromPoolName: "main",
      toPoolName: null,
    }),
    "frontend www: pool main -> none",
  );
  assert.equal(
    describeEvent({
      id: 3,
      at: 0,
      type: "weight-change",
      frontend: "f",
      backend: "b",
      from: 100,
      to: 0,
      flush: true,
    }),
    "frontend f backend b: weight 100 -> 0 (flush)",
  );
  assert.equal(
    describeEvent({ id: 4, at: 0, type: "reload", ok: true, summary: "no changes" }),
    "reload ok: no changes",
  );
  assert.equal(describeEvent({ id: 5, at: 0, type: "log", level: "warn", message: "m" }), "[warn] m");
});

test("durations print as the config file writes them, not as raw milliseconds", () => {
  const cases: [number, string][] = [
    [100, "100ms"],
    [1000, "1s"],
    [1500, "1s500ms"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [0, "0s"],
  ];
  for (const [ms, want] of cases) assert.equal(duration(ms), want, String(ms));
});
