import assert from "node:assert/strict";
import { test } from "node:test";
import { cpuPerThousand, formatRatio, median, percentile, ratio } from "../../../bench/harness/stats.ts";

test("median: odd, even, unsorted, single, empty and non-finite inputs", () => {
  const cases: [number[], number][] = [
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[10], 10],
    [[5, Number.NaN, 1, 3], 3],
    [[2, Number.POSITIVE_INFINITY, 4], 3],
  ];
  for (const [xs, want] of cases) assert.equal(median(xs), want, `median(${xs})`);
  assert.ok(Number.isNaN(median([])));
  assert.ok(Number.isNaN(median([Number.NaN])));
});

test("median does not reorder the caller's array", () => {
  const xs = [3, 1, 2];
  median(xs);
  assert.deepEqual(xs, [3, 1, 2]);
});

test("percentile interpolates between closest ranks", () => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile(xs, 100), 10);
  assert.equal(percentile(xs, 50), 5.5);
  assert.ok(Math.abs(percentile(xs, 99) - 9.91) < 1e-9);
  assert.equal(percentile([7], 99), 7);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.throws(() => percentile(xs, 101), RangeError);
  assert.throws(() => percentile(xs, -1), RangeError);
});

test("ratio is NaN when either side is missing or the denominator is not positive", () => {
  assert.equal(ratio(80, 100), 0.8);
  assert.ok(Number.isNaN(ratio(80, 0)));
  assert.ok(Number.isNaN(ratio(80, -1)));
  assert.ok(Number.isNaN(ratio(Number.NaN, 100)));
  assert.ok(Number.isNaN(ratio(80, Number.NaN)));
});

test("formatRatio prints two decimals and an x, or n/a", () => {
  assert.equal(formatRatio(0.8234), "0.82x");
  assert.equal(formatRatio(1), "1.00x");
  assert.equal(formatRatio(Number.NaN), "n/a");
});

test("cpuPerThousand scales CPU seconds to 1,000 requests and refuses empty runs", () => {
  assert.equal(cpuPerThousand(2, 100_000), 0.02);
  assert.ok(Number.isNaN(cpuPerThousand(2, 0)));
  assert.ok(Number.isNaN(cpuPerThousand(Number.NaN, 10)));
});
