import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { runLodestone } from "../../helpers/lodestone-cli.ts";

/** Run `bin/lodestone ...args` to completion (bounded: killed after 20 s). */
const lodestone = (...args: string[]) => runLodestone(args, { timeoutMs: 20_000 });

interface Report {
  size: number;
  seed: number;
  backends: { name: string; weight: number; slots: number; sharePercent: number; targetPercent: number }[];
  table: number[];
}

describe("lodestone maglev", () => {
  test("prints each backend's slots and share, in the order given, and exits 0", async () => {
    const r = await lodestone(
      "maglev",
      "--backend",
      "web-1:100",
      "--backend",
      "web-2:50",
      "--backend",
      "spare:0",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, "");
    const lines = r.stdout.trim().split("\n");
    assert.equal(lines[0], "maglev table: 65537 slots, seed 0, 3 backends");
    assert.match(lines[1], /^backend\s+weight\s+slots\s+share\s+target$/);
    const rows = lines.slice(2).map((line) => line.trim().split(/\s+/));
    assert.deepEqual(
      rows.map((row) => row[0]),
      ["web-1", "web-2", "spare"],
    );
    const slots = rows.map((row) => Number(row[2]));
    assert.equal(
      slots.reduce((a, b) => a + b, 0),
      65537,
    );
    assert.equal(slots[2], 0, "weight 0 gets no slots");
    assert.ok(Math.abs(slots[0] / slots[1] - 2) < 0.02, `100:50 should give 2:1, got ${slots}`);
    assert.match(rows[0][3], /^66\.\d{3}%$/);
  });

  test("--json gives the per-backend counts and the whole table, consistent with each other", async () => {
    const r = await lodestone(
      "maglev",
      "--size",
      "251",
      "--seed",
      "9",
      "--json",
      "-b",
      "a:1",
      "-b",
      "b:2",
      "-b",
      "c:3",
    );
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.size, 251);
    assert.equal(report.seed, 9);
    assert.equal(report.table.length, 251);
    const counts = [0, 0, 0];
    for (const i of report.table) counts[i]++;
    assert.deepEqual(
      report.backends.map((b) => b.slots),
      counts,
    );
    assert.deepEqual(
      report.backends.map((b) => b.name),
      ["a", "b", "c"],
    );
  });

  test("the same backends in another order give the same name -> slot mapping", async () => {
    const [one, two] = await Promise.all([
      lodestone("maglev", "--json", "--size", "4099", "-b", "x:10", "-b", "y:20", "-b", "z:30"),
      lodestone("maglev", "--json", "--size", "4099", "-b", "z:30", "-b", "x:10", "-b", "y:20"),
    ]);
    const a = JSON.parse(one.stdout) as Report;
    const b = JSON.parse(two.stdout) as Report;
    assert.deepEqual(
      a.table.map((i) => a.backends[i].name),
      b.table.map((i) => b.backends[i].name),
    );
  });

  const bad: [string, string[], RegExp][] = [
    ["a non-prime size", ["--size", "65536", "-b", "a"], /--size 65536 is not prime \(next prime: 65537\)/],
    ["a size that is no number", ["--size", "big", "-b", "a"], /--size must be a whole number/],
    ["a weight above 100", ["-b", "a:101"], /weight must be a number from 0 to 100/],
    ["a negative weight", ["-b", "a:-5"], /weight must be a number from 0 to 100/],
    ["a weight that is no number", ["-b", "a:heavy"], /weight must be a number from 0 to 100/],
    ["duplicate names", ["-b", "a:1", "-b", "a:2"], /duplicate backend name "a"/],
    ["no backends", [], /give at least one --backend/],
    ["an empty name", ["-b", ":5"], /the name is empty/],
    [
      "a seed beyond 32 bits",
      ["-b", "a", "--seed", "4294967296"],
      /--seed must be an integer from 0 to 4294967295/,
    ],
  ];
  for (const [what, args, message] of bad) {
    test(`${what}: a clear message on stderr, exit 1, no stack trace`, async () => {
      const r = await lodestone("maglev", ...args);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^lodestone maglev: /);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    });
  }

  test("an unknown option is refused by the parser with exit 1", async () => {
    const r = await lodestone("maglev", "-b", "a", "--bogus");
    assert.equal(r.code, 1);
    assert.match(r.stderr, /unknown option '--bogus'/);
  });
});
