import assert from "node:assert/strict";
import { test } from "node:test";
import { parseBenchArgs } from "../../../bench/harness/options.ts";
import { SCENARIOS } from "../../../bench/harness/scenarios.ts";
import { LodestoneError } from "../../../src/errors.ts";

const isUsage = (err: unknown) => err instanceof LodestoneError && err.code === "BENCH_USAGE";

test("defaults: every scenario and contender, 1 worker, 3 rounds of 10 s, baseline on", () => {
  const o = parseBenchArgs([], SCENARIOS);
  assert.deepEqual(
    o.scenarios.map((s) => s.name),
    SCENARIOS.map((s) => s.name),
  );
  assert.deepEqual(o.contenders, ["haproxy", "nginx", "lodestone"]);
  assert.equal(o.workers, 1);
  assert.equal(o.rounds, 3);
  assert.equal(o.durationSec, 10);
  assert.equal(o.warmupSec, 3);
  assert.equal(o.baseline, true);
  assert.equal(o.quick, false);
});

test("--quick shortens runs but keeps 3 rounds and all three contenders, and drops the baseline", () => {
  const o = parseBenchArgs(["--quick"], SCENARIOS);
  assert.equal(o.quick, true);
  assert.equal(o.rounds, 3);
  assert.equal(o.durationSec, 1);
  assert.equal(o.warmupSec, 1);
  assert.equal(o.contenders.length, 3);
  assert.equal(o.baseline, false);
  assert.equal(parseBenchArgs(["--quick", "--baseline"], SCENARIOS).baseline, true);
  assert.equal(parseBenchArgs(["--no-baseline"], SCENARIOS).baseline, false);
});

test("--scenario selects by name, repeated or comma-separated, in the table's order", () => {
  const o = parseBenchArgs(["--scenario", "l4-connrate", "--scenario", "l7-newconn,l7-keepalive"], SCENARIOS);
  assert.deepEqual(
    o.scenarios.map((s) => s.name),
    ["l7-keepalive", "l7-newconn", "l4-connrate"],
  );
});

test("--workers, --rounds, --duration, --warmup, --contender and --json are taken as given", () => {
  const o = parseBenchArgs(
    [
      "--workers",
      "2",
      "--rounds",
      "5",
      "--duration",
      "4",
      "--warmup",
      "2",
      "--contender",
      "lodestone,haproxy",
      "--json",
      "/tmp/x.json",
    ],
    SCENARIOS,
  );
  assert.equal(o.workers, 2);
  assert.equal(o.rounds, 5);
  assert.equal(o.durationSec, 4);
  assert.equal(o.warmupSec, 2);
  assert.deepEqual(o.contenders, ["haproxy", "lodestone"]);
  assert.equal(o.jsonPath, "/tmp/x.json");
});

test("bad input is a BENCH_USAGE error naming the problem", () => {
  const bad: [string[], RegExp][] = [
    [["--scenario", "nope"], /unknown scenario "nope"/],
    [["--contender", "envoy"], /unknown contender "envoy"/],
    [["--workers", "0"], /--workers/],
    [["--workers", "two"], /--workers/],
    [["--workers", "65"], /--workers/],
    [["--duration", "1.5"], /--duration/],
    [["--rounds", "-1"], /./],
    [["--duration", "601"], /at most 600/],
    [["--frobnicate"], /frobnicate/],
    [["stray"], /stray/],
  ];
  for (const [argv, msg] of bad) {
    assert.throws(
      () => parseBenchArgs(argv, SCENARIOS),
      (err: unknown) => isUsage(err) && msg.test((err as Error).message),
      argv.join(" "),
    );
  }
});
