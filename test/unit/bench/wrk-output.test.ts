import assert from "node:assert/strict";
import { test } from "node:test";
import {
  parseWrkOutput,
  parseWrkSize,
  parseWrkTime,
  socketErrors,
  WRK_MARKER,
  WRK_REPORT_LUA,
} from "../../../bench/harness/wrk-output.ts";
import { LodestoneError } from "../../../src/errors.ts";

// Captured from wrk 4.1.0 (Debian 12) against NGINX on loopback.
const TEXT_ONLY = `Running 1s test @ http://127.0.0.1:18931/404
  1 threads and 20 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   180.78us  118.77us   2.01ms   76.79%
    Req/Sec    48.83k     3.00k   51.10k    81.82%
  Latency Distribution
     50%  171.00us
     75%  243.00us
     90%  290.00us
     99%    1.13ms
  53471 requests in 1.10s, 15.45MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 53471
Requests/sec:  48601.91
Transfer/sec:     14.04MB
`;

const WITH_MARKER = `${TEXT_ONLY}
${WRK_MARKER} {"duration_us":1100183,"requests":53471,"bytes":16201713,"connect":1,"read":2,"write":3,"status":53471,"timeout":4,"p50_us":171,"p90_us":290,"p99_us":1130,"max_us":2007}
`;

test("the Lua report line wins over the rounded text and gives exact integers", () => {
  const r = parseWrkOutput(WITH_MARKER);
  assert.equal(r.requests, 53471);
  assert.equal(r.bytes, 16201713);
  assert.equal(r.durationSec, 1.100183);
  assert.deepEqual(r.errors, { connect: 1, read: 2, write: 3, timeout: 4, status: 53471 });
  assert.deepEqual(r.latencyUs, { p50: 171, p90: 290, p99: 1130, max: 2007 });
});

test("without the Lua line the text is parsed: counts, units, errors and percentiles", () => {
  const r = parseWrkOutput(TEXT_ONLY);
  assert.equal(r.requests, 53471);
  assert.equal(r.durationSec, 1.1);
  assert.equal(r.bytes, 15.45 * 1024 * 1024);
  assert.deepEqual(r.errors, { connect: 1, read: 2, write: 3, timeout: 4, status: 53471 });
  assert.equal(r.latencyUs.p50, 171);
  assert.equal(r.latencyUs.p90, 290);
  assert.equal(r.latencyUs.p99, 1130);
  assert.ok(Math.abs(r.latencyUs.max - 2010) < 1e-6);
});

test("text without error lines means zero errors", () => {
  const clean = TEXT_ONLY.replace(/^\s*Socket errors.*\n/m, "").replace(/^\s*Non-2xx.*\n/m, "");
  const r = parseWrkOutput(clean);
  assert.deepEqual(r.errors, { connect: 0, read: 0, write: 0, timeout: 0, status: 0 });
  assert.equal(socketErrors(r.errors), 0);
});

test("socketErrors adds connect, read, write and timeout but not bad statuses", () => {
  assert.equal(socketErrors({ connect: 1, read: 2, write: 3, timeout: 4, status: 100 }), 10);
});

test("wrk's failure to connect is a BENCH_WRK_OUTPUT error naming what wrk said", () => {
  assert.throws(
    () => parseWrkOutput("unable to connect to 127.0.0.1:18939 Connection refused\n"),
    (err: unknown) =>
      err instanceof LodestoneError &&
      err.code === "BENCH_WRK_OUTPUT" &&
      /Connection refused/.test(err.message),
  );
  assert.throws(
    () => parseWrkOutput(""),
    (err: unknown) => err instanceof LodestoneError,
  );
});

test("a broken Lua report line is an error, not a silent zero", () => {
  for (const bad of [`${WRK_MARKER} {not json`, `${WRK_MARKER} {"duration_us":1}`, `${WRK_MARKER} null`]) {
    assert.throws(
      () => parseWrkOutput(`${TEXT_ONLY}${bad}\n`),
      (err: unknown) => err instanceof LodestoneError && err.code === "BENCH_WRK_OUTPUT",
      bad,
    );
  }
});

test("wrk time and size units", () => {
  const times: [string, number][] = [
    ["638.00us", 638],
    ["1.13ms", 1130],
    ["2.00s", 2e6],
    ["1.00m", 60e6],
    ["1.00h", 3600e6],
  ];
  for (const [s, us] of times) assert.ok(Math.abs(parseWrkTime(s) - us) < 1e-6, s);
  assert.ok(Number.isNaN(parseWrkTime("12 parsecs")));
  const sizes: [string, number][] = [
    ["100B", 100],
    ["1.00KB", 1024],
    ["2.00MB", 2 * 1024 ** 2],
    ["1.50GB", 1.5 * 1024 ** 3],
  ];
  for (const [s, b] of sizes) assert.equal(parseWrkSize(s), b, s);
  assert.ok(Number.isNaN(parseWrkSize("3 bananas")));
});

test("the Lua script prints the marker the parser looks for", () => {
  assert.ok(WRK_REPORT_LUA.includes(`${WRK_MARKER} {`));
  assert.match(WRK_REPORT_LUA, /^done = function\(summary, latency, requests\)$/m);
});
