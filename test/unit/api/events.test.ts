import assert from "node:assert/strict";
import { test } from "node:test";
import { eventMatches, formatEvent, parseEventFilter, parseLastEventId } from "../../../src/api/events.ts";
import type { ControlEvent } from "../../../src/control/events.ts";

const events: Record<string, ControlEvent> = {
  tA: { id: 1, at: 0, type: "backend-transition", backend: "a", from: "up", to: "down", reason: "x" },
  tB: { id: 2, at: 0, type: "backend-transition", backend: "b", from: "down", to: "up", reason: "x" },
  fe: {
    id: 3,
    at: 0,
    type: "frontend-transition",
    frontend: "www",
    fromPool: 0,
    toPool: 1,
    fromPoolName: "main",
    toPoolName: "spare",
  },
  wA: { id: 4, at: 0, type: "weight-change", frontend: "www", backend: "a", from: 100, to: 0, flush: false },
  info: { id: 5, at: 0, type: "log", level: "info", message: "m" },
  warn: { id: 6, at: 0, type: "log", level: "warn", message: "m" },
  error: { id: 7, at: 0, type: "log", level: "error", message: "m" },
  reload: { id: 8, at: 0, type: "reload", ok: true, summary: "no changes" },
};

// query -> the events (by key) that pass
const table: [string, string[]][] = [
  ["", ["tA", "tB", "fe", "wA", "info", "warn", "error", "reload"]],
  ["type=backend-transition", ["tA", "tB"]],
  ["type=backend-transition,reload", ["tA", "tB", "reload"]],
  ["type=log&type=reload", ["info", "warn", "error", "reload"]],
  ["backend=a", ["tA", "wA"]],
  ["backend=zzz", []],
  ["frontend=www", ["fe", "wA"]],
  ["level=warn", ["tA", "tB", "fe", "wA", "warn", "error", "reload"]],
  ["level=error&type=log", ["error"]],
  ["backend=a&type=weight-change", ["wA"]],
  ["backend=a&frontend=www", ["wA"]],
];

for (const [query, expected] of table) {
  test(`event filter "${query}" passes ${expected.join(",") || "nothing"}`, () => {
    const f = parseEventFilter(new URLSearchParams(query));
    assert.ok(f.ok);
    if (!f.ok) return;
    const passed = Object.entries(events)
      .filter(([, e]) => eventMatches(e, f.filter))
      .map(([k]) => k);
    assert.deepEqual(passed, expected);
  });
}

test("event filter rejects unknown types and levels with a message naming them", () => {
  const t = parseEventFilter(new URLSearchParams("type=backend-transition,bogus"));
  assert.ok(!t.ok && /"bogus"/.test(t.message));
  const l = parseEventFilter(new URLSearchParams("level=debug"));
  assert.ok(!l.ok && /"debug"/.test(l.message));
});

test("Last-Event-ID: header wins over query, absent is 0, garbage is null", () => {
  assert.equal(parseLastEventId(undefined, null), 0);
  assert.equal(parseLastEventId("12", "3"), 12);
  assert.equal(parseLastEventId(undefined, "3"), 3);
  assert.equal(parseLastEventId("abc", null), null);
  assert.equal(parseLastEventId("-1", null), null);
  assert.equal(parseLastEventId(undefined, "1e3"), null);
});

test("an SSE message carries the bus id and the event as one JSON data line", () => {
  const text = formatEvent(events.tA);
  assert.equal(text, `id: 1\ndata: ${JSON.stringify(events.tA)}\n\n`);
});
