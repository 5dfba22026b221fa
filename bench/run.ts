// `npm run bench`: HAProxy, NGINX and lodestone side by side on loopback, same NGINX
// backends, wrk as the load. Interleaved rounds (A, B, C, A, B, C, ...) after a discarded
// warm-up; medians, ratios against the peers, a Markdown table on stdout and a JSON file
// in bench/results/. A contender that cannot start or serve a scenario is recorded as n/a
// with the reason, and the run carries on. Every process it starts is stopped at the end,
// on errors and on Ctrl-C.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LodestoneError } from "../src/errors.ts";
import { findExecutable, HOST, REPO_ROOT, startBackends, startContender } from "./harness/contenders.ts";
import { probe, runWrk } from "./harness/load.ts";
import { lodestoneRevision, machineInfo } from "./harness/machine.ts";
import { type BenchOptions, parseBenchArgs, USAGE } from "./harness/options.ts";
import {
  installCleanupHandlers,
  type Managed,
  stopAll,
  stopProcess,
  treeCpuSeconds,
} from "./harness/processes.ts";
import {
  type ContenderResult,
  formatLatency,
  GOALS,
  judgeGoal,
  type RoundResult,
  renderMarkdown,
  roundFromWrk,
  type ScenarioResult,
  summarize,
} from "./harness/report.ts";
import { expectedBodyBytes, SCENARIOS, type Scenario } from "./harness/scenarios.ts";
import { WRK_REPORT_LUA } from "./harness/wrk-output.ts";

/** Backend NGINX workers: one, so the two cores stay for wrk and the contender. */
const BACKEND_WORKERS = 1;

