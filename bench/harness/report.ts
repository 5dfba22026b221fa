// Turning wrk rounds into the numbers we publish: per-round figures, medians across
// rounds, ratios against the peers measured in the same run, the project's goals, and
// the Markdown table. Pure.
import type { Scenario } from "./scenarios.ts";
import { cpuPerThousand, formatRatio, median, ratio } from "./stats.ts";
import type { WrkErrors, WrkResult } from "./wrk-output.ts";
import { socketErrors } from "./wrk-output.ts";

export interface RoundResult {
  requests: number;
  durationSec: number;
  bytes: number;
  rps: number;
  /** Response bytes per second / 1e6 (as read by wrk, headers included). */
  mbps: number;
  p50Us: number;
  p99Us: number;
  errors: WrkErrors;
  /** utime+stime of the contender's process tree during the run; NaN when unknown. */
  cpuSeconds: number;
}

export interface Summary {
  rounds: number;
  /** Medians across rounds. */
  rps: number;
  /** Half the range of req/s across rounds, relative to the median (0.05 = ±5%): how noisy the rounds were. */
  rpsSpread: number;
  mbps: number;
  p50Us: number;
  p99Us: number;
  cpuPer1k: number;
  /** Totals across rounds. */
  requests: number;
  socketErrors: number;
  non2xx: number;
}

export type Outcome =
  | { status: "ok"; rounds: RoundResult[]; summary: Summary }
  | { status: "n/a"; reason: string; rounds: RoundResult[] };

export interface ContenderResult {
  /** "haproxy", "nginx", "lodestone", or "direct" for the no-proxy baseline. */
  name: string;
  outcome: Outcome;
}

export interface ScenarioResult {
  scenario: Scenario;
  contenders: ContenderResult[];
}

export function roundFromWrk(w: WrkResult, cpuSeconds: number): RoundResult {
  const d = w.durationSec > 0 ? w.durationSec : Number.NaN;
  return {
    requests: w.requests,
    durationSec: w.durationSec,
    bytes: w.bytes,
    rps: w.requests / d,
    mbps: w.bytes / d / 1e6,
    p50Us: w.latencyUs.p50,
    p99Us: w.latencyUs.p99,
    errors: w.errors,
    cpuSeconds,
  };
}

export function summarize(rounds: readonly RoundResult[]): Summary {
  return {
    rounds: rounds.length,
    rps: median(rounds.map((r) => r.rps)),
    rpsSpread: spread(rounds.map((r) => r.rps)),
    mbps: median(rounds.map((r) => r.mbps)),
    p50Us: median(rounds.map((r) => r.p50Us)),
    p99Us: median(rounds.map((r) => r.p99Us)),
    cpuPer1k: median(rounds.map((r) => cpuPerThousand(r.cpuSeconds, r.requests))),
    requests: rounds.reduce((a, r) => a + r.requests, 0),
    socketErrors: rounds.reduce((a, r) => a + socketErrors(r.errors), 0),
    non2xx: rounds.reduce((a, r) => a + r.errors.status, 0),
  };
}

function spread(xs: readonly number[]): number {
  const ys = xs.filter((x) => Number.isFinite(x));
  const m = median(ys);
  if (ys.length === 0 || !(m > 0)) return Number.NaN;
  return (Math.max(...ys) - Math.min(...ys)) / 2 / m;
}

/** The scenario's headline number for one outcome; NaN when n/a. */
export function headline(s: Scenario, o: Outcome): number {
  if (o.status !== "ok") return Number.NaN;
  return s.metric === "mbps" ? o.summary.mbps : o.summary.rps;
}

function outcomeOf(r: ScenarioResult, name: string): Outcome | undefined {
  return r.contenders.find((c) => c.name === name)?.outcome;
}

export interface Ratios {
  /** lodestone's headline / the peer's headline. */
  throughput: number;
  /** lodestone's median p99 / the peer's. */
  p99: number;
}

/** lodestone against a peer in one scenario; NaN parts where either side is n/a. */
export function ratiosAgainst(r: ScenarioResult, peer: string): Ratios {
  const lo = outcomeOf(r, "lodestone");
  const pe = outcomeOf(r, peer);
  if (!lo || !pe || lo.status !== "ok" || pe.status !== "ok") {
    return { throughput: Number.NaN, p99: Number.NaN };
  }
  return {
    throughput: ratio(headline(r.scenario, lo), headline(r.scenario, pe)),
    p99: ratio(lo.summary.p99Us, pe.summary.p99Us),
  };
}

export interface Goal {
  scenario: string;
  text: string;
  minThroughputVsHaproxy: number;
  /** Upper bound on lodestone p99 / HAProxy p99, when the goal has one. */
  maxP99VsHaproxy?: number;
}

