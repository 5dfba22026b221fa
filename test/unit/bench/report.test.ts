import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type ContenderResult,
  formatCount,
  formatLatency,
  formatSpread,
  GOALS,
  judgeGoal,
  type RoundResult,
  ratiosAgainst,
  renderMarkdown,
  roundFromWrk,
  type ScenarioResult,
  summarize,
} from "../../../bench/harness/report.ts";
import { SCENARIOS, type Scenario } from "../../../bench/harness/scenarios.ts";

const scenario = (name: string): Scenario => SCENARIOS.find((s) => s.name === name)!;

function round(rps: number, p99Us: number, cpuSeconds = 1, durationSec = 10): RoundResult {
  return roundFromWrk(
    {
      durationSec,
      requests: rps * durationSec,
      bytes: rps * durationSec * 200,
      errors: { connect: 0, read: 1, write: 0, timeout: 0, status: 2 },
      latencyUs: { p50: p99Us / 4, p90: p99Us / 2, p99: p99Us, max: p99Us * 2 },
    },
    cpuSeconds,
  );
}

function ok(name: string, rounds: RoundResult[]): ContenderResult {
  return { name, outcome: { status: "ok", rounds, summary: summarize(rounds) } };
}

test("roundFromWrk derives req/s, MB/s and keeps latencies and errors", () => {
  const r = round(1000, 800, 2, 10);
  assert.equal(r.requests, 10_000);
  assert.equal(r.rps, 1000);
  assert.equal(r.mbps, 0.2);
  assert.equal(r.p99Us, 800);
  assert.equal(r.p50Us, 200);
  assert.equal(r.cpuSeconds, 2);
});

test("summarize takes medians across rounds and totals the errors", () => {
  const s = summarize([round(100, 900, 1), round(300, 100, 1), round(200, 500, 1)]);
  assert.equal(s.rounds, 3);
  assert.equal(s.rps, 200);
  assert.equal(s.rpsSpread, 0.5); // (300 - 100) / 2 / 200
  assert.equal(s.p99Us, 500);
  assert.equal(s.requests, 6000);
  assert.equal(s.socketErrors, 3);
  assert.equal(s.non2xx, 6);
  // CPU per 1k requests: 1 s over 1000, 3000 and 2000 requests -> median of 1, 0.333, 0.5.
  assert.equal(s.cpuPer1k, 0.5);
});

test("ratios compare lodestone's headline and p99 with a peer's; n/a when either side is n/a", () => {
  const r: ScenarioResult = {
    scenario: scenario("l7-keepalive"),
    contenders: [
      ok("haproxy", [round(1000, 1000)]),
      ok("lodestone", [round(850, 1500)]),
      { name: "nginx", outcome: { status: "n/a", reason: "x", rounds: [] } },
    ],
  };
  const q = ratiosAgainst(r, "haproxy");
  assert.equal(q.throughput, 0.85);
  assert.equal(q.p99, 1.5);
  assert.ok(Number.isNaN(ratiosAgainst(r, "nginx").throughput));
});

test("the 1 MiB scenario's ratio is on MB/s", () => {
  const big = (mbps: number): RoundResult => ({ ...round(100, 1000), mbps });
  const r: ScenarioResult = {
    scenario: scenario("l7-1mib"),
    contenders: [ok("haproxy", [big(1000)]), ok("lodestone", [big(500)])],
  };
  assert.equal(ratiosAgainst(r, "haproxy").throughput, 0.5);
});

