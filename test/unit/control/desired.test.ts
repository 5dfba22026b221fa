import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { AgentReport } from "../../../src/balance/weights.ts";
import type { Config } from "../../../src/config/types.ts";
import { computeDesired } from "../../../src/control/desired.ts";
import { Overrides } from "../../../src/control/overrides.ts";
import type { HealthState } from "../../../src/model/state.ts";
import { mulberry32, shuffled } from "../../helpers/random.ts";
import { buildConfig, type Spec } from "./config-builder.ts";

const spec: Spec = {
  backends: {
    "web-1": { port: 9001 },
    "web-2": { port: 9002 },
    "web-3": { port: 9004 },
    spare: { port: 9003 },
  },
  services: {
    web: {
      algorithm: "maglev",
      tableSize: 251,
      pools: [
        ["primary", { "web-2": 50, "web-1": 100, "web-3": 0 }],
        ["fallback", { spare: 100 }],
      ],
    },
    plain: { pools: [["only", { spare: 100 }]] },
  },
  frontends: { www: { port: 8080, service: "web" }, other: { port: 8081, service: "plain" } },
};
const config = buildConfig(spec);
const noAgent = (): AgentReport | undefined => undefined;
const states =
  (map: Record<string, HealthState>, dflt: HealthState = "up") =>
  (name: string): HealthState =>
    map[name] ?? dflt;

const weights = (d: ReturnType<typeof computeDesired>, fe: string) =>
  Object.fromEntries(d.frontends[fe].backends.map((b) => [b.name, b.weight]));

describe("computeDesired: pool failover truth table", () => {
  const cases: [string, Record<string, HealthState>, number, Record<string, number>][] = [
    ["all up: primary active, fallback standby", {}, 0, { spare: 0, "web-1": 100, "web-2": 50, "web-3": 0 }],
    [
      "one primary down: the other carries it",
      { "web-1": "down" },
      0,
      { spare: 0, "web-1": 0, "web-2": 50, "web-3": 0 },
    ],
    [
      "primary down except a weight-0 member: fallback",
      { "web-1": "down", "web-2": "down" },
      1,
      { spare: 100, "web-1": 0, "web-2": 0, "web-3": 0 },
    ],
    [
      "primary disabled and unknown: fallback",
      { "web-1": "disabled", "web-2": "unknown" },
      1,
      { spare: 100, "web-1": 0, "web-2": 0, "web-3": 0 },
    ],
    [
      "everything down: none",
      { "web-1": "down", "web-2": "down", "web-3": "down", spare: "down" },
      -1,
      {
        spare: 0,
        "web-1": 0,
        "web-2": 0,
        "web-3": 0,
      },
    ],
  ];
  for (const [label, map, active, want] of cases) {
    test(label, () => {
      const d = computeDesired(config, states(map), new Overrides(), noAgent, 1);
      assert.equal(d.frontends.www.activePool, active);
      assert.deepEqual(weights(d, "www"), want);
    });
  }
});

describe("computeDesired: shape", () => {
  const d = computeDesired(config, states({}), new Overrides(), noAgent, 7);

  test("stamps the given version and lists frontends by name", () => {
    assert.equal(d.version, 7);
    assert.deepEqual(Object.keys(d.frontends), ["other", "www"]);
  });

  test("lists every pool member of the service sorted by name with its pool", () => {
    const www = d.frontends.www;
    assert.deepEqual(
      www.backends.map((b) => [b.name, b.pool, b.poolIndex, b.port, b.configuredWeight]),
      [
        ["spare", "fallback", 1, 9003, 100],
        ["web-1", "primary", 0, 9001, 100],
        ["web-2", "primary", 0, 9002, 50],
        ["web-3", "primary", 0, 9004, 0],
      ],
    );
    assert.equal(www.algorithm, "maglev");
    assert.equal(www.service, "web");
    assert.deepEqual(www.listen, { host: "127.0.0.1", port: 8080 });
  });

  test("builds a Maglev table only for maglev services, over weighted backends in proportion", () => {
    assert.equal(d.frontends.other.maglev, null);
    const table = d.frontends.www.maglev!;
    assert.equal(table.length, 251);
    const counts = new Map<string, number>();
    for (const slot of table) {
      assert.ok(slot >= 0);
      const name = d.frontends.www.backends[slot].name;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ["web-1", "web-2"]);
    const share1 = counts.get("web-1")! / 251;
    assert.ok(Math.abs(share1 - 2 / 3) < 0.03, `web-1 share ${share1}`);
  });

  test("a table with every weight 0 has no backend", () => {
    const down = computeDesired(config, states({}, "down"), new Overrides(), noAgent, 1);
    assert.ok(down.frontends.www.maglev!.every((s) => s === -1));
  });
});

