import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  activePool,
  candidateWeight,
  effectiveWeight,
  scaleWeight,
  trafficState,
  type WeightInput,
} from "../../../src/balance/weights.ts";
import type { HealthState } from "../../../src/model/state.ts";

// Every row: configured weight 80. The columns are the inputs that matter and the
// (weight, flush) a dataplane must get. Read it as the specification.
type Row = [
  label: string,
  state: HealthState,
  frozen: HealthState | undefined,
  inActivePool: boolean,
  override: { weight: number; flush: boolean } | undefined,
  disableFlush: boolean,
  agent: { drain?: boolean; weightPercent?: number } | undefined,
  weight: number,
  flush: boolean,
];

const none = undefined;
const rows: Row[] = [
  ["up, active pool", "up", none, true, none, false, none, 80, false],
  ["up, standby pool drains", "up", none, false, none, false, none, 0, false],
  ["up, active, override 30", "up", none, true, { weight: 30, flush: false }, false, none, 30, false],
  ["up, active, override 0 drain", "up", none, true, { weight: 0, flush: false }, false, none, 0, false],
  ["up, active, override 0 flush", "up", none, true, { weight: 0, flush: true }, false, none, 0, true],
  ["up, standby, override 0 flush", "up", none, false, { weight: 0, flush: true }, false, none, 0, true],
  [
    "up, active, override 30 flush (weight >0: no flush)",
    "up",
    none,
    true,
    { weight: 30, flush: true },
    false,
    none,
    30,
    false,
  ],
  ["up, active, agent drain", "up", none, true, none, false, { drain: true }, 0, false],
  ["up, active, agent 50%", "up", none, true, none, false, { weightPercent: 50 }, 40, false],
  ["up, active, agent 0%", "up", none, true, none, false, { weightPercent: 0 }, 0, false],
  [
    "up, active, override 30 + agent 50%",
    "up",
    none,
    true,
    { weight: 30, flush: false },
    false,
    { weightPercent: 50 },
    15,
    false,
  ],
  ["unknown, active", "unknown", none, true, none, false, none, 0, false],
  ["unknown, standby", "unknown", none, false, none, false, none, 0, false],
  ["unknown, override 0 flush", "unknown", none, true, { weight: 0, flush: true }, false, none, 0, true],
  ["down, active: drain, no flush", "down", none, true, none, false, none, 0, false],
  ["down, standby", "down", none, false, none, false, none, 0, false],
  ["down, override 50", "down", none, true, { weight: 50, flush: false }, false, none, 0, false],
  ["down, override 0 flush", "down", none, true, { weight: 0, flush: true }, false, none, 0, true],
  ["paused while up, active: keeps serving", "paused", "up", true, none, false, none, 80, false],
  ["paused while up, standby", "paused", "up", false, none, false, none, 0, false],
  [
    "paused while up, override 20",
    "paused",
    "up",
    true,
    { weight: 20, flush: false },
    false,
    none,
    20,
    false,
  ],
  ["paused while down, active", "paused", "down", true, none, false, none, 0, false],
  ["paused while unknown, active", "paused", "unknown", true, none, false, none, 0, false],
  ["paused, frozen state unknown to us", "paused", none, true, none, false, none, 0, false],
  ["disabled, active: drain", "disabled", none, true, none, false, none, 0, false],
  ["disabled, active, flush asked", "disabled", none, true, none, true, none, 0, true],
  ["disabled, standby, flush asked", "disabled", none, false, none, true, none, 0, true],
  [
    "disabled, override 50: still 0",
    "disabled",
    none,
    true,
    { weight: 50, flush: false },
    false,
    none,
    0,
    false,
  ],
  ["removed, active", "removed", none, true, none, false, none, 0, false],
  ["removed, standby", "removed", none, false, none, false, none, 0, false],
  ["removed, disableFlush ignored (not disabled)", "removed", none, true, none, true, none, 0, false],
  ["down, disableFlush ignored (not disabled)", "down", none, true, none, true, none, 0, false],
];

