// `lodestone maglev --backend NAME[:WEIGHT] ... [--size M] [--seed S] [--json]`:
// build the weighted Maglev table exactly as the daemon would and show how the
// slots are shared (or, with --json, the counts and the whole table, e.g. to
// compare with another instance or the XDP map). Bad input: one line on stderr,
// exit 1, no stack trace.
import type { Command } from "commander";
import {
  buildMaglevTable,
  DEFAULT_MAGLEV_TABLE_SIZE,
  MAX_MAGLEV_TABLE_SIZE,
  maglevSlotCounts,
} from "../../balance/maglev.ts";
import { isPrime, nextPrime } from "../../balance/prime.ts";
import type { BalancerBackend } from "../../balance/types.ts";
import { LodestoneError } from "../../errors.ts";

export interface MaglevArgs {
  size?: string;
  seed?: string;
  backend?: string[];
  json?: boolean;
}

interface ParsedArgs {
  size: number;
  seed: number;
  backends: BalancerBackend[];
}

function bad(message: string): LodestoneError {
  return new LodestoneError("CLI_BAD_ARGUMENT", message);
}

/** Parse and check the raw option strings; throws CLI_BAD_ARGUMENT with a message for the user. */
export function parseMaglevArgs(args: MaglevArgs): ParsedArgs {
  let size = DEFAULT_MAGLEV_TABLE_SIZE;
  if (args.size !== undefined) {
    if (!/^\d+$/.test(args.size)) throw bad(`--size must be a whole number, got "${args.size}"`);
    size = Number(args.size);
    if (size < 2 || size > MAX_MAGLEV_TABLE_SIZE) {
      throw bad(`--size must be a prime between 2 and ${MAX_MAGLEV_TABLE_SIZE}, got ${args.size}`);
    }
    if (!isPrime(size)) throw bad(`--size ${size} is not prime (next prime: ${nextPrime(size)})`);
  }
  let seed = 0;
  if (args.seed !== undefined) {
    if (!/^\d+$/.test(args.seed) || Number(args.seed) > 0xffffffff) {
      throw bad(`--seed must be an integer from 0 to 4294967295, got "${args.seed}"`);
    }
    seed = Number(args.seed);
  }
  const specs = args.backend ?? [];
  if (specs.length === 0) throw bad("give at least one --backend NAME[:WEIGHT]");
  const backends: BalancerBackend[] = [];
  const seen = new Set<string>();
  for (const spec of specs) {
    const colon = spec.lastIndexOf(":");
    const name = colon < 0 ? spec : spec.slice(0, colon);
    const weightText = colon < 0 ? "100" : spec.slice(colon + 1);
    if (name === "") throw bad(`--backend "${spec}": the name is empty`);
    if (!/^\d+(\.\d+)?$/.test(weightText) || Number(weightText) > 100) {
      throw bad(`--backend "${spec}": weight must be a number from 0 to 100, got "${weightText}"`);
    }
    if (seen.has(name)) throw bad(`--backend "${spec}": duplicate backend name "${name}"`);
    seen.add(name);
    backends.push({ name, weight: Number(weightText) });
  }
  return { size, seed, backends };
}

export interface MaglevReport {
  size: number;
  seed: number;
  backends: { name: string; weight: number; slots: number; sharePercent: number; targetPercent: number }[];
  /** slot -> index into `backends` (-1 only when every weight is 0). */
  table: number[];
}

export function maglevReport(parsed: ParsedArgs): MaglevReport {
  const table = buildMaglevTable(parsed.backends, parsed.size, parsed.seed);
  const counts = maglevSlotCounts(table, parsed.backends.length);
  const totalWeight = parsed.backends.reduce((sum, b) => sum + b.weight, 0);
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    size: parsed.size,
    seed: parsed.seed,
    backends: parsed.backends.map((b, i) => ({
      name: b.name,
      weight: b.weight,
      slots: counts[i],
      sharePercent: round((100 * counts[i]) / parsed.size),
      targetPercent: totalWeight > 0 ? round((100 * b.weight) / totalWeight) : 0,
    })),
    table: Array.from(table),
  };
}

export function formatReport(report: MaglevReport): string {
  const rows = [
    ["backend", "weight", "slots", "share", "target"],
    ...report.backends.map((b) => [
      b.name,
      String(b.weight),
      String(b.slots),
      `${b.sharePercent.toFixed(3)}%`,
      `${b.targetPercent.toFixed(3)}%`,
    ]),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) =>
    r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "),
  );
  const header = `maglev table: ${report.size} slots, seed ${report.seed}, ${report.backends.length} backend${report.backends.length === 1 ? "" : "s"}`;
  const empty =
    report.table.length > 0 && report.table[0] < 0 ? ["every weight is 0: all slots are empty (-1)"] : [];
  return [header, ...lines, ...empty].join("\n") + "\n";
}

/** Runs the command; returns the exit code. Output goes to the given writers. */
export function runMaglev(
  args: MaglevArgs,
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): number {
  try {
    const report = maglevReport(parseMaglevArgs(args));
    out(args.json ? `${JSON.stringify(report)}\n` : formatReport(report));
    return 0;
  } catch (e) {
    if (e instanceof LodestoneError) {
      err(`lodestone maglev: ${e.message}\n`);
      return 1;
    }
    err(`lodestone maglev: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    return 3;
  }
}

export function register(program: Command): void {
  program
    .command("maglev")
    .description("Build a weighted Maglev table and show each backend's slots and share")
    .option(
      "-b, --backend <name[:weight]>",
      "a backend and its weight 0-100 (default 100); repeat for each backend",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option("-s, --size <m>", `table size, a prime (default ${DEFAULT_MAGLEV_TABLE_SIZE})`)
    .option("--seed <s>", "hash seed, 0 to 4294967295 (default 0)")
    .option("--json", "print the per-backend counts and the whole table as JSON")
    .action((options: MaglevArgs) => {
      process.exitCode = runMaglev(options);
    });
}
