// What the numbers were measured on, printed above the table and stored in the JSON.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import os from "node:os";
import { findExecutable } from "./contenders.ts";

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  kernel: string;
  node: string;
  haproxy: string;
  nginx: string;
  wrk: string;
  /** 1-minute load average when the run started: other work on the machine skews results. */
  loadAverage: number;
}

function firstLine(cmd: string | null, args: string[], pattern: RegExp): string {
  if (!cmd) return "not installed";
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 5000 });
  const text = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  const m = pattern.exec(text);
  return m ? m[1] : (text.trim().split("\n")[0] ?? "unknown");
}

export function machineInfo(): MachineInfo {
  let cpuModel = os.cpus()[0]?.model ?? "unknown";
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"));
    if (m) cpuModel = m[1].trim();
  } catch {
    // keep os.cpus()'s answer
  }
  return {
    cpus: os.availableParallelism(),
    cpuModel,
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    haproxy: firstLine(findExecutable("haproxy"), ["-v"], /HA-?Proxy version (\S+)/),
    nginx: firstLine(findExecutable("nginx"), ["-v"], /nginx version: nginx\/(\S+)/),
    wrk: firstLine(findExecutable("wrk"), ["-v"], /^wrk (\S+)/m),
    loadAverage: os.loadavg()[0],
  };
}

/**
 * The lodestone commit measured, "+uncommitted" when src/ or bin/ differ from it: lodestone
 * changes daily, so a number without its commit means little.
 */
export function lodestoneRevision(repoRoot: string): string {
  const head = spawnSync("git", ["-C", repoRoot, "rev-parse", "--short", "HEAD"], {
    encoding: "utf8",
    timeout: 5000,
  });
  if (head.status !== 0) return "unknown";
  const dirty = spawnSync("git", ["-C", repoRoot, "status", "--porcelain", "--", "src", "bin"], {
    encoding: "utf8",
    timeout: 5000,
  });
  return `${head.stdout.trim()}${dirty.stdout?.trim() ? "+uncommitted" : ""}`;
}
