import assert from "node:assert/strict";
import { test } from "node:test";
import { Reconciler } from "../../../src/control/reconciler.ts";
import type { Dataplane, DataplaneStats } from "../../../src/dataplane/types.ts";
import type { DesiredState } from "../../../src/model/desired.ts";

// A dataplane that records what it is given: the reconciler's only contract with
// dataplanes is apply(), so recording it is the whole observable behaviour.
class RecordingDataplane implements Dataplane {
  readonly name: string;
  readonly applied: number[] = [];
  inFlight = 0;
  maxInFlight = 0;
  delayMs: number;
  fail = false;
  constructor(name: string, delayMs = 0) {
    this.name = name;
    this.delayMs = delayMs;
  }
  async apply(desired: DesiredState): Promise<void> {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise((r) => setTimeout(r, this.delayMs));
    this.inFlight--;
    if (this.fail) throw new Error("port in use");
    this.applied.push(desired.version);
  }
  async stop(): Promise<void> {}
  stats(): DataplaneStats {
    return { frontends: {} };
  }
}

/** A desired state whose only content is a number the test controls. */
function stateOf(value: { n: number }) {
  return (version: number): DesiredState => ({
    version,
    frontends: { f: { n: value.n } as unknown as DesiredState["frontends"][string] },
  });
}

test("nothing is applied before open(); open applies once with version 1 to every dataplane", async () => {
  const a = new RecordingDataplane("a");
  const b = new RecordingDataplane("b");
  const input = { n: 1 };
  const r = new Reconciler({ compute: stateOf(input), dataplanes: [a, b] });
  r.trigger("probe");
  r.trigger("probe");
  await new Promise((res) => setTimeout(res, 20));
  assert.deepEqual(a.applied, []);
  const errors = await r.open();
  assert.deepEqual(errors, []);
  assert.deepEqual(a.applied, [1]);
  assert.deepEqual(b.applied, [1]);
  assert.equal(r.current?.version, 1);
});

test("an unchanged desired state is not applied again; a change bumps the version", async () => {
  const dp = new RecordingDataplane("a");
  const input = { n: 1 };
  const r = new Reconciler({ compute: stateOf(input), dataplanes: [dp] });
  await r.open();
  r.trigger("nothing really");
  await r.settled();
  assert.deepEqual(dp.applied, [1]);
  input.n = 2;
  r.trigger("transition");
  await r.settled();
  assert.deepEqual(dp.applied, [1, 2]);
});

test("a burst of triggers coalesces and applies never overlap", async () => {
  const dp = new RecordingDataplane("slow", 15);
  const input = { n: 0 };
  const r = new Reconciler({ compute: stateOf(input), dataplanes: [dp] });
  await r.open();
  for (let i = 1; i <= 50; i++) {
    input.n = i;
    r.trigger(`event ${i}`);
    if (i % 10 === 0) await new Promise((res) => setTimeout(res, 5));
  }
  await r.settled();
  assert.equal(dp.maxInFlight, 1);
  assert.ok(dp.applied.length <= 7, `applied ${dp.applied.length} times for 50 triggers`);
  // Versions are consecutive and the last state applied is the final input.
  assert.deepEqual(
    dp.applied,
    dp.applied.map((_, i) => i + 1),
  );
  assert.equal((r.current!.frontends.f as unknown as { n: number }).n, 50);
});

test("a failing dataplane is reported and does not stop the others or later applies", async () => {
  const good = new RecordingDataplane("good");
  const bad = new RecordingDataplane("bad");
  bad.fail = true;
  const seen: Error[][] = [];
  const input = { n: 1 };
  const r = new Reconciler({
    compute: stateOf(input),
    dataplanes: [good, bad],
    onApplied: (_n, _p, errors) => seen.push(errors),
  });
  const errors = await r.open();
  assert.equal(errors.length, 1);
  assert.match(errors[0].message, /port in use/);
  bad.fail = false;
  input.n = 2;
  r.trigger("retry");
  await r.settled();
  assert.deepEqual(good.applied, [1, 2]);
  assert.deepEqual(bad.applied, [2]);
  assert.deepEqual(
    seen.map((e) => e.length),
    [1, 0],
  );
});

test("after close() triggers are ignored", async () => {
  const dp = new RecordingDataplane("a");
  const input = { n: 1 };
  const r = new Reconciler({ compute: stateOf(input), dataplanes: [dp] });
  await r.open();
  await r.close();
  input.n = 2;
  r.trigger("late");
  await r.settled();
  assert.deepEqual(dp.applied, [1]);
});

test("a compute that throws leaves the last applied state in place", async () => {
  const dp = new RecordingDataplane("a");
  let broken = false;
  const r = new Reconciler({
    compute: (v) => {
      if (broken) throw new Error("bug");
      return stateOf({ n: v })(v);
    },
    dataplanes: [dp],
  });
  await r.open();
  broken = true;
  r.trigger("x");
  await r.settled();
  assert.deepEqual(dp.applied, [1]);
  assert.equal(r.current?.version, 1);
});

test("an onApplied that throws does not stop later reconciles", async () => {
  const dp = new RecordingDataplane("a");
  const input = { n: 1 };
  const r = new Reconciler({
    compute: stateOf(input),
    dataplanes: [dp],
    onApplied: () => {
      throw new Error("reporting bug");
    },
  });
  await r.open();
  input.n = 2;
  r.trigger("next");
  await r.settled();
  assert.deepEqual(dp.applied, [1, 2]);
});
