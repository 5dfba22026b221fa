// Parsing what wrk prints. The harness runs wrk with a small Lua script (WRK_REPORT_LUA)
// whose done() hook prints one machine-readable line with exact integers; when that line
// is missing (e.g. someone runs wrk by hand without the script) the human-readable text
// is parsed instead, which is rounded but carries the same fields.
import { LodestoneError } from "../../src/errors.ts";

export interface WrkErrors {
  connect: number;
  read: number;
  write: number;
  timeout: number;
  /** Responses with status >= 400 (wrk calls them "Non-2xx or 3xx"). */
  status: number;
}

export interface WrkResult {
  durationSec: number;
  requests: number;
  bytes: number;
  errors: WrkErrors;
  latencyUs: { p50: number; p90: number; p99: number; max: number };
}

export const WRK_MARKER = "LODESTONE_WRK";

/** wrk Lua script: prints one JSON line after the run (latencies in microseconds). */
export const WRK_REPORT_LUA = `-- Written by lodestone's bench harness: one JSON line the harness parses.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\n${WRK_MARKER} {"duration_us":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\\n',
    summary.duration, summary.requests, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

/** Total socket-level errors (everything except bad statuses). */
export function socketErrors(e: WrkErrors): number {
  return e.connect + e.read + e.write + e.timeout;
}

/** Parses wrk's stdout; throws LodestoneError BENCH_WRK_OUTPUT when it holds no result. */
export function parseWrkOutput(stdout: string): WrkResult {
  return parseMarkerLine(stdout) ?? parseText(stdout);
}

function parseMarkerLine(stdout: string): WrkResult | null {
  const line = stdout.split("\n").find((l) => l.startsWith(`${WRK_MARKER} `));
  if (line === undefined) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(line.slice(WRK_MARKER.length + 1));
  } catch (err) {
    throw new LodestoneError("BENCH_WRK_OUTPUT", `wrk report line is not JSON: ${line}`, { cause: err });
  }
  const keys = [
    "duration_us",
    "requests",
    "bytes",
    "connect",
    "read",
    "write",
    "status",
    "timeout",
    "p50_us",
    "p90_us",
    "p99_us",
    "max_us",
  ] as const;
  const o = raw as Record<string, unknown>;
  const n: Record<string, number> = {};
  for (const k of keys) {
    const v = o?.[k];
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
      throw new LodestoneError("BENCH_WRK_OUTPUT", `wrk report line lacks a number for "${k}": ${line}`);
    }
    n[k] = v;
  }
  return {
    durationSec: n.duration_us / 1e6,
    requests: n.requests,
    bytes: n.bytes,
    errors: { connect: n.connect, read: n.read, write: n.write, timeout: n.timeout, status: n.status },
    latencyUs: { p50: n.p50_us, p90: n.p90_us, p99: n.p99_us, max: n.max_us },
  };
}

const TIME_UNITS_US: Record<string, number> = { us: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };
const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** "638.00us" -> 638, "1.13ms" -> 1130; NaN when not a wrk time. */
export function parseWrkTime(s: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(s.trim());
  if (!m) return Number.NaN;
  return Number(m[1]) * TIME_UNITS_US[m[2]];
}

/** "27.80MB" -> bytes (wrk uses powers of 1024); NaN when not a wrk size. */
export function parseWrkSize(s: string): number {
  const m = /^([\d.]+)(B|KB|MB|GB|TB)$/.exec(s.trim());
  if (!m) return Number.NaN;
  return Number(m[1]) * SIZE_UNITS[m[2]];
}

function parseText(stdout: string): WrkResult {
  const total = /^\s*(\d+) requests in ([\d.]+(?:us|ms|s|m|h)), ([\d.]+[KMGT]?B) read/m.exec(stdout);
  if (!total) {
    const firstLine = stdout.trim().split("\n")[0] ?? "";
    throw new LodestoneError(
      "BENCH_WRK_OUTPUT",
      `wrk printed no result${firstLine ? ` (first line: ${firstLine.slice(0, 200)})` : " (empty output)"}`,
    );
  }
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout);
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)\\s*$`, "m").exec(stdout);
    return m ? parseWrkTime(m[1]) : Number.NaN;
  };
  const latencyRow = /^\s*Latency\s+\S+\s+\S+\s+(\S+)/m.exec(stdout);
  return {
    durationSec: parseWrkTime(total[2]) / 1e6,
    requests: Number(total[1]),
    bytes: parseWrkSize(total[3]),
    errors: {
      connect: sock ? Number(sock[1]) : 0,
      read: sock ? Number(sock[2]) : 0,
      write: sock ? Number(sock[3]) : 0,
      timeout: sock ? Number(sock[4]) : 0,
      status: non2xx ? Number(non2xx[1]) : 0,
    },
    latencyUs: {
      p50: pct("50"),
      p90: pct("90"),
      p99: pct("99"),
      max: latencyRow ? parseWrkTime(latencyRow[1]) : Number.NaN,
    },
  };
}
