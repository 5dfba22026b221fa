// Processes the harness starts (backends, contenders, wrk): each in its own process group
// so it can be stopped with everything it forked, tracked in one registry so Ctrl-C, an
// error or a normal exit never leaves one behind. Also loopback port helpers and CPU
// accounting through /proc.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { LodestoneError } from "../../src/errors.ts";
import { type ProcStat, parseProcStat, treeTicks } from "./procstat.ts";

export interface Managed {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  /** Last few KiB of stdout+stderr, for error reasons. */
  output(): string;
}

const running = new Set<Managed>();
const TAIL_BYTES = 4096;

/** Starts a process in its own group; throws LodestoneError BENCH_SPAWN if it cannot be started. */
export function startProcess(
  name: string,
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<Managed> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let tail = "";
    const keep = (chunk: Buffer) => {
      tail = (tail + chunk.toString("utf8")).slice(-TAIL_BYTES);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    let exitedFlag = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) => {
      child.on("exit", (code, signal) => {
        exitedFlag = true;
        running.delete(managed);
        res({ code, signal });
      });
    });
    const managed: Managed = {
      name,
      pid: -1,
      child,
      exited,
      alive: () => !exitedFlag,
      output: () => tail,
    };
    child.once("error", (err) => {
      exitedFlag = true;
      running.delete(managed);
      reject(
        new LodestoneError("BENCH_SPAWN", `cannot start ${name} (${cmd}): ${err.message}`, { cause: err }),
      );
    });
    child.once("spawn", () => {
      managed.pid = child.pid!;
      running.add(managed);
      resolve(managed);
    });
  });
}

function signalGroup(m: Managed, sig: NodeJS.Signals): void {
  if (m.pid <= 0) return;
  try {
    process.kill(-m.pid, sig);
  } catch {
    // Group already gone.
  }
}

/** SIGTERM to the process group, SIGKILL after graceMs; resolves once the leader has exited. */
export async function stopProcess(m: Managed, graceMs = 3000): Promise<void> {
  if (!m.alive()) {
    signalGroup(m, "SIGKILL"); // stragglers the leader left behind
    return;
  }
  signalGroup(m, "SIGTERM");
  const timer = setTimeout(() => signalGroup(m, "SIGKILL"), graceMs);
  await m.exited;
  clearTimeout(timer);
  signalGroup(m, "SIGKILL");
}

/** Synchronous last resort for exit paths: SIGKILL every group still running. */
export function killAllNow(): void {
  for (const m of running) signalGroup(m, "SIGKILL");
  running.clear();
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((m) => stopProcess(m, 1000)));
}

let handlersInstalled = false;

/** Ctrl-C, SIGTERM, and any exit path stop every process we started. */
export function installCleanupHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", killAllNow);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(sig, () => {
      process.stderr.write(`\nbench: ${sig}, stopping everything it started\n`);
      killAllNow();
      process.exit(130);
    });
  }
}

/** n distinct ports the OS considers free on host (bound to port 0 together, then closed). */
export async function freePorts(n: number, host = "127.0.0.1"): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((res, rej) => {
        s.once("error", rej);
        s.listen(0, host, () => res());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((res) => s.close(() => res()))));
  }
}

function tryConnect(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once("connect", () => done(true));
    sock.on("error", () => done(false));
  });
}

/**
 * Waits until host:port accepts a connection. Throws LodestoneError BENCH_NOT_READY when
 * `owner` exits first or the timeout passes, with the owner's last output in the message.
 */
export async function waitForPort(
  host: string,
  port: number,
  timeoutMs: number,
  owner?: Managed,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (owner && !owner.alive()) {
      const { code, signal } = await owner.exited;
      throw new LodestoneError(
        "BENCH_NOT_READY",
        `${owner.name} exited (${signal ?? `code ${code}`}) before listening on ${host}:${port}: ${lastLines(owner.output())}`,
      );
    }
    if (await tryConnect(host, port, 500)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new LodestoneError(
    "BENCH_NOT_READY",
    `${owner?.name ?? "process"} did not accept on ${host}:${port} within ${timeoutMs} ms${owner ? `: ${lastLines(owner.output())}` : ""}`,
  );
}

/**
 * A process's output in one line for an n/a reason: the first lines that name an error
 * (a Node stack trace ends with noise, the message is at the top), else the last n lines.
 */
export function lastLines(text: string, n = 4): string {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const errors = lines.filter((l) => /\b(error|alert|emerg|fatal|cannot|failed|not implemented)\b/i.test(l));
  const picked = errors.length > 0 ? errors.slice(0, 2) : lines.slice(-n);
  return picked.join(" / ") || "(no output)";
}

let clkTck = 0;

/** Clock ticks per second for /proc CPU times (getconf CLK_TCK; 100 if that fails). */
export function clockTicks(): number {
  if (clkTck > 0) return clkTck;
  try {
    clkTck = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
  } catch {
    clkTck = 0;
  }
  if (!(clkTck > 0)) clkTck = 100;
  return clkTck;
}

function readAllStats(): ProcStat[] {
  const out: ProcStat[] = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const s = parseProcStat(readFileSync(`/proc/${e}/stat`, "utf8"));
      if (s) out.push(s);
    } catch {
      // The process ended between readdir and read.
    }
  }
  return out;
}

/** CPU seconds (user+system) used so far by pid and all its descendants; NaN without /proc. */
export function treeCpuSeconds(pid: number): number {
  const stats = readAllStats();
  if (!stats.some((s) => s.pid === pid)) return Number.NaN;
  return treeTicks(pid, stats) / clockTicks();
}
