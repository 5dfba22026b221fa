import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  addCounters,
  type ProxyStats,
  sumStats,
  zeroCounters,
} from "../../../src/dataplane/proxy/counters.ts";
import { FlowRegistry } from "../../../src/dataplane/proxy/registry.ts";

const c = (n: number) => ({
  connectionsTotal: n,
  connectionsActive: n + 1,
  bytesIn: n + 2,
  bytesOut: n + 3,
  connectErrors: n + 4,
});

describe("counters", () => {
  it("addCounters adds every field", () => {
    const into = zeroCounters();
    addCounters(into, c(1));
    addCounters(into, c(10));
    assert.deepEqual(into, {
      connectionsTotal: 11,
      connectionsActive: 13,
      bytesIn: 15,
      bytesOut: 17,
      connectErrors: 19,
    });
  });

  it("sumStats merges frontends and backends by name across workers", () => {
    const w1: ProxyStats = { frontends: { fe: { ...c(1), rejected: 2, backends: { a: c(1) } } } };
    const w2: ProxyStats = {
      frontends: {
        fe: { ...c(2), backends: { a: c(2), b: c(5) } },
        other: { ...c(7), rejected: 1, backends: {} },
      },
    };
    const sum = sumStats([w1, w2]);
    assert.deepEqual(sum.frontends.fe, {
      ...addAll(c(1), c(2)),
      rejected: 2,
      backends: { a: addAll(c(1), c(2)), b: c(5) },
    });
    assert.deepEqual(sum.frontends.other, { ...c(7), rejected: 1, backends: {} });
    assert.deepEqual(w1.frontends.fe.backends.a, c(1), "inputs are not modified");
  });

  it("sumStats of nothing is empty", () => {
    assert.deepEqual(sumStats([]), { frontends: {} });
  });
});

function addAll(...parts: ReturnType<typeof c>[]) {
  const out = zeroCounters();
  for (const p of parts) addCounters(out, p);
  return out;
}

describe("flow registry", () => {
  const flow = (id: string) => ({ id, backendSlot: -1 });

  it("counts flows per backend; prune() forgets the backends left without flows", () => {
    const r = new FlowRegistry<ReturnType<typeof flow>>();
    const [f1, f2, f3] = [flow("f1"), flow("f2"), flow("f3")];
    r.add("a", f1);
    r.add("a", f2);
    r.add("b", f3);
    assert.equal(r.count("a"), 2);
    assert.equal(r.count("b"), 1);
    assert.equal(r.count("zzz"), 0);
    r.delete("a", f1);
    r.delete("a", f2);
    r.delete("a", flow("never-added"));
    r.delete("zzz", f3); // another backend's flow: untouched
    assert.equal(r.count("a"), 0);
    assert.equal(r.count("b"), 1);
    assert.deepEqual(r.of("a"), []);
    r.prune();
    assert.equal(r.count("a"), 0);
    assert.deepEqual(
      r.of("b").map((f) => f.id),
      ["f3"],
    );
    r.add("a", f1); // a pruned backend comes back with its next flow
    assert.equal(r.count("a"), 1);
  });

  it("of() returns a copy that survives deletes while iterating", () => {
    const r = new FlowRegistry<ReturnType<typeof flow>>();
    for (let i = 0; i < 5; i++) r.add("a", flow(String(i)));
    const seen: string[] = [];
    for (const f of r.of("a")) {
      seen.push(f.id);
      r.delete("a", f);
    }
    assert.deepEqual(seen.sort(), ["0", "1", "2", "3", "4"]);
    assert.equal(r.count("a"), 0);
  });
});
