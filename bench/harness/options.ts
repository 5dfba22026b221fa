// Command-line options of `npm run bench`, parsed and checked without side effects.
import { parseArgs } from "node:util";
import { LodestoneError } from "../../src/errors.ts";
import type { Scenario } from "./scenarios.ts";

export const CONTENDER_NAMES = ["haproxy", "nginx", "lodestone"] as const;
export type ContenderName = (typeof CONTENDER_NAMES)[number];

export interface BenchOptions {
  quick: boolean;
  scenarios: Scenario[];
  contenders: ContenderName[];
  /** Worker processes / threads for every contender. */
  workers: number;
  /** Measured rounds per contender per scenario (a warm-up run comes first and is discarded). */
  rounds: number;
  /** Seconds per measured wrk run. */
  durationSec: number;
  /** Seconds of the discarded warm-up run. */
  warmupSec: number;
  /** Also measure wrk straight against a backend, to show where the backends' ceiling is. */
  baseline: boolean;
  /** Where the JSON goes; default bench/results/<timestamp>.json. */
  jsonPath?: string;
  help: boolean;
}

export const USAGE = `Usage: npm run bench -- [options]

Runs HAProxy, NGINX and lodestone side by side on loopback against the same NGINX
backends, with wrk as the load, and prints a Markdown table (JSON in bench/results/).

  --quick              short runs (finishes in under 2 minutes)
  --scenario NAME      only this scenario (repeatable, or comma-separated)
  --contender NAME     only this contender: haproxy, nginx, lodestone (repeatable)
  --workers N          worker processes/threads for every contender (default 1)
  --rounds N           measured rounds per contender per scenario (default 3)
  --duration SEC       whole seconds per measured run (default 10, quick 1)
  --warmup SEC         whole seconds of the discarded warm-up run (default 3, quick 1)
  --baseline           also run wrk directly against a backend (default on, off with --quick)
  --no-baseline        never run the direct baseline
  --json PATH          write the JSON result here
  -h, --help           this text

Scenarios: `;

/** Parses argv (without node and script); throws LodestoneError BENCH_USAGE on bad input. */
export function parseBenchArgs(argv: readonly string[], all: readonly Scenario[]): BenchOptions {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new LodestoneError("BENCH_USAGE", (err as Error).message, { cause: err });
  }
  const v = parsed.values;
  const quick = v.quick === true;

  const wanted = (v.scenario ?? [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = wanted.filter((w) => !all.some((s) => s.name === w));
  if (unknown.length > 0) {
    throw new LodestoneError(
      "BENCH_USAGE",
      `unknown scenario ${unknown.map((u) => `"${u}"`).join(", ")}; known: ${all.map((s) => s.name).join(", ")}`,
    );
  }
  const scenarios = wanted.length > 0 ? all.filter((s) => wanted.includes(s.name)) : [...all];

  const names = (v.contender ?? [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names) {
    if (!(CONTENDER_NAMES as readonly string[]).includes(n)) {
      throw new LodestoneError(
        "BENCH_USAGE",
        `unknown contender "${n}"; known: ${CONTENDER_NAMES.join(", ")}`,
      );
    }
  }
  const contenders =
    names.length > 0 ? CONTENDER_NAMES.filter((c) => names.includes(c)) : [...CONTENDER_NAMES];

  const workers = positiveInt(v.workers, 1, "--workers");
  if (workers > 64) throw new LodestoneError("BENCH_USAGE", "--workers must be at most 64");
  const rounds = positiveInt(v.rounds, 3, "--rounds");
  // wrk takes whole seconds only.
  const durationSec = positiveInt(v.duration, quick ? 1 : 10, "--duration");
  const warmupSec = positiveInt(v.warmup, quick ? 1 : 3, "--warmup");
  if (durationSec > 600 || warmupSec > 600) {
    throw new LodestoneError("BENCH_USAGE", "--duration and --warmup must be at most 600 seconds");
  }
  const baseline = v["no-baseline"] === true ? false : v.baseline === true ? true : !quick;

  return {
    quick,
    scenarios,
    contenders,
    workers,
    rounds,
    durationSec,
    warmupSec,
    baseline,
    jsonPath: v.json,
    help: v.help === true,
  };
}

function parse(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      quick: { type: "boolean" },
      scenario: { type: "string", multiple: true },
      contender: { type: "string", multiple: true },
      workers: { type: "string" },
      rounds: { type: "string" },
      duration: { type: "string" },
      warmup: { type: "string" },
      baseline: { type: "boolean" },
      "no-baseline": { type: "boolean" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

function positiveInt(raw: string | undefined, dflt: number, flag: string): number {
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new LodestoneError("BENCH_USAGE", `${flag} must be a positive integer, got "${raw}"`);
  }
  return Number(raw);
}