test("goals: truth table of throughput and p99 against HAProxy", () => {
  const goal = GOALS.find((g) => g.scenario === "l7-keepalive")!;
  const cases: [number, number, "met" | "missed"][] = [
    [800, 2000, "met"], // exactly 0.8x and exactly 2x
    [1200, 500, "met"],
    [799, 1000, "missed"], // too slow
    [1000, 2001, "missed"], // p99 too high
    [500, 5000, "missed"],
  ];
  for (const [rps, p99, want] of cases) {
    const r: ScenarioResult = {
      scenario: scenario("l7-keepalive"),
      contenders: [ok("haproxy", [round(1000, 1000)]), ok("lodestone", [round(rps, p99)])],
    };
    assert.equal(judgeGoal(goal, [r]).verdict, want, `${rps} req/s, p99 ${p99}`);
  }
  const l4 = GOALS.find((g) => g.scenario === "l4-keepalive")!;
  const slowTail: ScenarioResult = {
    scenario: scenario("l4-keepalive"),
    contenders: [ok("haproxy", [round(1000, 1000)]), ok("lodestone", [round(900, 9000)])],
  };
  assert.equal(judgeGoal(l4, [slowTail]).verdict, "met", "L4 goals have no p99 bound");
  const na: ScenarioResult = {
    scenario: scenario("l4-keepalive"),
    contenders: [
      ok("haproxy", [round(1000, 1000)]),
      { name: "lodestone", outcome: { status: "n/a", reason: "r", rounds: [] } },
    ],
  };
  assert.equal(judgeGoal(l4, [na]).verdict, "n/a");
  assert.equal(judgeGoal(l4, []).verdict, "n/a");
});

test("Markdown: one row per contender, ratios on lodestone's row, numbered n/a reasons, goals", () => {
  const results: ScenarioResult[] = [
    {
      scenario: scenario("l7-keepalive"),
      contenders: [
        ok("haproxy", [round(40000, 1000)]),
        ok("nginx", [round(50000, 900)]),
        ok("lodestone", [round(30000, 2500)]),
      ],
    },
    {
      scenario: scenario("l4-keepalive"),
      contenders: [
        ok("haproxy", [round(60000, 700)]),
        ok("nginx", [round(60000, 700)]),
        {
          name: "lodestone",
          outcome: { status: "n/a", reason: "did not start: | pipe\nnewline", rounds: [] },
        },
      ],
    },
  ];
  const md = renderMarkdown(results);
  const rows = md.split("\n").filter((l) => l.startsWith("| l"));
  assert.equal(rows.length, 6);
  assert.match(rows[2], /^\| l7-keepalive \| lodestone \| 30,000 \|.*\| 0\.75x \| 0\.60x \|$/);
  assert.match(rows[0], /\| 40,000 \| 8\.0 \| 250 µs \| 1\.00 ms \| 1 \/ 2 \|/);
  assert.match(rows[5], /^\| l4-keepalive \| lodestone \| n\/a \[1\] \|/);
  assert.match(md, /^\[1\] l4-keepalive \/ lodestone: did not start: \/ pipe newline/m);
  assert.match(md, /L7 keep-alive.*\| missed \| 0\.75x throughput, 2\.50x p99 \|/);
  assert.match(md, /L4 TCP keep-alive.*\| n\/a \|/);
  assert.doesNotMatch(md, /connection rate/, "goals of scenarios not run are left out");
});

test("the req/s cell shows the spread of the rounds when there is one", () => {
  const r: ScenarioResult = {
    scenario: scenario("l7-keepalive"),
    contenders: [ok("haproxy", [round(900, 1000), round(1000, 1000), round(1100, 1000)])],
  };
  assert.match(renderMarkdown([r]), /^\| l7-keepalive \| haproxy \| 1,000 ±10% \|/m);
  assert.equal(formatSpread(0), "");
  assert.equal(formatSpread(Number.NaN), "");
});

test("latency and count formatting", () => {
  assert.equal(formatLatency(523.4), "523 µs");
  assert.equal(formatLatency(1234), "1.23 ms");
  assert.equal(formatLatency(2_500_000), "2.50 s");
  assert.equal(formatLatency(Number.NaN), "n/a");
  assert.equal(formatCount(12345.6), "12,346");
  assert.equal(formatCount(Number.NaN), "n/a");
});
