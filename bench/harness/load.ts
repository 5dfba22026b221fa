// The load side: one correctness probe per contender (does a request through it come back
// whole?) and bounded wrk runs.
import http from "node:http";
import { LodestoneError } from "../../src/errors.ts";
import { lastLines, startProcess, stopProcess } from "./processes.ts";
import { parseWrkOutput, type WrkResult } from "./wrk-output.ts";

/**
 * GETs url once on a fresh connection; resolves null when the status is 200 and the body
 * has exactly expectedBytes, else a reason. Never rejects; bounded by timeoutMs.
 */
export function probe(url: string, expectedBytes: number, timeoutMs = 5000): Promise<string | null> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (reason: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(reason);
    };
    const timer = setTimeout(
      () => finish(`no complete response from ${url} within ${timeoutMs} ms`),
      timeoutMs,
    );
    const req = http.get(url, { agent: false, headers: { connection: "close" } }, (res) => {
      let bytes = 0;
      res.on("data", (c: Buffer) => {
        bytes += c.length;
      });
      res.on("error", (err) => finish(`response from ${url} broke off: ${err.message}`));
      res.on("end", () => {
        if (res.statusCode !== 200) finish(`${url} answered status ${res.statusCode}, expected 200`);
        else if (bytes !== expectedBytes)
          finish(`${url} sent ${bytes} body bytes, expected ${expectedBytes}`);
        else finish(null);
      });
    });
    req.on("error", (err) => finish(`request to ${url} failed: ${err.message}`));
  });
}

export interface WrkRun {
  wrk: string;
  url: string;
  threads: number;
  connections: number;
  durationSec: number;
  connectionClose: boolean;
  /** Path of the Lua reporting script (WRK_REPORT_LUA written to disk). */
  luaPath: string;
}

/** wrk's command line for one run (pure, exported for tests). */
export function wrkArgs(r: Omit<WrkRun, "wrk">): string[] {
  const args = [
    `-t${r.threads}`,
    `-c${r.connections}`,
    `-d${r.durationSec}s`,
    "--timeout",
    "5s",
    "--latency",
    "-s",
    r.luaPath,
  ];
  if (r.connectionClose) args.push("-H", "Connection: close");
  args.push(r.url);
  return args;
}

/** Runs wrk once, killed if it overruns by 15 s; throws LodestoneError BENCH_WRK on failure. */
export async function runWrk(r: WrkRun): Promise<WrkResult> {
  const m = await startProcess("wrk", r.wrk, wrkArgs(r));
  const limitMs = (r.durationSec + 15) * 1000;
  let overran = false;
  const timer = setTimeout(() => {
    overran = true;
    void stopProcess(m, 1000);
  }, limitMs);
  const { code, signal } = await m.exited;
  clearTimeout(timer);
  const out = m.output();
  if (overran) throw new LodestoneError("BENCH_WRK", `wrk did not finish within ${limitMs} ms`);
  try {
    return parseWrkOutput(out);
  } catch (err) {
    throw new LodestoneError(
      "BENCH_WRK",
      `wrk against ${r.url} failed (${signal ?? `exit ${code}`}): ${lastLines(out, 3)}`,
      { cause: err },
    );
  }
}
