import assert from "node:assert/strict";
import { test } from "node:test";
import { formatDuration, MAX_DURATION_MS, parseDuration } from "../../../src/config/duration.ts";

test("parseDuration converts each unit and descending combinations to milliseconds", () => {
  const table: [string, number][] = [
    ["0s", 0],
    ["0ms", 0],
    ["1ms", 1],
    ["250ms", 250],
    ["2s", 2000],
    ["1.5s", 1500],
    ["1m", 60_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1h15m", 4_500_000],
    ["1h2m3s4ms", 3_723_004],
    ["2s500ms", 2500],
    [" 3s ", 3000],
    ["0.0004s", 0],
    ["0.0006s", 1],
  ];
  for (const [input, ms] of table) {
    assert.deepEqual(parseDuration(input), { ok: true, ms }, input);
  }
});

test("parseDuration refuses bare numbers with a hint to add a unit", () => {
  for (const input of ["2", "0", "1.5", "250"]) {
    const r = parseDuration(input);
    assert.equal(r.ok, false, input);
    if (!r.ok) assert.match(r.message, /use a unit, e\.g\. /, input);
  }
});

test("parseDuration refuses malformed, unordered, repeated and too long durations", () => {
  const table: [string, RegExp][] = [
    ["", /empty/],
    ["2x", /not a duration/],
    ["s", /not a duration/],
    ["2 s", /not a duration/],
    ["-1s", /not a duration/],
    ["1d", /not a duration/],
    ["30s1m", /largest first/],
    ["1s1s", /largest first/],
    ["1ms1s", /largest first/],
    ["1.s", /not a duration/],
    ["600h", /too long/],
  ];
  for (const [input, message] of table) {
    const r = parseDuration(input);
    assert.equal(r.ok, false, input);
    if (!r.ok) assert.match(r.message, message, input);
  }
});

test("the longest accepted duration is Node's timer limit", () => {
  assert.deepEqual(parseDuration(`${MAX_DURATION_MS}ms`), { ok: true, ms: MAX_DURATION_MS });
  assert.equal(parseDuration(`${MAX_DURATION_MS + 1}ms`).ok, false);
});

test("formatDuration writes the shortest combination and round-trips through parseDuration", () => {
  const table: [number, string][] = [
    [0, "0s"],
    [1, "1ms"],
    [1000, "1s"],
    [1500, "1s500ms"],
    [90_000, "1m30s"],
    [3_600_000, "1h"],
    [3_723_004, "1h2m3s4ms"],
  ];
  for (const [ms, text] of table) {
    assert.equal(formatDuration(ms), text);
    assert.deepEqual(parseDuration(text), { ok: true, ms });
  }
});