describe("effectiveWeight truth table (configured weight 80)", () => {
  for (const [label, state, frozen, inActive, override, disableFlush, agent, weight, flush] of rows) {
    test(label, () => {
      const input: WeightInput = {
        state,
        frozenState: frozen,
        configuredWeight: 80,
        override,
        disableFlush,
        agent,
      };
      const got = effectiveWeight(input, inActive);
      assert.deepEqual({ weight: got.weight, flush: got.flush }, { weight, flush });
      assert.equal(got.configuredWeight, override ? override.weight : 80);
    });
  }

  test("the table covers every health state, both pool positions and override presence", () => {
    const states = new Set(rows.map((r) => r[1]));
    assert.deepEqual([...states].sort(), ["disabled", "down", "paused", "removed", "unknown", "up"]);
    for (const s of states) {
      assert.ok(rows.some((r) => r[1] === s && r[3]));
      assert.ok(rows.some((r) => r[1] === s && !r[3]));
    }
    assert.ok(rows.some((r) => r[4] !== undefined) && rows.some((r) => r[4] === undefined));
  });
});

describe("trafficState", () => {
  test("paused resolves to its frozen state, everything else to itself", () => {
    assert.equal(trafficState("paused", "up"), "up");
    assert.equal(trafficState("paused", "down"), "down");
    assert.equal(trafficState("paused", undefined), "unknown");
    assert.equal(trafficState("paused", "paused"), "unknown");
    for (const s of ["unknown", "up", "down", "disabled", "removed"] as const) {
      assert.equal(trafficState(s, "up"), s);
    }
  });
});

describe("scaleWeight", () => {
  const cases: [number, number, number][] = [
    [100, 50, 50],
    [80, 50, 40],
    [1, 50, 1], // a positive percentage never rounds a live backend to 0
    [3, 10, 1],
    [100, 0, 0],
    [0, 50, 0],
    [100, 150, 100], // clamped to 100%
    [100, -5, 0],
  ];
  for (const [w, p, want] of cases) {
    test(`${w} at ${p}% is ${want}`, () => assert.equal(scaleWeight(w, p), want));
  }
});

describe("activePool (priority failover)", () => {
  type M = { state: HealthState; w: number };
  const m = (state: HealthState, w = 100): M => ({ state, w });
  const pick = (pools: M[][]) =>
    activePool(
      pools,
      (x) => x.state,
      (x) => x.w,
    );
  const cases: [string, M[][], number][] = [
    ["first pool with an up member wins", [[m("up")], [m("up")]], 0],
    ["primary all down -> fallback", [[m("down"), m("down")], [m("up")]], 1],
    ["primary up but weight 0 -> fallback", [[m("up", 0)], [m("up")]], 1],
    ["one up member is enough", [[m("down"), m("up")], [m("up")]], 0],
    ["unknown does not count as up", [[m("unknown")], [m("up")]], 1],
    ["disabled does not count", [[m("disabled")], [m("down")], [m("up")]], 2],
    ["nothing up anywhere -> -1", [[m("down")], [m("unknown")]], -1],
    ["no pools -> -1", [], -1],
    ["empty pool skipped", [[], [m("up")]], 1],
  ];
  for (const [label, pools, want] of cases) test(label, () => assert.equal(pick(pools), want));

  test("candidateWeight feeds failover: agent drain on the only primary member fails over", () => {
    const primary: WeightInput[] = [{ state: "up", configuredWeight: 100, agent: { drain: true } }];
    const fallback: WeightInput[] = [{ state: "up", configuredWeight: 100 }];
    const idx = activePool([primary, fallback], (i) => trafficState(i.state, i.frozenState), candidateWeight);
    assert.equal(idx, 1);
  });

  test("a backend paused while up keeps its pool active", () => {
    const primary: WeightInput[] = [{ state: "paused", frozenState: "up", configuredWeight: 100 }];
    const fallback: WeightInput[] = [{ state: "up", configuredWeight: 100 }];
    const idx = activePool([primary, fallback], (i) => trafficState(i.state, i.frozenState), candidateWeight);
    assert.equal(idx, 0);
  });
});
