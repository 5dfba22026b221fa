import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { OutlierSettings } from "../../../src/config/routes.ts";
import { OutlierDetector } from "../../../src/dataplane/proxy/http/outlier.ts";

const S: OutlierSettings = {
  consecutiveErrors: 3,
  baseEjectionTime: 1000,
  maxEjectionTime: 2500,
  maxEjectedPercent: 50,
};
const FOUR = ["a", "b", "c", "d"];

function detector(settings: OutlierSettings = S, backends = FOUR) {
  const events: string[] = [];
  const d = new OutlierDetector(settings, (b, ejected) =>
    events.push(`${ejected ? "eject" : "return"} ${b}`),
  );
  d.configure(settings, backends);
  return { d, events };
}

describe("outlier detection: consecutive errors eject", () => {
  // [case, sequence of results for "a" (E = error, K = ok), ejected after?]
  const table: [string, string, boolean][] = [
    ["fewer errors than the threshold", "EE", false],
    ["exactly the threshold", "EEE", true],
    ["an ok in between resets the count", "EEKEE", false],
    ["an ok then the threshold again", "EKEEE", true],
    ["only successes", "KKKK", false],
  ];
  for (const [name, seq, want] of table) {
    test(`${name}: ${seq} -> ${want ? "ejected" : "kept"}`, () => {
      const { d } = detector();
      for (const r of seq) d.record("a", r === "K", "5xx", 0);
      assert.equal(d.isEjected("a"), want);
    });
  }

  test("consecutive-errors 0 disables detection", () => {
    const { d, events } = detector({ ...S, consecutiveErrors: 0 });
    for (let i = 0; i < 10; i++) d.record("a", false, "5xx", 0);
    assert.equal(d.isEjected("a"), false);
    assert.deepEqual(events, []);
  });
});

describe("outlier detection: ejection time grows with ejections, capped", () => {
  // ejection n lasts min(base * n, max): 1000, 2000, 2500, 2500
  const table: [number, number][] = [
    [1, 1000],
    [2, 2000],
    [3, 2500],
    [4, 2500],
  ];
  for (const [n, want] of table) {
    test(`ejection #${n} lasts ${want} ms`, () => {
      const { d } = detector();
      let now = 0;
      for (let k = 1; k <= n; k++) {
        for (let i = 0; i < 3; i++) d.record("a", false, "connect", now);
        assert.equal(d.isEjected("a"), true);
        if (k < n) {
          // Return it as soon as possible and fail again at once (no forgiveness).
          now = d.expire(now);
          d.expire(now);
          assert.equal(d.isEjected("a"), false);
        }
      }
      assert.equal(d.expire(now), now + want, "next expiry");
      d.expire(now + want - 1);
      assert.equal(d.isEjected("a"), true, "still out 1 ms before");
      d.expire(now + want);
      assert.equal(d.isEjected("a"), false, "back at the expiry");
    });
  }

  test("a quiet base-ejection-time after a return forgives one ejection", () => {
    const { d } = detector();
    for (let i = 0; i < 3; i++) d.record("a", false, "5xx", 0);
    d.expire(1000); // back at 1000 after 1 ejection
    d.record("a", true, "", 2000); // a success one base time later: forgiven
    for (let i = 0; i < 3; i++) d.record("a", false, "5xx", 2000);
    assert.equal(d.expire(2000), 3000, "ejected for base x 1 again, not base x 2");
  });
});

describe("outlier detection: max ejected percent", () => {
  // [backends, percent, failing backends, ejected]
  const table: [number, number, number, number][] = [
    [4, 50, 4, 2],
    [4, 50, 1, 1],
    [4, 25, 4, 1],
    [4, 100, 4, 4],
    [1, 50, 1, 0],
    [3, 50, 3, 1],
    [10, 0, 10, 0],
  ];
  for (const [n, percent, failing, want] of table) {
    test(`${n} backends, ${percent}%, ${failing} failing -> ${want} ejected`, () => {
      const names = Array.from({ length: n }, (_, i) => `b${i}`);
      const { d } = detector({ ...S, maxEjectedPercent: percent }, names);
      for (const b of names.slice(0, failing)) for (let i = 0; i < 3; i++) d.record(b, false, "5xx", 0);
      assert.equal(d.ejected(), want);
      assert.equal(names.filter((b) => d.isEjected(b)).length, want);
    });
  }
});

describe("outlier detection: events", () => {
  test("ejection and return are reported once each, with a reason", () => {
    const reasons: string[] = [];
    const d = new OutlierDetector(S, (b, e, reason) => reasons.push(`${b} ${e} ${reason}`));
    d.configure(S, FOUR);
    for (let i = 0; i < 5; i++) d.record("b", false, "connect", 0);
    d.expire(500);
    d.expire(1000);
    d.expire(1500);
    assert.deepEqual(reasons, ["b true 3 consecutive errors (last: connect)", "b false ejection time over"]);
  });

  test("disabling detection returns ejected backends; a removed backend vanishes silently", () => {
    const { d, events } = detector();
    for (let i = 0; i < 3; i++) d.record("a", false, "5xx", 0);
    for (let i = 0; i < 3; i++) d.record("b", false, "5xx", 0);
    d.configure(S, ["a", "c", "d"]);
    assert.equal(d.ejected(), 1);
    d.configure({ ...S, consecutiveErrors: 0 }, ["a", "c", "d"]);
    assert.equal(d.ejected(), 0);
    assert.deepEqual(events, ["eject a", "eject b", "return a"]);
  });
});

describe("outlier detection: which results matter (the listener skips the rest and its clock read)", () => {
  // [case, settings, results recorded for "a" first, the result asked about, matters?]
  const table: [string, OutlierSettings, string, boolean, boolean][] = [
    ["a success, nothing on record", S, "", true, false],
    ["a success after many successes", S, "KKK", true, false],
    ["a failure, nothing on record", S, "", false, true],
    ["a success after a failure", S, "E", true, true],
    ["a success while ejected", S, "EEE", true, true],
    ["a failure with detection off", { ...S, consecutiveErrors: 0 }, "", false, false],
  ];
  for (const [name, settings, before, ok, want] of table) {
    test(`${name} -> ${want}`, () => {
      const { d, events } = detector(settings);
      for (const r of before) d.record("a", r === "K", "5xx", 0);
      assert.equal(d.matters("a", ok), want);
      if (!want) {
        // What is skipped must be a no-op: recording it changes nothing.
        const ejected = d.isEjected("a");
        const seen = events.length;
        for (let i = 0; i < 5; i++) d.record("a", ok, "5xx", 0);
        assert.equal(d.isEjected("a"), ejected);
        assert.equal(events.length, seen);
      }
    });
  }
});
