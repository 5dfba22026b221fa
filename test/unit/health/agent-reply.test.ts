import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { agentVerdict, parseAgentReply } from "../../../src/health/probes/agent-reply.ts";

describe("parseAgentReply truth table", () => {
  // line -> [state, weightPercent, ignored words]
  const rows: [string, string | undefined, number | undefined, string[]][] = [
    ["up", "up", undefined, []],
    ["down", "down", undefined, []],
    ["fail", "down", undefined, []],
    ["stopped", "down", undefined, []],
    ["drain", "drain", undefined, []],
    ["ready", "ready", undefined, []],
    ["maint", "maint", undefined, []],
    ["UP", "up", undefined, []],
    ["weight:50", undefined, 50, []],
    ["50%", undefined, 50, []],
    ["weight:75%", undefined, 75, []],
    ["0%", undefined, 0, []],
    ["150%", undefined, 100, []], // capped: pool weights are 0..100
    ["50", undefined, undefined, ["50"]], // a bare number is not a weight
    ["weight:abc", undefined, undefined, ["weight:abc"]],
    ["up 50%", "up", 50, []],
    ["up,drain", "drain", undefined, []],
    ["ready, weight:20", "ready", 20, []],
    ["up\tdown", "down", undefined, []], // most serious state wins
    ["drain maint", "maint", undefined, []],
    ["up 30% # busy, down soon", "up", 30, []], // '#' starts a description
    ["up maxconn:10", "up", undefined, ["maxconn:10"]],
    ["hello", undefined, undefined, ["hello"]],
    ["", undefined, undefined, []],
    ["  ,, ", undefined, undefined, []],
  ];
  for (const [line, state, weight, ignored] of rows) {
    test(`${JSON.stringify(line)} -> state ${state ?? "-"}, weight ${weight ?? "-"}`, () => {
      const r = parseAgentReply(line);
      assert.equal(r.state, state);
      assert.equal(r.weightPercent, weight);
      assert.deepEqual(r.ignored, ignored);
    });
  }
});

describe("agentVerdict", () => {
  const rows: [string, boolean, string][] = [
    ["up", true, "agent says up"],
    ["drain", true, "agent says drain"],
    ["weight:50", true, "agent says weight:50"],
    ["ready 20%", true, "agent says ready weight:20"],
    ["down", false, "agent says down"],
    ["maint", false, "agent says maint"],
    ["up down", false, "agent says up down"],
    ["", false, "agent sent an empty reply"],
    ["nonsense", false, 'agent reply not understood: "nonsense"'],
  ];
  for (const [line, ok, reason] of rows) {
    test(`${JSON.stringify(line)} ${ok ? "passes" : "fails"} with "${reason}"`, () => {
      const v = agentVerdict(line);
      assert.equal(v.ok, ok);
      assert.equal(v.reason, reason);
    });
  }
  test("the report carries state and weight for the checker", () => {
    assert.deepEqual(agentVerdict("drain 40%").report, { state: "drain", weightPercent: 40 });
  });
});