describe("computeDesired: overrides and agent", () => {
  test("an operator weight override replaces the configured weight of that pool member", () => {
    const o = new Overrides();
    o.setWeight(config, "web", "primary", "web-2", 10, false);
    const d = computeDesired(config, states({}), o, noAgent, 1);
    const b = d.frontends.www.backends.find((x) => x.name === "web-2")!;
    assert.deepEqual([b.configuredWeight, b.weight, b.flush], [10, 10, false]);
  });

  test("override to 0 with flush sets flush; the other service using the backend is untouched", () => {
    const o = new Overrides();
    o.setWeight(config, "web", "fallback", "spare", 0, true);
    const d = computeDesired(config, states({ "web-1": "down", "web-2": "down" }), o, noAgent, 1);
    // With spare at 0 the fallback pool has no weighted member: nothing serves www.
    assert.equal(d.frontends.www.activePool, -1);
    const spare = d.frontends.www.backends.find((x) => x.name === "spare")!;
    assert.deepEqual([spare.weight, spare.flush], [0, true]);
    assert.deepEqual(weights(d, "other"), { spare: 100 });
    assert.equal(d.frontends.other.backends[0].flush, false);
  });

  test("disable with flush flushes, a pause while up keeps serving", () => {
    const o = new Overrides();
    o.markDisabled("web-1", true);
    o.markPaused("web-2", "up");
    const d = computeDesired(config, states({ "web-1": "disabled", "web-2": "paused" }), o, noAgent, 1);
    const byName = Object.fromEntries(d.frontends.www.backends.map((b) => [b.name, b]));
    assert.deepEqual([byName["web-1"].weight, byName["web-1"].flush], [0, true]);
    assert.deepEqual([byName["web-2"].state, byName["web-2"].weight], ["paused", 50]);
  });

  test("agent drain and percentage apply to the backend in every service", () => {
    const agent = (n: string): AgentReport | undefined =>
      n === "web-1" ? { weightPercent: 50 } : n === "spare" ? { drain: true } : undefined;
    const d = computeDesired(config, states({}), new Overrides(), agent, 1);
    assert.deepEqual(weights(d, "www"), { spare: 0, "web-1": 50, "web-2": 50, "web-3": 0 });
    assert.deepEqual(weights(d, "other"), { spare: 0 });
  });
});

function reorder(c: Config, random: () => number): Config {
  const rec = <T>(r: Record<string, T>) => Object.fromEntries(shuffled(Object.entries(r), random));
  const services = rec(c.services);
  for (const s of Object.values(services)) {
    // Pool ORDER is priority and stays; members within a pool have no order.
    services[s.name] = { ...s, pools: s.pools.map((p) => ({ ...p, members: shuffled(p.members, random) })) };
  }
  return {
    ...c,
    backends: rec(c.backends),
    services,
    frontends: rec(c.frontends),
    healthchecks: rec(c.healthchecks),
  };
}

test("shuffling config order 1000 times gives the identical desired state", () => {
  // Many same-weight members make any order dependence visible in the Maglev table.
  const members: Record<string, number> = {};
  const backends: Spec["backends"] = {};
  for (let i = 0; i < 12; i++) {
    members[`b${i}`] = i % 3 === 0 ? 100 : 50;
    backends[`b${i}`] = { port: 10000 + i };
  }
  const big = buildConfig({
    backends,
    services: { s: { algorithm: "maglev", tableSize: 1009, seed: 42, pools: [["p", members]] } },
    frontends: { a: { port: 1, service: "s" }, b: { port: 2, service: "s" } },
  });
  const health = states({ b4: "down" });
  const reference = computeDesired(big, health, new Overrides(), noAgent, 3);
  const random = mulberry32(12345);
  for (let i = 0; i < 1000; i++) {
    const d = computeDesired(reorder(big, random), health, new Overrides(), noAgent, 3);
    assert.deepEqual(d, reference);
  }
});

describe("computeDesired: L7 route services", () => {
  const l7 = buildConfig({
    backends: { a: { port: 1 }, b: { port: 2 }, c: { port: 3 } },
    services: {
      web: { pools: [["p", { a: 100 }]] },
      api: { algorithm: "maglev", tableSize: 13, pools: [["p", { b: 100, c: 50 }]] },
    },
    frontends: { www: { port: 80, service: "web", protocol: "http" } },
  });
  l7.frontends.www.routes = [
    { name: "r0", match: { pathPrefix: "/api/" }, action: { type: "forward", service: "api" } },
    {
      name: "r1",
      match: { pathPrefix: "/old/" },
      action: { type: "redirect", status: 301, location: "/new/" },
    },
    { name: "r2", match: {}, action: { type: "forward", service: "web" } },
  ];

  test("a route forwarding to another service brings that service's backends and table", () => {
    const d = computeDesired(l7, states({ c: "down" }), new Overrides(), noAgent, 1);
    const www = d.frontends.www;
    assert.deepEqual(Object.keys(www.routeServices ?? {}), ["api"]);
    const api = www.routeServices!.api;
    assert.equal(api.algorithm, "maglev");
    assert.equal(api.activePool, 0);
    assert.deepEqual(
      api.backends.map((x) => [x.name, x.weight]),
      [
        ["b", 100],
        ["c", 0],
      ],
    );
    assert.ok(api.maglev!.every((slot) => slot === 0));
    assert.deepEqual(
      www.backends.map((x) => x.name),
      ["a"],
    );
  });

  test("no routeServices when routes only name the frontend's own service or none", () => {
    const tcp = computeDesired(config, states({}), new Overrides(), noAgent, 1);
    assert.equal(tcp.frontends.www.routeServices, undefined);
  });
});

test("routeServiceNames reads normalized and raw routes, sorted and unique", async () => {
  const { routeServiceNames } = await import("../../../src/control/desired.ts");
  assert.deepEqual(
    routeServiceNames([
      { action: { type: "forward", service: "z" } },
      { service: "a" },
      { action: { type: "redirect", location: "/" } },
      { action: { type: "forward", service: "z" } },
      null,
      "junk",
    ]),
    ["a", "z"],
  );
  assert.deepEqual(routeServiceNames(undefined), []);
});