/** The project's performance goals (BENCHMARKS.md), at equal worker counts. */
export const GOALS: readonly Goal[] = [
  {
    scenario: "l7-keepalive",
    text: "L7 keep-alive: >= 0.8x HAProxy req/s, p99 <= 2x HAProxy",
    minThroughputVsHaproxy: 0.8,
    maxP99VsHaproxy: 2,
  },
  { scenario: "l4-keepalive", text: "L4 TCP keep-alive: >= 0.8x HAProxy req/s", minThroughputVsHaproxy: 0.8 },
  {
    scenario: "l4-connrate",
    text: "L4 TCP connection rate: >= 0.8x HAProxy req/s",
    minThroughputVsHaproxy: 0.8,
  },
];

export type Verdict = "met" | "missed" | "n/a";

export function judgeGoal(g: Goal, results: readonly ScenarioResult[]): { verdict: Verdict; detail: string } {
  const r = results.find((x) => x.scenario.name === g.scenario);
  if (!r) return { verdict: "n/a", detail: "scenario not run" };
  const q = ratiosAgainst(r, "haproxy");
  if (!Number.isFinite(q.throughput)) return { verdict: "n/a", detail: "lodestone or HAProxy has no result" };
  const parts = [`${formatRatio(q.throughput)} throughput`];
  let ok = q.throughput >= g.minThroughputVsHaproxy;
  if (g.maxP99VsHaproxy !== undefined) {
    parts.push(`${formatRatio(q.p99)} p99`);
    ok = ok && Number.isFinite(q.p99) && q.p99 <= g.maxP99VsHaproxy;
  }
  return { verdict: ok ? "met" : "missed", detail: parts.join(", ") };
}

/** 523 -> "523 µs", 1234 -> "1.23 ms", 2500000 -> "2.50 s". */
export function formatLatency(us: number): string {
  if (!Number.isFinite(us)) return "n/a";
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1e6) return `${(us / 1000).toFixed(2)} ms`;
  return `${(us / 1e6).toFixed(2)} s`;
}

/** 12345.6 -> "12,346". */
export function formatCount(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  return Math.round(n).toLocaleString("en-US");
}

/** " ±12%" for the req/s cell; nothing for a single round. */
export function formatSpread(x: number): string {
  return Number.isFinite(x) && x > 0 ? ` ±${Math.round(x * 100)}%` : "";
}

function formatFixed(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : "n/a";
}

const HEADER =
  "| Scenario | Contender | req/s | MB/s | p50 | p99 | socket err / non-2xx | CPU s per 1k req | vs HAProxy | vs NGINX |";
const RULE = "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|";

/** The results table plus numbered notes for every n/a, and the goals. */
export function renderMarkdown(results: readonly ScenarioResult[]): string {
  const rows: string[] = [HEADER, RULE];
  const notes: string[] = [];
  for (const r of results) {
    for (const c of r.contenders) {
      const o = c.outcome;
      if (o.status !== "ok") {
        notes.push(`${r.scenario.name} / ${c.name}: ${oneLine(o.reason)}`);
        rows.push(`| ${r.scenario.name} | ${c.name} | n/a [${notes.length}] | | | | | | | |`);
        continue;
      }
      const s = o.summary;
      const vs = (peer: string): string =>
        c.name === "lodestone" ? formatRatio(ratiosAgainst(r, peer).throughput) : "";
      rows.push(
        `| ${r.scenario.name} | ${c.name} | ${formatCount(s.rps)}${formatSpread(s.rpsSpread)} | ${formatFixed(s.mbps, 1)} | ${formatLatency(s.p50Us)} | ${formatLatency(s.p99Us)} | ${s.socketErrors} / ${s.non2xx} | ${formatFixed(s.cpuPer1k, 4)} | ${vs("haproxy")} | ${vs("nginx")} |`,
      );
    }
  }
  const out = [rows.join("\n")];
  if (notes.length > 0) out.push(notes.map((n, i) => `[${i + 1}] ${n}`).join("  \n"));
  const goals = GOALS.filter((g) => results.some((r) => r.scenario.name === g.scenario)).map((g) => {
    const j = judgeGoal(g, results);
    return `| ${g.text} | ${j.verdict} | ${j.detail} |`;
  });
  if (goals.length > 0)
    out.push(["| Goal | Verdict | lodestone / HAProxy |", "|---|---|---|", ...goals].join("\n"));
  return `${out.join("\n\n")}\n`;
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, " ").replace(/\|/g, "/").trim();
  return flat.length > 300 ? `${flat.slice(0, 297)}...` : flat;
}
