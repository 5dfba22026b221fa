import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Overrides } from "../../../src/control/overrides.ts";
import { LodestoneError } from "../../../src/errors.ts";
import { buildConfig } from "./config-builder.ts";

const config = buildConfig({
  backends: { a: { port: 1 }, b: { port: 2 }, c: { port: 3 } },
  services: {
    web: {
      pools: [
        ["primary", { a: 100, b: 100 }],
        ["fallback", { c: 100 }],
      ],
    },
  },
  frontends: { f: { port: 80, service: "web" } },
});

describe("Overrides.setWeight validation", () => {
  const cases: [string, string, string, string, number, string][] = [
    ["unknown service", "nope", "primary", "a", 10, "UNKNOWN_SERVICE"],
    ["unknown pool", "web", "nope", "a", 10, "UNKNOWN_POOL"],
    ["backend not in that pool", "web", "primary", "c", 10, "UNKNOWN_MEMBER"],
    ["weight above 100", "web", "primary", "a", 101, "INVALID_WEIGHT"],
    ["negative weight", "web", "primary", "a", -1, "INVALID_WEIGHT"],
    ["fractional weight", "web", "primary", "a", 1.5, "INVALID_WEIGHT"],
  ];
  for (const [label, s, p, b, w, code] of cases) {
    test(`${label} is refused with ${code}`, () => {
      const o = new Overrides();
      assert.throws(
        () => o.setWeight(config, s, p, b, w, false),
        (e: unknown) => e instanceof LodestoneError && e.code === code,
      );
      assert.equal(o.weights().length, 0);
    });
  }

  test("a valid override is stored per pool member and can be cleared", () => {
    const o = new Overrides();
    o.setWeight(config, "web", "primary", "a", 0, true);
    assert.deepEqual(o.weight("web", "primary", "a"), {
      service: "web",
      pool: "primary",
      backend: "a",
      weight: 0,
      flush: true,
    });
    assert.equal(o.weight("web", "primary", "b"), undefined);
    assert.equal(o.clearWeight("web", "primary", "a"), true);
    assert.equal(o.weight("web", "primary", "a"), undefined);
  });
});

describe("Overrides across a reload (prune)", () => {
  test("keeps overrides whose backend and pool member still exist, drops the others", () => {
    const o = new Overrides();
    o.setWeight(config, "web", "primary", "a", 10, false);
    o.setWeight(config, "web", "primary", "b", 20, false);
    o.setWeight(config, "web", "fallback", "c", 30, false);
    o.markDisabled("b", true);
    o.markPaused("c", "up");
    // New config: b is gone entirely, c moved from fallback into primary.
    const next = buildConfig({
      backends: { a: { port: 1 }, c: { port: 3 } },
      services: { web: { pools: [["primary", { a: 100, c: 100 }]] } },
      frontends: { f: { port: 80, service: "web" } },
    });
    const dropped = o.prune(next);
    assert.deepEqual(dropped.sort(), [
      "disabled on backend b",
      "weight of web/fallback/c",
      "weight of web/primary/b",
    ]);
    assert.equal(o.weight("web", "primary", "a")?.weight, 10);
    assert.equal(o.disableFlush("b"), false);
    assert.equal(o.frozenState("c"), "up");
  });
});

describe("Overrides backend holds", () => {
  test("disable records flush, pause records the frozen state, clear forgets both", () => {
    const o = new Overrides();
    o.markDisabled("a", true);
    o.markDisabled("b", false);
    o.markPaused("c", "down");
    assert.deepEqual([o.disableFlush("a"), o.disableFlush("b"), o.disableFlush("c")], [true, false, false]);
    assert.deepEqual([o.frozenState("a"), o.frozenState("c")], [undefined, "down"]);
    o.clearBackend("a");
    o.clearBackend("c");
    assert.deepEqual([o.disableFlush("a"), o.frozenState("c")], [false, undefined]);
  });
});
