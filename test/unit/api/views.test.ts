import assert from "node:assert/strict";
import { test } from "node:test";
import { backendCounters, frontendViews, mergeStats } from "../../../src/api/views.ts";
import type { Config } from "../../../src/config/types.ts";
import type { DaemonStatus } from "../../../src/control/daemon.ts";
import type { TrafficCounters } from "../../../src/dataplane/types.ts";

const c = (n: number): TrafficCounters => ({
  connectionsTotal: n,
  connectionsActive: n,
  bytesIn: n,
  bytesOut: n,
  connectErrors: n,
});

test("several dataplanes' counters add up per frontend and per backend; rejected is kept", () => {
  const merged = mergeStats([
    { frontends: { www: { ...c(1), backends: { a: c(1) } } } },
    {
      frontends: {
        www: { ...c(2), rejected: 3, backends: { a: c(2), b: c(5) } } as never,
        dns: { ...c(7), backends: {} },
      },
    },
  ]);
  assert.equal(merged.frontends.www.connectionsTotal, 3);
  assert.equal((merged.frontends.www as { rejected?: number }).rejected, 3);
  assert.deepEqual(merged.frontends.www.backends.a, c(3));
  assert.deepEqual(merged.frontends.www.backends.b, c(5));
  assert.equal(merged.frontends.dns.bytesOut, 7);
  assert.deepEqual(mergeStats([]), { frontends: {} });
});

test("a backend's counters sum over every frontend that uses it", () => {
  const sums = backendCounters({
    frontends: {
      one: { ...c(0), backends: { a: c(1), b: c(2) } },
      two: { ...c(0), backends: { a: c(10) } },
    },
  });
  assert.deepEqual(sums.get("a"), c(11));
  assert.deepEqual(sums.get("b"), c(2));
});

// [desired version applied, active pool] -> frontend state
const table: [number, number, string][] = [
  [0, 0, "unknown"],
  [0, -1, "unknown"],
  [1, 0, "up"],
  [1, 2, "up"],
  [5, -1, "down"],
];

for (const [version, activePool, state] of table) {
  test(`frontend state: version ${version}, active pool ${activePool} -> ${state}`, () => {
    const status = {
      version,
      frontends: [
        {
          name: "www",
          listen: "127.0.0.1:80",
          protocol: "tcp",
          service: "web",
          activePool,
          activePoolName: null,
        },
      ],
    } as unknown as DaemonStatus;
    const [view] = frontendViews({
      status,
      config: { frontends: {} } as unknown as Config,
      stats: { frontends: {} },
    });
    assert.equal(view.state, state);
    assert.deepEqual(view.counters, c(0));
  });
}
