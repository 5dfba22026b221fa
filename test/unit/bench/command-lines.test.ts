import assert from "node:assert/strict";
import { test } from "node:test";
import { wrkArgs } from "../../../bench/harness/load.ts";
import { lastLines } from "../../../bench/harness/processes.ts";

test("wrk gets threads, connections, whole-second duration, latency, the Lua script and the URL last", () => {
  const args = wrkArgs({
    url: "http://127.0.0.1:1234/1m",
    threads: 1,
    connections: 50,
    durationSec: 10,
    connectionClose: false,
    luaPath: "/tmp/r.lua",
  });
  assert.deepEqual(args, [
    "-t1",
    "-c50",
    "-d10s",
    "--timeout",
    "5s",
    "--latency",
    "-s",
    "/tmp/r.lua",
    "http://127.0.0.1:1234/1m",
  ]);
});

test("new-connection scenarios add the Connection: close header before the URL", () => {
  const args = wrkArgs({
    url: "http://127.0.0.1:1234/",
    threads: 2,
    connections: 8,
    durationSec: 1,
    connectionClose: true,
    luaPath: "/tmp/r.lua",
  });
  assert.deepEqual(args.slice(-3), ["-H", "Connection: close", "http://127.0.0.1:1234/"]);
});

test("lastLines picks the error lines of a stack trace, else the last lines, on one line", () => {
  const trace = [
    "node:internal/modules/esm/resolve:275",
    "    throw new ERR_MODULE_NOT_FOUND(",
    "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/x/y.ts' imported from /x/z.ts",
    "    at finalizeResolution (node:internal/modules/esm/resolve:275:11)",
    "  code: 'ERR_MODULE_NOT_FOUND',",
    "Node.js v24.21.0",
  ].join("\n");
  assert.equal(
    lastLines(trace),
    "Error [ERR_MODULE_NOT_FOUND]: Cannot find module '/x/y.ts' imported from /x/z.ts",
  );
  assert.equal(lastLines("a\nb\n\nc\nd\ne\n", 3), "c / d / e");
  assert.equal(lastLines(""), "(no output)");
  assert.equal(
    lastLines("[NOTICE] starting\n[ALERT] (1) : Cannot raise FD limit\n"),
    "[ALERT] (1) : Cannot raise FD limit",
  );
});
