import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Protocol } from "../../../src/config/types.ts";
import { type Binding, planApply, sameBinding } from "../../../src/dataplane/proxy/plan.ts";

const b = (protocol: Protocol, host: string, port: number): Binding => ({ protocol, listen: { host, port } });
const base = b("tcp", "127.0.0.1", 80);

describe("planApply truth table (one frontend)", () => {
  const cases: Array<[string, Binding | null, Binding | null, string[]]> = [
    ["neither running nor desired", null, null, []],
    ["desired, not running", null, base, ["start"]],
    ["running, not desired", base, null, ["remove"]],
    ["same protocol and address", base, b("tcp", "127.0.0.1", 80), ["update"]],
    ["port changed", base, b("tcp", "127.0.0.1", 81), ["replace", "start"]],
    ["host changed", base, b("tcp", "::1", 80), ["replace", "start"]],
    ["protocol tcp -> udp", base, b("udp", "127.0.0.1", 80), ["replace", "start"]],
    ["protocol tcp -> http", base, b("http", "127.0.0.1", 80), ["replace", "start"]],
    ["everything changed", base, b("udp", "0.0.0.0", 53), ["replace", "start"]],
  ];
  for (const [what, running, desired, kinds] of cases) {
    it(`${what} -> ${kinds.join(", ") || "nothing"}`, () => {
      const r = new Map<string, Binding>(running ? [["fe", running]] : []);
      const d: Record<string, Binding> = desired ? { fe: desired } : {};
      const plan = planApply(r, d);
      assert.deepEqual(
        plan.map((a) => a.kind),
        kinds,
      );
      for (const a of plan) assert.equal(a.name, "fe");
    });
  }
});

describe("planApply ordering", () => {
  it("retires (remove, replace) before updates before starts, each in frontend order", () => {
    const running = new Map<string, Binding>([
      ["keep", base],
      ["gone", b("tcp", "127.0.0.1", 90)],
      ["moved", b("udp", "127.0.0.1", 53)],
    ]);
    const desired: Record<string, Binding> = {
      fresh: b("tcp", "127.0.0.1", 8080),
      moved: b("udp", "127.0.0.1", 5353),
      keep: base,
    };
    assert.deepEqual(planApply(running, desired), [
      { kind: "remove", name: "gone" },
      { kind: "replace", name: "moved" },
      { kind: "update", name: "keep" },
      { kind: "start", name: "fresh" },
      { kind: "start", name: "moved" },
    ]);
  });

  it("does not treat inherited object keys as desired frontends", () => {
    const running = new Map<string, Binding>([["toString", base]]);
    assert.deepEqual(planApply(running, {}), [{ kind: "remove", name: "toString" }]);
  });

  it("sameBinding compares protocol, host and port only", () => {
    assert.equal(sameBinding(base, b("tcp", "127.0.0.1", 80)), true);
    assert.equal(sameBinding(base, b("tcp", "127.0.0.2", 80)), false);
    assert.equal(sameBinding(base, b("https", "127.0.0.1", 80)), false);
  });
});
