import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LiveList } from "../../../src/dataplane/proxy/live-list.ts";

interface Flow {
  id: number;
  liveSlot: number;
  backendSlot: number;
}

const flow = (id: number): Flow => ({ id, liveSlot: -1, backendSlot: -1 });
const ids = (l: LiveList<Flow, "liveSlot">): number[] =>
  l
    .toArray()
    .map((f) => f.id)
    .sort((a, b) => a - b);

describe("LiveList", () => {
  // [case, operations (+n add, -n delete), members after, what each delete returned]
  const table: [string, string[], number[], boolean[]][] = [
    ["adds", ["+1", "+2", "+3"], [1, 2, 3], []],
    ["adding twice keeps one", ["+1", "+1"], [1], []],
    ["delete the last", ["+1", "+2", "-2"], [1], [true]],
    ["delete the first moves the last into its place", ["+1", "+2", "+3", "-1"], [2, 3], [true]],
    ["delete what is not there", ["+1", "-2"], [1], [false]],
    ["delete twice", ["+1", "-1", "-1"], [], [true, false]],
    ["delete then add again", ["+1", "+2", "-1", "+1"], [1, 2], [true]],
    ["empty out", ["+1", "+2", "-2", "-1"], [], [true, true]],
  ];
  for (const [name, ops, want, deletes] of table) {
    test(name, () => {
      const flows = new Map<number, Flow>();
      const of = (n: number) => flows.get(n) ?? (flows.set(n, flow(n)).get(n) as Flow);
      const l = new LiveList<Flow, "liveSlot">("liveSlot");
      const got: boolean[] = [];
      for (const op of ops) {
        const f = of(Number(op.slice(1)));
        if (op[0] === "+") l.add(f);
        else got.push(l.delete(f));
      }
      assert.deepEqual(ids(l), want);
      assert.equal(l.size, want.length);
      assert.deepEqual(got, deletes);
      for (const [n, f] of flows) assert.equal(l.has(f), want.includes(n), `has(${n})`);
      for (const f of flows.values()) if (!want.includes(f.id)) assert.equal(f.liveSlot, -1);
    });
  }

  test("agrees with a Set over random adds and deletes", () => {
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const flows = Array.from({ length: 40 }, (_, i) => flow(i));
    const l = new LiveList<Flow, "liveSlot">("liveSlot");
    const model = new Set<Flow>();
    for (let step = 0; step < 5000; step++) {
      const f = flows[rand(flows.length)];
      if (rand(2) === 0) {
        l.add(f);
        model.add(f);
      } else {
        assert.equal(l.delete(f), model.delete(f));
      }
      assert.equal(l.size, model.size);
    }
    assert.deepEqual(
      ids(l),
      [...model].map((f) => f.id).sort((a, b) => a - b),
    );
  });

  test("two lists under different slot names hold the same element independently", () => {
    const live = new LiveList<Flow, "liveSlot">("liveSlot");
    const perBackend = new LiveList<Flow, "backendSlot">("backendSlot");
    const [a, b] = [flow(1), flow(2)];
    live.add(a);
    live.add(b);
    perBackend.add(b);
    assert.equal(perBackend.delete(b), true);
    assert.equal(live.has(b), true);
    assert.equal(live.delete(a), true);
    assert.deepEqual(ids(live), [2]);
  });

  test("forEach visits each element once while the visitor deletes the one it is given", () => {
    const l = new LiveList<Flow, "liveSlot">("liveSlot");
    const flows = Array.from({ length: 10 }, (_, i) => flow(i));
    for (const f of flows) l.add(f);
    const seen: number[] = [];
    l.forEach((f) => {
      seen.push(f.id);
      if (f.id % 3 === 0) l.delete(f);
    });
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      flows.map((f) => f.id),
    );
    assert.deepEqual(ids(l), [1, 2, 4, 5, 7, 8]);
  });
});