interface Entry {
  name: string;
  url: string;
  proc: Managed | null;
  rounds: RoundResult[];
  failed: string | null;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

function reasonOf(err: unknown): string {
  if (err instanceof LodestoneError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

async function runScenario(
  s: Scenario,
  opts: BenchOptions,
  backendPorts: number[],
  workDir: string,
  wrk: string,
  luaPath: string,
): Promise<ScenarioResult> {
  log(`\n== ${s.name}: ${s.title}`);
  const entries: Entry[] = opts.contenders.map((name) => ({
    name,
    url: "",
    proc: null,
    rounds: [],
    failed: null,
  }));
  await Promise.all(
    entries.map(async (e) => {
      try {
        const st = await startContender(
          e.name as (typeof opts.contenders)[number],
          { mode: s.mode, host: HOST, backendPorts, workers: opts.workers },
          workDir,
          // Keeps --quick under 2 minutes even when a contender never listens.
          opts.quick ? 8_000 : 15_000,
        );
        e.proc = st.process;
        e.url = `http://${HOST}:${st.port}${s.path}`;
      } catch (err) {
        e.failed = `did not start: ${reasonOf(err)}`;
      }
    }),
  );
  if (opts.baseline) {
    entries.push({
      name: "direct",
      url: `http://${HOST}:${backendPorts[0]}${s.path}`,
      proc: null,
      rounds: [],
      failed: null,
    });
  }
  const live = () => entries.filter((e) => e.failed === null);

  for (const e of live()) {
    const bad = await probe(e.url, expectedBodyBytes(s.path));
    if (bad) e.failed = `probe failed: ${bad}`;
  }

  const wrkRun = (e: Entry, durationSec: number) =>
    runWrk({
      wrk,
      url: e.url,
      threads: s.threads,
      connections: s.connections,
      durationSec,
      connectionClose: s.connectionClose,
      luaPath,
    });

  for (const e of live()) {
    try {
      const w = await wrkRun(e, opts.warmupSec);
      if (w.requests - w.errors.status <= 0) e.failed = "warm-up: no successful responses";
    } catch (err) {
      e.failed = `warm-up: ${reasonOf(err)}`;
    }
    if (e.failed === null && e.proc && !e.proc.alive()) e.failed = `${e.name} exited during warm-up`;
  }

  for (let round = 1; round <= opts.rounds; round++) {
    for (const e of live()) {
      try {
        const before = e.proc ? treeCpuSeconds(e.proc.pid) : Number.NaN;
        const w = await wrkRun(e, opts.durationSec);
        const after = e.proc ? treeCpuSeconds(e.proc.pid) : Number.NaN;
        const r = roundFromWrk(w, after - before);
        e.rounds.push(r);
        log(
          `  round ${round}/${opts.rounds} ${e.name.padEnd(9)} ${Math.round(r.rps).toString().padStart(7)} req/s ${r.mbps.toFixed(1).padStart(7)} MB/s  p50 ${formatLatency(r.p50Us)}  p99 ${formatLatency(r.p99Us)}`,
        );
        if (w.requests - w.errors.status <= 0) e.failed = `round ${round}: no successful responses`;
      } catch (err) {
        e.failed = `round ${round}: ${reasonOf(err)}`;
      }
      if (e.failed === null && e.proc && !e.proc.alive()) e.failed = `${e.name} exited during round ${round}`;
    }
  }

  await Promise.all(entries.map((e) => (e.proc ? stopProcess(e.proc) : Promise.resolve())));
  const contenders: ContenderResult[] = entries.map((e) => {
    if (e.failed !== null) {
      log(`  ${e.name}: n/a (${e.failed})`);
      return { name: e.name, outcome: { status: "n/a", reason: e.failed, rounds: e.rounds } };
    }
    return { name: e.name, outcome: { status: "ok", rounds: e.rounds, summary: summarize(e.rounds) } };
  });
  return { scenario: s, contenders };
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  const scenarioList = SCENARIOS.map((s) => `  ${s.name.padEnd(14)} ${s.title}`).join("\n");
  try {
    opts = parseBenchArgs(process.argv.slice(2), SCENARIOS);
  } catch (err) {
    process.stderr.write(`bench: ${reasonOf(err)}\n\n${USAGE}\n${scenarioList}\n`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(`${USAGE}\n${scenarioList}\n`);
    return 0;
  }
  const wrk = findExecutable("wrk");
  if (!wrk) {
    process.stderr.write("bench: wrk not found (run scripts/setup.sh)\n");
    return 1;
  }
  installCleanupHandlers();
  const startedAt = new Date();
  const workDir = mkdtempSync(path.join(os.tmpdir(), "lodestone-bench-"));
  // NGINX workers drop root privileges and must still read the 1 MiB file.
  chmodSync(workDir, 0o755);
  // Ctrl-C exits through process.exit, past the finally below: remove the directory there too.
  process.on("exit", () => rmSync(workDir, { recursive: true, force: true }));
  try {
    const machine = machineInfo();
    const revision = lodestoneRevision(REPO_ROOT);
    log(
      `machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.kernel}; haproxy ${machine.haproxy}, nginx ${machine.nginx}, wrk ${machine.wrk}, node ${machine.node}`,
    );
    log(
      `method: warm-up ${opts.warmupSec}s discarded, ${opts.rounds} interleaved rounds of ${opts.durationSec}s, workers ${opts.workers}`,
    );
    const backends = await startBackends(workDir, BACKEND_WORKERS);
    const luaPath = path.join(workDir, "report.lua");
    writeFileSync(luaPath, WRK_REPORT_LUA);

    const results: ScenarioResult[] = [];
    for (const s of opts.scenarios) {
      results.push(await runScenario(s, opts, backends.ports, workDir, wrk, luaPath));
    }
    await stopProcess(backends.process);

    const heading = [
      `lodestone bench, ${startedAt.toISOString()}${opts.quick ? " (quick)" : ""}, lodestone ${revision}`,
      `${machine.cpus} CPUs (${machine.cpuModel}), ${machine.kernel}; HAProxy ${machine.haproxy}, NGINX ${machine.nginx}, wrk ${machine.wrk}, Node ${machine.node}; load average ${machine.loadAverage.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end`,
      `workers ${opts.workers}; warm-up ${opts.warmupSec}s discarded; ${opts.rounds} interleaved rounds of ${opts.durationSec}s; medians shown (± = half the range of the rounds); backends: NGINX, ${BACKEND_WORKERS} worker`,
    ].join("  \n");
    process.stdout.write(`\n${heading}\n\n${renderMarkdown(results)}`);

    const json = {
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      lodestoneRevision: revision,
      machine: { ...machine, loadAverageAtEnd: os.loadavg()[0] },
      options: {
        quick: opts.quick,
        workers: opts.workers,
        rounds: opts.rounds,
        durationSec: opts.durationSec,
        warmupSec: opts.warmupSec,
        contenders: opts.contenders,
        baseline: opts.baseline,
        backendWorkers: BACKEND_WORKERS,
      },
      results,
      goals: GOALS.map((g) => ({ ...g, ...judgeGoal(g, results) })),
    };
    const jsonPath =
      opts.jsonPath ??
      path.join(REPO_ROOT, "bench/results", `${startedAt.toISOString().replace(/[:.]/g, "-")}.json`);
    mkdirSync(path.dirname(jsonPath), { recursive: true });
    writeFileSync(jsonPath, `${JSON.stringify(json, null, 2)}\n`);
    log(`\nJSON: ${jsonPath}`);
    return 0;
  } catch (err) {
    process.stderr.write(`bench: ${reasonOf(err)}\n`);
    return 1;
  } finally {
    await stopAll();
    rmSync(workDir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
